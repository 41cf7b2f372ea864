//! The kit's one error type.
//!
//! Owns: `TestkitError`, whose variants carry what a test author needs to act
//! (the missing package, the command and its output, the server log tail).
//! Must not: decide policy (fail or skip); that is `policy`'s job.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use crate::Engine;

/// Why the kit could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A server or client binary is not installed.
    #[error("{what} not found (looked in {looked_in}); install the Debian package(s) `{packages}`")]
    MissingBinary {
        what: &'static str,
        looked_in: String,
        packages: &'static str,
    },

    /// Running as root, but there is no unprivileged account to run the server as.
    #[error("no unprivileged user to run {engine} as (tried `{tried}` and `nobody`); create one")]
    NoUnprivilegedUser { engine: Engine, tried: &'static str },

    /// A file system operation on the kit's own directories failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A helper program could not be started at all.
    #[error("could not run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    /// A helper program (initdb, psql, mariadb, ...) ran and failed.
    #[error("`{command}` failed ({status}):\n{output}")]
    CommandFailed {
        command: String,
        status: ExitStatus,
        output: String,
    },

    /// The server process ended before it accepted connections.
    #[error(
        "{engine} on 127.0.0.1:{port} exited during start-up ({status}); last lines of {}:\n{tail}",
        log.display()
    )]
    ServerExited {
        engine: Engine,
        port: u16,
        status: String,
        log: PathBuf,
        tail: String,
    },

    /// The server runs but did not accept an authenticated connection in time.
    #[error(
        "{engine} on 127.0.0.1:{port} did not accept an authenticated connection within {timeout:?}; last lines of {}:\n{tail}",
        log.display()
    )]
    NotReady {
        engine: Engine,
        port: u16,
        timeout: Duration,
        log: PathBuf,
        tail: String,
    },

    /// `create_database` only accepts plain identifiers, so no quoting is needed.
    #[error("invalid database name {name:?}: use 1 to 63 characters from [A-Za-z0-9_]")]
    InvalidDatabaseName { name: String },

    /// The operation needs a running server.
    #[error("{engine} on 127.0.0.1:{port} is not running (stopped or killed); call start() first")]
    NotRunning { engine: Engine, port: u16 },

    /// `start()` was called on a running server.
    #[error("{engine} on 127.0.0.1:{port} is already running")]
    AlreadyRunning { engine: Engine, port: u16 },
}

impl TestkitError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
