//! One private database server: its directory, port, process and lifecycle
//! (start, stop, kill, restart on the same port and data), readiness, client
//! access, and the per-test-binary shared instances.
//!
//! Owns: `DbServer`, `ServerOptions`, `Engine` and the `Flavor` seam through
//! which `postgres` and `mariadb` supply their specifics. Must not: bind
//! anything but 127.0.0.1, use a fixed port, run a server as root, or leave a
//! server running after its handle is dropped or the process has exited.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::{Pid, User};

use crate::proc;
use crate::{TestkitError, free_port, is_root, policy, registry};

/// The account every instance has: allowed to log in over TCP with [`PASSWORD`]
/// and to create databases.
pub const USER: &str = "edge";
/// The password of [`USER`]; authentication is enforced (SCRAM on PostgreSQL,
/// `mysql_native_password` on MariaDB).
pub const PASSWORD: &str = "edge-test-pw";
/// Servers listen on this address only.
pub const HOST: &str = "127.0.0.1";

/// How long `stop()` waits for a clean shutdown before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(50);
/// First-start attempts when another process took our free port meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// Which database server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    Postgres,
    MariaDb,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::MariaDb => "MariaDB",
        })
    }
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Postgres, Engine::MariaDb];

    /// The instance shared by all tests of this test binary, started on first
    /// use. Panics if it cannot be started (see [`policy`](crate::prerequisite_failed)).
    pub fn shared(self) -> &'static DbServer {
        match self.shared_result() {
            Ok(server) => server,
            Err(err) => policy::prerequisite_failed(&self.to_string(), err),
        }
    }

    /// Like [`shared`](Self::shared), but without root a failure is reported as
    /// `SKIPPED` and gives `None`. As root it still panics.
    pub fn shared_or_skip(self) -> Option<&'static DbServer> {
        policy::or_skip(&self.to_string(), self.shared_result())
    }

    /// A dedicated instance, stopped and deleted when the handle is dropped.
    pub fn start(self, opts: ServerOptions) -> Result<DbServer, TestkitError> {
        DbServer::start_new(self, opts)
    }

    /// Whether the server and client binaries are installed (without starting
    /// anything); the error names the packages to install.
    pub fn check_installed(self) -> Result<(), TestkitError> {
        self.flavor().map(drop)
    }

    fn shared_result(self) -> Result<&'static DbServer, &'static TestkitError> {
        static SHARED: [OnceLock<Result<DbServer, TestkitError>>; 2] =
            [OnceLock::new(), OnceLock::new()];
        let slot = &SHARED[self as usize];
        // Many tests share it: allow more connections than the defaults (100/151).
        let opts = || ServerOptions::default().with_setting("max_connections", "300");
        slot.get_or_init(|| self.start(opts())).as_ref()
    }

    /// The database that always exists (for administrative statements).
    pub fn default_db(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MariaDb => "mysql",
        }
    }

    /// The endpoint string in the product's (K3s's) format.
    pub fn url(self, port: u16, db: &str) -> String {
        match self {
            Self::Postgres => {
                format!("postgres://{USER}:{PASSWORD}@{HOST}:{port}/{db}?sslmode=disable")
            }
            Self::MariaDb => format!("mysql://{USER}:{PASSWORD}@tcp({HOST}:{port})/{db}"),
        }
    }

    /// Debian packages that provide the server and its client.
    pub(crate) fn packages(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql postgresql-contrib",
            Self::MariaDb => "mariadb-server mariadb-client",
        }
    }

    /// The account to run the server as when the tests run as root.
    fn service_user(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MariaDb => "mysql",
        }
    }

    /// Clean shutdown that keeps the data (PostgreSQL "fast", MariaDB normal).
    fn stop_signal(self) -> Signal {
        match self {
            Self::Postgres => Signal::SIGINT,
            Self::MariaDb => Signal::SIGTERM,
        }
    }

    /// Quickest shutdown when the data is about to be deleted. PostgreSQL's
    /// "immediate" mode still stops its children and frees its shared memory.
    fn exit_signal(self) -> Signal {
        match self {
            Self::Postgres => Signal::SIGQUIT,
            Self::MariaDb => Signal::SIGKILL,
        }
    }

    fn quote_ident(self, name: &str) -> String {
        match self {
            Self::Postgres => format!("\"{name}\""),
            Self::MariaDb => format!("`{name}`"),
        }
    }

    fn flavor(self) -> Result<Box<dyn Flavor>, TestkitError> {
        Ok(match self {
            Self::Postgres => Box::new(crate::postgres::Pg::find()?),
            Self::MariaDb => Box::new(crate::mariadb::Maria::find()?),
        })
    }
}

/// PostgreSQL instances: `Postgres::shared()` or `Postgres::start(opts)`.
pub struct Postgres;

impl Postgres {
    /// See [`Engine::shared`].
    pub fn shared() -> &'static DbServer {
        Engine::Postgres.shared()
    }

    /// See [`Engine::shared_or_skip`].
    pub fn shared_or_skip() -> Option<&'static DbServer> {
        Engine::Postgres.shared_or_skip()
    }

    /// See [`Engine::start`].
    pub fn start(opts: ServerOptions) -> Result<DbServer, TestkitError> {
        Engine::Postgres.start(opts)
    }
}

/// MariaDB instances: `MariaDb::shared()` or `MariaDb::start(opts)`.
pub struct MariaDb;

impl MariaDb {
    /// See [`Engine::shared`].
    pub fn shared() -> &'static DbServer {
        Engine::MariaDb.shared()
    }

    /// See [`Engine::shared_or_skip`].
    pub fn shared_or_skip() -> Option<&'static DbServer> {
        Engine::MariaDb.shared_or_skip()
    }

    /// See [`Engine::start`].
    pub fn start(opts: ServerOptions) -> Result<DbServer, TestkitError> {
        Engine::MariaDb.start(opts)
    }
}

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Flush to disk on commit. Off by default (tests); benchmarks want it on.
    /// Off still survives a server crash or `kill()`, only not an OS crash.
    pub fsync: bool,
    /// Extra settings: `-c key=value` for PostgreSQL, `--key=value` for MariaDB.
    pub settings: Vec<(String, String)>,
    /// How long a start may take until an authenticated connection works.
    pub startup_timeout: Duration,
    /// Accept TLS connections only, with these files (see [`ServerTls`]).
    pub tls: Option<ServerTls>,
}

/// Certificate files for a server that refuses connections without TLS.
///
/// [`USER`] still logs in with [`PASSWORD`] (over TLS). Every other user
/// must present a client certificate signed by `ca`: on PostgreSQL one whose
/// CN is the user name (`cert` authentication); on MariaDB as the user's
/// `REQUIRE` clause says. The files are copied into the instance directory
/// for the server's account; the originals are not touched.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// CA that signs the client certificates the server accepts.
    pub ca: PathBuf,
    /// The server's certificate (PEM); its SANs should cover [`HOST`].
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            fsync: false,
            settings: Vec::new(),
            startup_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

impl ServerOptions {
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// The unprivileged account a server runs as when the tests run as root.
pub(crate) struct RunAs {
    uid: u32,
    gid: u32,
}

/// Where and how one server runs; what a `Flavor` needs to build its commands.
pub(crate) struct Instance {
    pub(crate) dir: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) run: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) port: u16,
    pub(crate) opts: ServerOptions,
    run_as: Option<RunAs>,
}

impl Instance {
    /// A command on the server side (initdb, the server...): runs as the
    /// server's account, in the instance directory, with a clean environment.
    pub(crate) fn server_command(&self, program: &Path) -> Command {
        let mut cmd = self.client_command(program);
        if let Some(run_as) = &self.run_as {
            cmd.uid(run_as.uid).gid(run_as.gid);
        }
        cmd
    }

    /// A client command (psql, mariadb...): runs as us with a clean
    /// environment, so no `PG*`/`MYSQL*` variable of the caller leaks in.
    pub(crate) fn client_command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LC_ALL", "C")
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// Gives `path` to the server's account (when running as root).
    pub(crate) fn chown(&self, path: &Path) -> Result<(), TestkitError> {
        let Some(run_as) = &self.run_as else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(run_as.uid), Some(run_as.gid))
            .map_err(TestkitError::io("changing the owner of", path))
    }

    /// Where the server's copies of the [`ServerTls`] files live:
    /// `ca.pem`, `cert.pem`, `key.pem`.
    pub(crate) fn tls_dir(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// Copies the [`ServerTls`] files, if any, into [`Self::tls_dir`], owned
    /// by the server's account and readable by it alone (PostgreSQL refuses a
    /// key file others can read).
    fn install_tls(&self) -> Result<(), TestkitError> {
        let Some(tls) = &self.opts.tls else {
            return Ok(());
        };
        let dir = self.tls_dir();
        self.make_dir(&dir, 0o700)?;
        for (from, name) in [
            (&tls.ca, "ca.pem"),
            (&tls.cert, "cert.pem"),
            (&tls.key, "key.pem"),
        ] {
            let to = dir.join(name);
            fs::copy(from, &to).map_err(TestkitError::io("copying", from))?;
            fs::set_permissions(&to, fs::Permissions::from_mode(0o600))
                .map_err(TestkitError::io("setting permissions of", &to))?;
            self.chown(&to)?;
        }
        Ok(())
    }

    fn make_dir(&self, path: &Path, mode: u32) -> Result<(), TestkitError> {
        fs::create_dir(path).map_err(TestkitError::io("creating", path))?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(TestkitError::io("setting permissions of", path))?;
        self.chown(path)
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// What differs between PostgreSQL and MariaDB.
pub(crate) trait Flavor: Send + Sync {
    /// Fills `inst.data` (an empty directory owned by the server's account)
    /// with a new cluster in which [`USER`] logs in with [`PASSWORD`].
    fn init(&self, inst: &Instance) -> Result<(), TestkitError>;
    /// The server process, not yet spawned.
    fn server(&self, inst: &Instance) -> Command;
    /// True once the server accepts an authenticated connection.
    fn ready(&self, inst: &Instance) -> bool;
    /// A client that runs `sql` in `db` as `user`; prints result rows, one per
    /// line, tab-separated, without headers.
    fn client(&self, inst: &Instance, user: &str, password: &str, db: &str, sql: &str) -> Command;
}

/// A private PostgreSQL or MariaDB server on 127.0.0.1, with its own data
/// directory and port. Dropping it stops the server and deletes the directory;
/// so does the end of the test process (see the crate docs).
pub struct DbServer {
    id: u64,
    engine: Engine,
    flavor: Box<dyn Flavor>,
    inst: Instance,
    pid: Option<Pid>,
}

impl fmt::Debug for DbServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbServer")
            .field("engine", &self.engine)
            .field("port", &self.inst.port)
            .field("dir", &self.inst.dir)
            .field("pid", &self.pid)
            .finish()
    }
}

impl DbServer {
    fn start_new(engine: Engine, opts: ServerOptions) -> Result<Self, TestkitError> {
        let began = Instant::now();
        let flavor = engine.flavor()?;
        let run_as = if is_root() {
            Some(run_as(engine)?)
        } else {
            None
        };
        let (id, dir) = registry::create_instance_dir(match engine {
            Engine::Postgres => "pg",
            Engine::MariaDb => "mariadb",
        })?;
        let inst = Instance {
            data: dir.join("data"),
            run: dir.join("run"),
            log: dir.join("server.log"),
            dir,
            port: free_port(),
            opts,
            run_as,
        };
        // From here on, dropping `server` removes the directory.
        let mut server = Self {
            id,
            engine,
            flavor,
            inst,
            pid: None,
        };
        server.inst.make_dir(&server.inst.data, 0o700)?;
        server.inst.make_dir(&server.inst.run, 0o755)?;
        server.inst.install_tls()?;
        server.flavor.init(&server.inst)?;
        let initialized = began.elapsed();
        let mut attempt = 1;
        loop {
            match server.launch() {
                Err(TestkitError::ServerExited { tail, .. })
                    if attempt < PORT_ATTEMPTS && tail.contains("Address already in use") =>
                {
                    attempt += 1;
                    server.inst.port = free_port();
                }
                result => break result?,
            }
        }
        tracing::info!(
            "{engine} ready on {HOST}:{} in {:.1?} (init {:.1?}), dir {}",
            server.inst.port,
            began.elapsed(),
            initialized,
            server.inst.dir.display()
        );
        Ok(server)
    }

    /// Spawns the server and waits until it accepts an authenticated connection.
    fn launch(&mut self) -> Result<(), TestkitError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.inst.log)
            .map_err(TestkitError::io("opening", &self.inst.log))?;
        let log2 = log
            .try_clone()
            .map_err(TestkitError::io("opening", &self.inst.log))?;
        let mut cmd = self.flavor.server(&self.inst);
        // Own process group: a Ctrl-C in the terminal goes to the tests, not
        // to the server (which then dies with the test process).
        cmd.stdout(log).stderr(log2).process_group(0);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let child =
            proc::spawn_tied(cmd).map_err(|source| TestkitError::Spawn { program, source })?;
        let pid = proc::pid_of(&child);
        self.pid = Some(pid);
        registry::server_started(self.id, pid, self.engine.exit_signal());

        let deadline = Instant::now() + self.inst.opts.startup_timeout;
        loop {
            if let Some(status) = proc::wait_exit(pid, Duration::ZERO) {
                self.mark_stopped();
                return Err(TestkitError::ServerExited {
                    engine: self.engine,
                    port: self.inst.port,
                    status,
                    log: self.inst.log.clone(),
                    tail: self.inst.log_tail(20),
                });
            }
            if self.flavor.ready(&self.inst) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.kill();
                return Err(TestkitError::NotReady {
                    engine: self.engine,
                    port: self.inst.port,
                    timeout: self.inst.opts.startup_timeout,
                    log: self.inst.log.clone(),
                    tail: self.inst.log_tail(20),
                });
            }
            thread::sleep(READY_POLL);
        }
    }

    fn mark_stopped(&mut self) {
        self.pid = None;
        registry::server_stopped(self.id);
    }

    /// Starts the server again on the same port and data directory.
    pub fn start(&mut self) -> Result<(), TestkitError> {
        if self.pid.is_some() {
            return Err(TestkitError::AlreadyRunning {
                engine: self.engine,
                port: self.inst.port,
            });
        }
        self.launch()
    }

    /// Shuts the server down cleanly (data kept); SIGKILL after 60 s. A no-op
    /// when it is not running.
    pub fn stop(&mut self) -> Result<(), TestkitError> {
        if let Some(pid) = self.pid {
            proc::stop_server(pid, self.engine.stop_signal(), STOP_GRACE);
            self.mark_stopped();
        }
        Ok(())
    }

    /// Crashes the server: SIGKILL to it and all its processes at once.
    /// Committed data survives (in the OS page cache even with fsync off).
    pub fn kill(&mut self) -> Result<(), TestkitError> {
        if let Some(pid) = self.pid {
            let children = proc::kill_tree(pid);
            let _ = proc::wait_exit(pid, STOP_GRACE);
            // The children must be gone before a restart reuses the data
            // directory (PostgreSQL refuses while they hold its shared memory).
            proc::wait_gone(&children, Duration::from_secs(5));
            self.mark_stopped();
        }
        Ok(())
    }

    /// `stop()` then `start()`: same port, same data.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop()?;
        self.start()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn host(&self) -> &'static str {
        HOST
    }

    pub fn port(&self) -> u16 {
        self.inst.port
    }

    pub fn user(&self) -> &'static str {
        USER
    }

    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The endpoint string for database `db`, in the product's formats:
    /// `postgres://edge:PW@127.0.0.1:PORT/DB?sslmode=disable` or
    /// `mysql://edge:PW@tcp(127.0.0.1:PORT)/DB`.
    pub fn url(&self, db: &str) -> String {
        self.engine.url(self.inst.port, db)
    }

    /// The database that always exists (`postgres` or `mysql`).
    pub fn default_db(&self) -> &'static str {
        self.engine.default_db()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inst.data
    }

    /// Where the server's Unix socket lives.
    pub fn socket_dir(&self) -> &Path {
        &self.inst.run
    }

    /// The instance directory (data, socket dir, log); deleted at teardown.
    pub fn dir(&self) -> &Path {
        &self.inst.dir
    }

    /// The server's stdout/stderr, appended across restarts.
    pub fn log_path(&self) -> &Path {
        &self.inst.log
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.inst.log_tail(lines)
    }

    /// The server process (PostgreSQL's postmaster), if running.
    pub fn pid(&self) -> Option<u32> {
        self.pid.map(|pid| pid.as_raw().unsigned_abs())
    }

    /// Creates database `name` (an error if it exists). Tests rarely need this:
    /// the product creates its database when missing.
    pub fn create_database(&self, name: &str) -> Result<(), TestkitError> {
        let valid = (1..=63).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(TestkitError::InvalidDatabaseName { name: name.into() });
        }
        let sql = format!("CREATE DATABASE {}", self.engine.quote_ident(name));
        self.sql(self.default_db(), &sql).map(drop)
    }

    /// Runs `sql` in `db` as [`USER`] through the engine's client binary
    /// (psql / mariadb); returns the result rows, one per line, tab-separated.
    pub fn sql(&self, db: &str, sql: &str) -> Result<String, TestkitError> {
        self.sql_as(USER, PASSWORD, db, sql)
    }

    /// Like [`sql`](Self::sql) with other credentials; a failed login gives
    /// `CommandFailed` whose output holds the server's error message.
    pub fn sql_as(
        &self,
        user: &str,
        password: &str,
        db: &str,
        sql: &str,
    ) -> Result<String, TestkitError> {
        run(self.flavor.client(&self.inst, user, password, db, sql))
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        registry::release(self.id);
    }
}

fn run_as(engine: Engine) -> Result<RunAs, TestkitError> {
    [engine.service_user(), "nobody"]
        .into_iter()
        .find_map(|name| User::from_name(name).ok().flatten())
        .map(|user| RunAs {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })
        .ok_or(TestkitError::NoUnprivilegedUser {
            engine,
            tried: engine.service_user(),
        })
}

/// Runs a helper to completion; its trimmed stdout on success.
pub(crate) fn run(mut cmd: Command) -> Result<String, TestkitError> {
    let rendered = render(&cmd);
    let out = cmd.output().map_err(|source| TestkitError::Spawn {
        program: rendered.clone(),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(TestkitError::CommandFailed {
        command: rendered,
        status: out.status,
        output: format!("{stderr}{stdout}").trim_end().to_owned(),
    })
}

/// True when the command runs and exits 0; its output is discarded.
pub(crate) fn succeeds(mut cmd: Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Program and arguments, for error messages (never the environment, which
/// holds passwords).
fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
