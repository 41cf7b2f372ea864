//! Test harness for Edgeplane: private PostgreSQL and MariaDB servers, free
//! ports, process guards, the project's prerequisite policy, and a
//! network-namespace lab for the VIP tests ([`netns`]).
//!
//! Owns: every database server a test starts and the directories under
//! `$TMPDIR/edge-testkit-<euid>/`. Must not: use a system database service, a
//! fixed port, or anything outside that directory; leave a server running
//! after the test process ends.
//!
//! ```no_run
//! use edge_testkit::{Postgres, ServerOptions, unique_db_name};
//!
//! // One instance per test binary, started on first use:
//! let pg = Postgres::shared();
//! let url = pg.url(&unique_db_name("crud")); // the product creates the database
//!
//! // A dedicated instance, to stop, kill and restart:
//! let mut pg = Postgres::start(ServerOptions::default())?;
//! pg.kill()?;
//! pg.start()?; // same port, same data
//! # Ok::<(), edge_testkit::TestkitError>(())
//! ```
//!
//! Teardown: a dropped [`DbServer`] stops its server and deletes its
//! directory. Shared instances (and any handle still alive) are torn down the
//! same way by an `atexit` hook when the test process exits, also after a
//! failed test. If the process is killed, each server dies with it
//! (`PR_SET_PDEATHSIG`), and the next process using the kit deletes the
//! directories whose owner process is gone.
//!
//! Root: servers run as `postgres` / `mysql` (else `nobody`), never as root,
//! and a missing prerequisite fails the test ([`prerequisite_failed`]).

mod error;
mod mariadb;
pub mod netns;
mod policy;
mod postgres;
mod proc;
mod registry;
mod server;
mod support;

pub use error::TestkitError;
pub use policy::{
    SKIP_LOG_ENV, is_root, kubectl, or_skip, prerequisite_failed, require_root_or_skip, skip,
};
pub use proc::{ChildGuard, spawn_tied};
pub use registry::{remove_stale_instances, root as instances_root};
pub use server::{
    DbServer, Engine, HOST, MariaDb, PASSWORD, Postgres, ServerOptions, ServerTls, USER,
};
pub use support::{free_port, init_tracing, unique_db_name};
