//! PostgreSQL specifics: finding the binaries, `initdb` with a SCRAM
//! password-authenticated superuser [`USER`], the `postgres` command line,
//! readiness (`pg_isready`, then `psql -c 'select 1'`) and the `psql` client.
//! With [`crate::ServerTls`]: `ssl=on` and a `pg_hba.conf` that refuses
//! plaintext over TCP and admits users other than [`USER`] by client
//! certificate.
//!
//! Must not: manage processes or directories (`server`, `registry` do).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::{Flavor, HOST, Instance, PASSWORD, USER, run, succeeds};
use crate::{Engine, TestkitError};

const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
const TOOLS: [&str; 4] = ["initdb", "postgres", "pg_isready", "psql"];

pub(crate) struct Pg {
    bin: PathBuf,
}

impl Pg {
    /// The highest version under /usr/lib/postgresql/*/bin (Debian), else PATH.
    pub(crate) fn find() -> Result<Self, TestkitError> {
        let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(DEBIAN_ROOT)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = name
                    .split('.')
                    .map(str::parse)
                    .collect::<Result<Vec<u32>, _>>()
                    .ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = versions
            .into_iter()
            .rev()
            .map(|(_, bin)| bin)
            .chain(std::env::split_paths(&path));
        dirs.into_iter()
            .find(|dir| TOOLS.iter().all(|tool| dir.join(tool).is_file()))
            .map(|bin| Self { bin })
            .ok_or(TestkitError::MissingBinary {
                what: "PostgreSQL (initdb, postgres, pg_isready, psql)",
                looked_in: format!("{DEBIAN_ROOT}/*/bin and PATH"),
                packages: Engine::Postgres.packages(),
            })
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }
}

impl Flavor for Pg {
    fn init(&self, inst: &Instance) -> Result<(), TestkitError> {
        let pwfile = inst.dir.join("pwfile");
        fs::write(&pwfile, PASSWORD).map_err(TestkitError::io("writing", &pwfile))?;
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))
            .map_err(TestkitError::io("setting permissions of", &pwfile))?;
        inst.chown(&pwfile)?;
        let mut initdb = inst.server_command(&self.tool("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&inst.data)
            .args(["--username", USER, "--auth=scram-sha-256"])
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"])
            .arg(arg("--pwfile=", &pwfile));
        let result = run(initdb);
        let _ = fs::remove_file(&pwfile);
        result?;
        if inst.opts.tls.is_some() {
            let hba = hba_file(inst);
            fs::write(&hba, tls_only_hba()).map_err(TestkitError::io("writing", &hba))?;
            inst.chown(&hba)?;
        }
        Ok(())
    }

    fn server(&self, inst: &Instance) -> Command {
        let mut cmd = inst.server_command(&self.tool("postgres"));
        cmd.arg("-D")
            .arg(&inst.data)
            .args(["-h", HOST, "-p", &inst.port.to_string()])
            .arg("-k")
            .arg(&inst.run)
            .args([
                "-c",
                if inst.opts.fsync {
                    "fsync=on"
                } else {
                    "fsync=off"
                },
            ]);
        if inst.opts.tls.is_some() {
            let tls = inst.tls_dir();
            cmd.args(["-c", "ssl=on"])
                .arg("-c")
                .arg(arg("ssl_ca_file=", &tls.join("ca.pem")))
                .arg("-c")
                .arg(arg("ssl_cert_file=", &tls.join("cert.pem")))
                .arg("-c")
                .arg(arg("ssl_key_file=", &tls.join("key.pem")))
                .arg("-c")
                .arg(arg("hba_file=", &hba_file(inst)));
        }
        for (key, value) in &inst.opts.settings {
            cmd.arg("-c").arg(format!("{key}={value}"));
        }
        cmd
    }

    fn ready(&self, inst: &Instance) -> bool {
        let mut isready = inst.client_command(&self.tool("pg_isready"));
        isready.args(["-q", "-h", HOST, "-p", &inst.port.to_string(), "-t", "2"]);
        succeeds(isready) && succeeds(self.client(inst, USER, PASSWORD, "postgres", "select 1"))
    }

    fn client(&self, inst: &Instance, user: &str, password: &str, db: &str, sql: &str) -> Command {
        let mut psql = inst.client_command(&self.tool("psql"));
        psql.env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .args(["--no-psqlrc", "--quiet", "--no-align", "--tuples-only"])
            .args(["--field-separator=\t", "--set=ON_ERROR_STOP=1"])
            .args([
                "-h",
                HOST,
                "-p",
                &inst.port.to_string(),
                "-U",
                user,
                "-d",
                db,
                "-c",
                sql,
            ]);
        psql
    }
}

fn hba_file(inst: &Instance) -> PathBuf {
    inst.dir.join("pg_hba.conf")
}

/// Client authentication of a TLS-only server: [`USER`] with its password,
/// every other user with a client certificate whose CN is its name, nothing
/// without TLS over TCP.
fn tls_only_hba() -> String {
    format!(
        "local all all scram-sha-256\n\
         hostssl all {USER} {HOST}/32 scram-sha-256\n\
         hostssl all all {HOST}/32 cert\n\
         host all all 0.0.0.0/0 reject\n"
    )
}

/// Frees the System V shared memory segment a killed postmaster leaves behind
/// (56 bytes, but `kernel.shmmni` caps their number), if `data`'s
/// `postmaster.pid` names one that still exists. Backends of the dead
/// postmaster may still be attached for a moment (they notice its death on
/// their own): `IPC_RMID` then takes the key at once and frees the segment
/// when the last of them detaches, so nothing waits on them.
/// For stale instances only: a restart on the same data directory frees it
/// itself.
pub(crate) fn remove_orphaned_shm(data: &Path) {
    let Ok(pidfile) = fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    // Line 7: "<key> <shmid>", both decimal.
    let Some(ids) = pidfile.lines().nth(6) else {
        return;
    };
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let Ok(segments) = fs::read_to_string("/proc/sysvipc/shm") else {
        return;
    };
    // Columns: key shmid perms size cpid lpid nattch ...
    let orphaned = ids.len() == 2
        && segments.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 6 && cols[..2] == ids[..]
        });
    if orphaned {
        let mut ipcrm = Command::new("ipcrm");
        ipcrm.args(["-m", ids[1]]);
        if let Err(err) = run(ipcrm) {
            tracing::warn!(
                "could not free PostgreSQL shared memory of {}: {err}",
                data.display()
            );
        }
    }
}

fn arg(flag: &str, path: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from(flag);
    arg.push(path);
    arg
}

impl crate::server::DbServer {
    /// Crashes PostgreSQL the way `kill -9 <postmaster pid>` does: SIGKILL to
    /// the postmaster alone, nothing to its backends and helpers, which notice
    /// the postmaster is gone and end by themselves. Returns once they have,
    /// with the server marked stopped, so [`start`](Self::start) recovers the
    /// same data directory on the same port (it refuses while an old process
    /// still holds the shared memory). Children still alive after `grace` get
    /// SIGKILL too (with a warning), so the restart is never blocked.
    ///
    /// The postmaster is frozen (SIGSTOP) while its children are listed, so it
    /// cannot fork one that the list misses.
    pub fn kill_postmaster(&mut self, grace: std::time::Duration) -> Result<(), TestkitError> {
        use nix::sys::signal::Signal;
        use nix::unistd::Pid;

        use crate::proc::{self, ProcId};

        let Some(raw) = self.pid() else {
            return Err(TestkitError::NotRunning {
                engine: self.engine(),
                port: self.port(),
            });
        };
        let pid = Pid::from_raw(i32::try_from(raw).expect("pids fit in i32"));
        proc::signal(pid, Signal::SIGSTOP);
        let children: Vec<ProcId> = children_of(pid)
            .into_iter()
            .filter_map(ProcId::of)
            .collect();
        proc::signal(pid, Signal::SIGKILL);
        if !proc::wait_gone(&children, grace) {
            let left: Vec<ProcId> = children.into_iter().filter(|c| c.is_alive()).collect();
            tracing::warn!(
                "{} PostgreSQL process(es) of {} outlived their postmaster by {grace:?}; killing them",
                left.len(),
                self.data_dir().display()
            );
            for child in &left {
                proc::signal(Pid::from_raw(child.pid), Signal::SIGKILL);
            }
            proc::wait_gone(&left, std::time::Duration::from_secs(10));
        }
        // Reaps the postmaster (a zombie by now; its children were
        // reparented, so none is found again) and marks the server stopped.
        self.kill()
    }
}

/// The pids whose parent is `pid`, from `/proc/<n>/stat` (field 4).
fn children_of(pid: nix::unistd::Pid) -> Vec<i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&n| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{n}/stat")) else {
                return false;
            };
            // After the command name, which may hold spaces and parentheses:
            // state, then ppid.
            stat.rfind(')')
                .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<i32>().ok())
                == Some(pid.as_raw())
        })
        .collect()
}
