//! MariaDB specifics: finding the binaries, `mariadb-install-db` plus an init
//! file that creates [`USER`] with a password (`IDENTIFIED BY`), the `mariadbd`
//! command line, readiness (`mariadb-admin ping`, then `select 1`) and the
//! `mariadb` client. With [`crate::ServerTls`]: the server's certificate
//! files and `require_secure_transport`; the harness's own clients use TLS.
//!
//! Must not: manage processes or directories (`server`, `registry` do).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::{Flavor, HOST, Instance, PASSWORD, USER, run, succeeds};
use crate::support::find_program;
use crate::{Engine, TestkitError};

pub(crate) struct Maria {
    server: PathBuf,
    install: PathBuf,
    client: PathBuf,
    admin: PathBuf,
}

impl Maria {
    pub(crate) fn find() -> Result<Self, TestkitError> {
        let find = |names: &[&str], what: &'static str| {
            find_program(names).ok_or(TestkitError::MissingBinary {
                what,
                looked_in: "PATH, /usr/sbin, /usr/bin".into(),
                packages: Engine::MariaDb.packages(),
            })
        };
        Ok(Self {
            server: find(&["mariadbd", "mysqld"], "mariadbd (or mysqld)")?,
            install: find(
                &["mariadb-install-db", "mysql_install_db"],
                "mariadb-install-db (or mysql_install_db)",
            )?,
            client: find(&["mariadb", "mysql"], "the mariadb (or mysql) client")?,
            admin: find(
                &["mariadb-admin", "mysqladmin"],
                "mariadb-admin (or mysqladmin)",
            )?,
        })
    }

    fn init_file(inst: &Instance) -> PathBuf {
        inst.dir.join("init.sql")
    }

    fn tcp_client(&self, inst: &Instance, program: &Path, user: &str, password: &str) -> Command {
        let mut cmd = inst.client_command(program);
        cmd.env("MYSQL_PWD", password)
            .args(["--no-defaults", "--protocol=TCP", "--connect-timeout=5"])
            .args(["-h", HOST, "-P", &inst.port.to_string(), "-u", user]);
        if inst.opts.tls.is_some() {
            // The harness's own client encrypts without checking the
            // server's certificate; the product's connections are what the
            // tests verify.
            cmd.arg("--ssl");
        }
        cmd
    }
}

/// A private temporary directory (the socket directory): concurrent servers
/// sharing /tmp were seen to lose each other's temporary tables.
fn tmpdir(inst: &Instance) -> String {
    format!("--tmpdir={}", inst.run.display())
}

/// Run at every server start (idempotent): the test account, and no
/// password-less root over TCP or the socket.
fn init_sql() -> String {
    format!(
        "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
         GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;\n\
         DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';\n\
         ALTER USER 'root'@'localhost' IDENTIFIED BY '{PASSWORD}';\n"
    )
}

impl Flavor for Maria {
    fn init(&self, inst: &Instance) -> Result<(), TestkitError> {
        let mut install = inst.server_command(&self.install);
        install
            // --no-defaults must come first.
            .args(["--no-defaults", "--auth-root-authentication-method=normal"])
            .args(["--skip-test-db", "--skip-name-resolve"])
            .arg(format!("--datadir={}", inst.data.display()))
            // Passed on to `mariadbd --bootstrap`.
            .arg(tmpdir(inst));
        run(install)?;
        let init_file = Self::init_file(inst);
        fs::write(&init_file, init_sql()).map_err(TestkitError::io("writing", &init_file))?;
        inst.chown(&init_file)
    }

    fn server(&self, inst: &Instance) -> Command {
        let mut cmd = inst.server_command(&self.server);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", inst.data.display()))
            .arg(format!("--port={}", inst.port))
            .arg(format!("--bind-address={HOST}"))
            .arg(format!(
                "--socket={}",
                inst.run.join("mariadb.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                inst.run.join("mariadbd.pid").display()
            ))
            .arg(format!("--init-file={}", Self::init_file(inst).display()))
            .arg(tmpdir(inst))
            .arg("--skip-name-resolve");
        if !inst.opts.fsync {
            // Write the log at commit, flush it once a second: survives a
            // server crash, not an OS crash (like PostgreSQL's fsync=off).
            cmd.arg("--innodb-flush-log-at-trx-commit=2");
        }
        if inst.opts.tls.is_some() {
            let tls = inst.tls_dir();
            cmd.arg(format!("--ssl-ca={}", tls.join("ca.pem").display()))
                .arg(format!("--ssl-cert={}", tls.join("cert.pem").display()))
                .arg(format!("--ssl-key={}", tls.join("key.pem").display()))
                .arg("--require-secure-transport=ON");
        }
        for (key, value) in &inst.opts.settings {
            cmd.arg(format!("--{key}={value}"));
        }
        cmd
    }

    fn ready(&self, inst: &Instance) -> bool {
        let mut ping = self.tcp_client(inst, &self.admin, USER, PASSWORD);
        ping.arg("ping");
        succeeds(ping) && succeeds(self.client(inst, USER, PASSWORD, "mysql", "select 1"))
    }

    fn client(&self, inst: &Instance, user: &str, password: &str, db: &str, sql: &str) -> Command {
        let mut cmd = self.tcp_client(inst, &self.client, user, password);
        cmd.args(["--batch", "--skip-column-names", "-D", db, "-e", sql]);
        cmd
    }
}
