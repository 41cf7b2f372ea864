//! Datastore endpoint strings, in K3s's formats, and their TLS files.
//!
//! Owns parsing and validation of `--datastore-endpoint` (plus
//! `--datastore-cafile/-certfile/-keyfile`) and turning the result into the
//! connection URLs the SQL driver takes. Every check happens here, before any
//! connection attempt, so a typo fails at start with a message naming what is
//! wrong. Must not open connections, and must never put a password in an error
//! or in `Debug`/`Display` output: the only printable form is [`Endpoint::redacted`].
//!
//! Accepted forms (as K3s documents them):
//! - `sqlite:///absolute/path/state.db` (go-sqlite3 `_…` parameters are accepted and ignored);
//! - `postgres://user:pass@host:5432/db?sslmode=…` (`postgresql://` too; `host` may
//!   also be a socket directory given as `?host=/run/postgresql`);
//! - `mysql://user:pass@tcp(host:3306)/db`, `mysql://user:pass@unix(/path.sock)/db`,
//!   `mysql://user:pass@/db` (go-sql-driver's default address `127.0.0.1:3306`).
//!
//! The database name defaults to `kubernetes`.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use url::Url;

use crate::secret::Secret;

/// The endpoint string is malformed. Raised before any connection attempt;
/// `endpoint` is the string with its password redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid datastore endpoint {endpoint:?}: {reason}")]
pub struct EndpointError {
    pub endpoint: String,
    pub reason: String,
}

/// Database name used when the endpoint names none (K3s's default).
pub const DEFAULT_DATABASE: &str = "kubernetes";

/// The SQL database family behind an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        })
    }
}

/// TLS files for the database connection (`--datastore-cafile/-certfile/-keyfile`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }
}

/// A validated datastore endpoint.
#[derive(Clone)]
pub struct Endpoint {
    target: Target,
    tls: TlsFiles,
}

#[derive(Clone)]
enum Target {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        address: Address,
        user: String,
        password: Option<Secret<String>>,
        database: String,
        /// Driver parameters, validated against [`PG_PARAMS`].
        params: Vec<(String, String)>,
    },
    Mysql {
        address: Address,
        user: String,
        password: Option<Secret<String>>,
        database: String,
        /// `ssl-mode` derived from go-sql-driver's `tls=` parameter.
        ssl_mode: Option<&'static str>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Address {
    Tcp {
        host: String,
        port: u16,
    },
    /// A Unix socket: MySQL's is a file; PostgreSQL's is a directory holding
    /// `.s.PGSQL.<port>`, so the port still matters.
    Socket {
        path: PathBuf,
        port: u16,
    },
}

/// PostgreSQL parameters passed through to the driver.
const PG_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "host",
];
const PG_SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];
/// go-sql-driver parameters that have no meaning here and are accepted silently,
/// so that endpoints copied from a K3s set-up keep working.
const MYSQL_IGNORED_PARAMS: &[&str] = &[
    "charset",
    "collation",
    "parseTime",
    "loc",
    "timeout",
    "readTimeout",
    "writeTimeout",
    "multiStatements",
    "interpolateParams",
    "maxAllowedPacket",
];

impl Endpoint {
    /// Parses an endpoint string with no TLS files.
    pub fn parse(endpoint: &str) -> Result<Self, EndpointError> {
        Self::parse_with_tls(endpoint, TlsFiles::default())
    }

    /// Parses an endpoint string and attaches the `--datastore-*file` TLS files.
    pub fn parse_with_tls(endpoint: &str, tls: TlsFiles) -> Result<Self, EndpointError> {
        let invalid = |reason: String| EndpointError {
            endpoint: redact_dsn(endpoint),
            reason,
        };
        let endpoint = endpoint.trim();
        let Some((scheme, rest)) = endpoint.split_once("://") else {
            return Err(invalid(
                "expected a DSN URI such as postgres://user:pass@host:5432/db, \
                 mysql://user:pass@tcp(host:3306)/db or sqlite:///path/state.db"
                    .into(),
            ));
        };
        let target = match scheme {
            "sqlite" => parse_sqlite(rest).map_err(invalid)?,
            "postgres" | "postgresql" => parse_postgres(endpoint, rest).map_err(invalid)?,
            "mysql" => parse_mysql(rest).map_err(invalid)?,
            "http" | "https" | "unix" | "unixs" => {
                return Err(invalid(
                    "etcd endpoints are not supported; use postgres://, mysql:// or sqlite://"
                        .into(),
                ));
            }
            other => {
                return Err(invalid(format!(
                    "unknown scheme {other:?}; expected sqlite, postgres, postgresql or mysql"
                )));
            }
        };
        if matches!(target, Target::Sqlite { .. }) && !tls.is_empty() {
            return Err(invalid(
                "--datastore-cafile/-certfile/-keyfile apply to postgres and mysql only".into(),
            ));
        }
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return Err(invalid(
                "--datastore-certfile and --datastore-keyfile must be given together".into(),
            ));
        }
        Ok(Self { target, tls })
    }

    /// The default single-server endpoint: `<data-dir>/server/db/state.db`.
    pub fn default_sqlite(data_dir: &Path) -> Self {
        Self {
            target: Target::Sqlite {
                path: data_dir.join("server").join("db").join("state.db"),
            },
            tls: TlsFiles::default(),
        }
    }

    /// Which database family this endpoint names.
    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Sqlite { .. } => Backend::Sqlite,
            Target::Postgres { .. } => Backend::Postgres,
            Target::Mysql { .. } => Backend::Mysql,
        }
    }

    /// The database name (for SQLite: the file path).
    pub fn database(&self) -> String {
        match &self.target {
            Target::Sqlite { path } => path.display().to_string(),
            Target::Postgres { database, .. } | Target::Mysql { database, .. } => database.clone(),
        }
    }

    /// The SQLite file, if this is a SQLite endpoint.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Sqlite { path } => Some(path),
            _ => None,
        }
    }

    /// The TLS files attached to this endpoint.
    pub fn tls_files(&self) -> &TlsFiles {
        &self.tls
    }

    /// The endpoint as it may be shown to a person: the password replaced by `***`.
    pub fn redacted(&self) -> String {
        match &self.target {
            Target::Sqlite { path } => format!("sqlite://{}", path.display()),
            Target::Postgres {
                address,
                user,
                password,
                database,
                ..
            } => {
                let auth = userinfo(user, password.is_some());
                match address {
                    Address::Tcp { host, port } => {
                        format!("postgres://{auth}{}:{port}/{database}", bracket(host))
                    }
                    Address::Socket { path: dir, .. } => {
                        format!("postgres://{auth}/{database}?host={}", dir.display())
                    }
                }
            }
            Target::Mysql {
                address,
                user,
                password,
                database,
                ..
            } => {
                let auth = userinfo(user, password.is_some());
                match address {
                    Address::Tcp { host, port } => {
                        format!("mysql://{auth}tcp({}:{port})/{database}", bracket(host))
                    }
                    Address::Socket { path, .. } => {
                        format!("mysql://{auth}unix({})/{database}", path.display())
                    }
                }
            }
        }
    }

    /// The driver URL for the endpoint's database. Holds the password: callers
    /// hand it to the driver and never print it.
    pub fn driver_url(&self) -> Secret<String> {
        self.url_for(true)
    }

    /// The driver URL for a server-level connection that can create the
    /// database: PostgreSQL's `postgres` maintenance database, or no database
    /// for MySQL. `None` for SQLite, which creates its file on open.
    pub fn server_url(&self) -> Option<Secret<String>> {
        match self.target {
            Target::Sqlite { .. } => None,
            _ => Some(self.url_for(false)),
        }
    }

    fn url_for(&self, with_database: bool) -> Secret<String> {
        let mut url = match &self.target {
            Target::Sqlite { path } => {
                // `mode=rwc` creates the file. Pragmas are applied per connection.
                let mut url = Url::parse("sqlite://").expect("static URL parses");
                url.set_path(&path.to_string_lossy());
                url.query_pairs_mut().append_pair("mode", "rwc");
                url
            }
            Target::Postgres {
                address,
                user,
                password,
                database,
                params,
            } => {
                let db = if with_database { database } else { "postgres" };
                let mut url = base_url("postgres", address, user, password, db);
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in params {
                        q.append_pair(k, v);
                    }
                    if let Address::Socket { path: dir, port } = address {
                        q.append_pair("host", &dir.to_string_lossy());
                        q.append_pair("port", &port.to_string());
                    }
                    // K3s: a CA file means verify-full unless sslmode was given.
                    if let Some(ca) = &self.tls.ca_file {
                        q.append_pair("sslrootcert", &ca.to_string_lossy());
                        if !params.iter().any(|(k, _)| k == "sslmode") {
                            q.append_pair("sslmode", "verify-full");
                        }
                    }
                    if let (Some(cert), Some(key)) = (&self.tls.cert_file, &self.tls.key_file) {
                        q.append_pair("sslcert", &cert.to_string_lossy());
                        q.append_pair("sslkey", &key.to_string_lossy());
                    }
                }
                url
            }
            Target::Mysql {
                address,
                user,
                password,
                database,
                ssl_mode,
            } => {
                let db = if with_database { database.as_str() } else { "" };
                let mut url = base_url("mysql", address, user, password, db);
                {
                    let mut q = url.query_pairs_mut();
                    if let Address::Socket { path, .. } = address {
                        q.append_pair("socket", &path.to_string_lossy());
                    }
                    // K3s: TLS files replace any `tls=` setting with a verifying config.
                    let mode = if self.tls.ca_file.is_some() {
                        Some("VERIFY_IDENTITY")
                    } else if self.tls.cert_file.is_some() {
                        Some("REQUIRED")
                    } else {
                        *ssl_mode
                    };
                    if let Some(mode) = mode {
                        q.append_pair("ssl-mode", mode);
                    }
                    if let Some(ca) = &self.tls.ca_file {
                        q.append_pair("ssl-ca", &ca.to_string_lossy());
                    }
                    if let (Some(cert), Some(key)) = (&self.tls.cert_file, &self.tls.key_file) {
                        q.append_pair("ssl-cert", &cert.to_string_lossy());
                        q.append_pair("ssl-key", &key.to_string_lossy());
                    }
                }
                url
            }
        };
        if url.query() == Some("") {
            url.set_query(None);
        }
        Secret::new(url.to_string())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("endpoint", &self.redacted())
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn userinfo(user: &str, has_password: bool) -> String {
    match (user.is_empty(), has_password) {
        (true, _) => String::new(),
        (false, true) => format!("{user}:***@"),
        (false, false) => format!("{user}@"),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn base_url(
    scheme: &str,
    address: &Address,
    user: &str,
    password: &Option<Secret<String>>,
    database: &str,
) -> Url {
    let host = match address {
        Address::Tcp { host, port } => format!("{}:{port}", bracket(host)),
        Address::Socket { .. } => "localhost".to_owned(),
    };
    let mut url = Url::parse(&format!("{scheme}://{host}/")).expect("validated host parses");
    // The setters percent-encode; the driver decodes.
    url.set_username(user).expect("URL has a host");
    if let Some(pw) = password {
        url.set_password(Some(pw.expose())).expect("URL has a host");
    }
    url.set_path(database);
    url
}

fn parse_sqlite(rest: &str) -> Result<Target, String> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err("missing file path: expected sqlite:///path/to/state.db".into());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "the file path {path:?} is relative; give an absolute path: sqlite:///{path}"
        ));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        // go-sqlite3 options (`_journal=WAL`, `cache=shared`, ...) are set by us.
        if !(key.starts_with('_') || key == "cache" || key == "mode") {
            return Err(format!("unknown sqlite parameter {key:?}"));
        }
    }
    Ok(Target::Sqlite {
        path: PathBuf::from(path),
    })
}

fn parse_postgres(endpoint: &str, rest: &str) -> Result<Target, String> {
    if rest.contains("@tcp(") || rest.contains("@unix(") || rest.starts_with("tcp(") {
        return Err("the tcp(host:port) / unix(path) address form is MySQL's; \
             PostgreSQL endpoints look like postgres://user:pass@host:5432/db"
            .into());
    }
    let url = Url::parse(endpoint).map_err(|e| match e {
        url::ParseError::InvalidPort => "invalid port: expected a number from 1 to 65535".into(),
        url::ParseError::EmptyHost => {
            "missing host: expected postgres://user:pass@host:5432/db".into()
        }
        other => other.to_string(),
    })?;
    let mut params = Vec::new();
    let mut socket: Option<PathBuf> = None;
    for (k, v) in url.query_pairs() {
        if !PG_PARAMS.contains(&k.as_ref()) {
            return Err(format!(
                "unknown parameter {k:?}; supported: {}",
                PG_PARAMS.join(", ")
            ));
        }
        if k == "sslmode" && !PG_SSLMODES.contains(&v.as_ref()) {
            return Err(format!(
                "sslmode {v:?} is not one of {}",
                PG_SSLMODES.join(", ")
            ));
        }
        if k == "host" {
            if !v.starts_with('/') {
                return Err("the host parameter must be an absolute socket directory".into());
            }
            socket = Some(PathBuf::from(v.as_ref()));
            continue;
        }
        params.push((k.into_owned(), v.into_owned()));
    }
    let address = match (url.host_str(), socket) {
        (_, Some(dir)) => Address::Socket {
            path: dir,
            port: url.port().unwrap_or(5432),
        },
        (Some(host), None) if !host.is_empty() => {
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            Address::Tcp {
                host,
                port: url.port().unwrap_or(5432),
            }
        }
        _ => return Err("missing host: expected postgres://user:pass@host:5432/db".into()),
    };
    if url.port() == Some(0) {
        return Err("invalid port 0".into());
    }
    let user = decode(url.username())?;
    let password = url.password().map(decode).transpose()?.map(Secret::new);
    // K3s lower-cases the database name.
    let database = match url.path().trim_start_matches('/') {
        "" => DEFAULT_DATABASE.to_owned(),
        db => decode(db)?.to_lowercase(),
    };
    check_database_name(&database)?;
    Ok(Target::Postgres {
        address,
        user: if user.is_empty() {
            "postgres".into()
        } else {
            user
        },
        password,
        database,
        params,
    })
}

fn parse_mysql(rest: &str) -> Result<Target, String> {
    // go-sql-driver DSN: [user[:password]@][net[(addr)]]/dbname[?params]
    // The credentials end at the '@' that precedes the address; a password may
    // itself contain '@'.
    let at = ["@tcp(", "@unix(", "@/"]
        .iter()
        .find_map(|marker| rest.rfind(marker));
    let (userinfo, after_at) = match at {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let (address, after_addr) = if let Some(inner) = after_at.strip_prefix("tcp(") {
        let close = inner
            .find(')')
            .ok_or("unclosed tcp( in the address: expected tcp(host:3306)")?;
        (parse_mysql_tcp(&inner[..close])?, &inner[close + 1..])
    } else if let Some(inner) = after_at.strip_prefix("unix(") {
        let close = inner
            .find(')')
            .ok_or("unclosed unix( in the address: expected unix(/path/mysqld.sock)")?;
        let path = &inner[..close];
        if !path.starts_with('/') {
            return Err("the unix( ) socket path must be absolute".into());
        }
        (
            Address::Socket {
                path: PathBuf::from(path),
                port: 0,
            },
            &inner[close + 1..],
        )
    } else if after_at.starts_with('/') {
        (
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 3306,
            },
            after_at,
        )
    } else {
        return Err("MySQL endpoints use go-sql-driver's address form: \
             mysql://user:pass@tcp(host:3306)/db or mysql://user:pass@unix(/path.sock)/db"
            .into());
    };
    let Some(db_and_query) = after_addr.strip_prefix('/') else {
        return Err("expected /dbname after the address, e.g. tcp(host:3306)/kubernetes".into());
    };
    let (db, query) = db_and_query.split_once('?').unwrap_or((db_and_query, ""));
    let database = if db.is_empty() {
        DEFAULT_DATABASE.to_owned()
    } else {
        decode(db)?
    };
    check_database_name(&database)?;
    let mut ssl_mode = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "tls" => {
                ssl_mode = Some(match v {
                    "true" => "VERIFY_IDENTITY",
                    "skip-verify" => "REQUIRED",
                    "preferred" => "PREFERRED",
                    "false" => "DISABLED",
                    other => {
                        return Err(format!(
                            "tls={other:?}: expected true, false, skip-verify or preferred \
                             (custom TLS comes from --datastore-cafile/-certfile/-keyfile)"
                        ));
                    }
                })
            }
            k if MYSQL_IGNORED_PARAMS.contains(&k) => {}
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    let (user, password) = match userinfo {
        None => ("root".to_owned(), None),
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (u.to_owned(), Some(Secret::new(p.to_owned()))),
            None => (info.to_owned(), None),
        },
    };
    Ok(Target::Mysql {
        address,
        user,
        password,
        database,
        ssl_mode,
    })
}

fn parse_mysql_tcp(addr: &str) -> Result<Address, String> {
    let (host, port) = if let Some(v6) = addr.strip_prefix('[') {
        let (h, rest) = v6.split_once(']').ok_or("unclosed [ in an IPv6 address")?;
        (h, rest.strip_prefix(':'))
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (addr, None),
        }
    };
    if host.is_empty() {
        return Err("missing host in tcp(host:port)".into());
    }
    if host.contains(':') && host.parse::<IpAddr>().is_err() {
        return Err(format!("invalid host {host:?} in tcp(host:port)"));
    }
    let port = match port {
        None => 3306,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "invalid port {p:?}: expected a number from 1 to 65535"
                ));
            }
            Ok(n) => n,
        },
    };
    Ok(Address::Tcp {
        host: host.to_owned(),
        port,
    })
}

fn decode(s: &str) -> Result<String, String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| "invalid percent-encoding".to_owned())
}

/// Database names go into `CREATE DATABASE`, so only plain identifiers pass.
fn check_database_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "database name {name:?} must be 1-63 characters of letters, digits, '_' or '-'"
        ))
    }
}

/// Best-effort redaction of an endpoint string that failed to parse: whatever
/// sits between `://user:` and the last `@` is replaced by `***`.
pub fn redact_dsn(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_owned();
    };
    let body = &s[scheme_end + 3..];
    let Some(at) = body.rfind('@') else {
        return s.to_owned();
    };
    match body[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &s[..scheme_end + 3],
            &body[..colon],
            &body[at..]
        ),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match Endpoint::parse(s) {
            Ok(e) => panic!("{s} parsed as {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn k3s_forms_parse() {
        let e = ok("postgres://edge:pw@db.example:5433/edge?sslmode=require");
        assert_eq!(e.backend(), Backend::Postgres);
        assert_eq!(e.database(), "edge");
        assert_eq!(e.redacted(), "postgres://edge:***@db.example:5433/edge");

        let e = ok("postgresql://u:p@10.0.0.5/");
        assert_eq!(e.database(), "kubernetes");
        assert_eq!(e.redacted(), "postgres://u:***@10.0.0.5:5432/kubernetes");

        let e = ok("mysql://user:secret@tcp(10.0.0.5:3307)/k3s");
        assert_eq!(e.backend(), Backend::Mysql);
        assert_eq!(e.redacted(), "mysql://user:***@tcp(10.0.0.5:3307)/k3s");

        let e = ok("mysql://user:secret@unix(/run/mysqld/mysqld.sock)/");
        assert_eq!(e.database(), "kubernetes");
        assert_eq!(
            e.redacted(),
            "mysql://user:***@unix(/run/mysqld/mysqld.sock)/kubernetes"
        );

        let e = ok("mysql://root@/kine?charset=utf8mb4&parseTime=true");
        assert_eq!(e.redacted(), "mysql://root@tcp(127.0.0.1:3306)/kine");

        let e = ok("mysql://u:p@tcp([::1]:3306)/db");
        assert_eq!(e.redacted(), "mysql://u:***@tcp([::1]:3306)/db");

        let e = ok("sqlite:///var/lib/edge/server/db/state.db?_journal=WAL&cache=shared");
        assert_eq!(e.backend(), Backend::Sqlite);
        assert_eq!(
            e.sqlite_path(),
            Some(Path::new("/var/lib/edge/server/db/state.db"))
        );
    }

    #[test]
    fn postgres_sockets_keep_their_port() {
        let e = ok("postgres://edge:pw@localhost:5433/edge?host=/run/postgresql");
        let url = e.driver_url();
        assert!(
            url.expose().contains("host=%2Frun%2Fpostgresql"),
            "{}",
            url.expose()
        );
        assert!(url.expose().contains("port=5433"), "{}", url.expose());
        assert_eq!(
            e.redacted(),
            "postgres://edge:***@/edge?host=/run/postgresql"
        );
    }

    #[test]
    fn passwords_with_reserved_characters_survive() {
        let e = ok("postgres://edge:p%40ss%2Fw%3Ard@h:5432/db");
        let url = e.driver_url();
        let parsed = Url::parse(url.expose()).expect("driver URL parses");
        assert_eq!(
            decode(parsed.password().expect("has password")).expect("decodes"),
            "p@ss/w:rd"
        );

        // go-sql-driver takes everything up to the last '@' as user:password.
        let e = ok("mysql://edge:p@ss:w@tcp(h:3306)/db");
        let url = e.driver_url();
        let parsed = Url::parse(url.expose()).expect("driver URL parses");
        assert_eq!(
            decode(parsed.password().expect("has password")).expect("decodes"),
            "p@ss:w"
        );
        assert!(!e.redacted().contains("ss:w"));
    }

    #[test]
    fn driver_urls_carry_tls_files_like_k3s() {
        let tls = TlsFiles {
            ca_file: Some("/etc/edge/db-ca.pem".into()),
            cert_file: Some("/etc/edge/db.crt".into()),
            key_file: Some("/etc/edge/db.key".into()),
        };
        let e = Endpoint::parse_with_tls("postgres://u:p@h/db", tls.clone()).expect("parses");
        let url = e.driver_url();
        assert!(
            url.expose().contains("sslmode=verify-full"),
            "{}",
            url.expose()
        );
        assert!(
            url.expose()
                .contains("sslrootcert=%2Fetc%2Fedge%2Fdb-ca.pem")
        );
        let e = Endpoint::parse_with_tls("postgres://u:p@h/db?sslmode=verify-ca", tls.clone())
            .expect("parses");
        assert!(!e.driver_url().expose().contains("verify-full"));

        let e =
            Endpoint::parse_with_tls("mysql://u:p@tcp(h:3306)/db?tls=false", tls).expect("parses");
        let url = e.driver_url();
        assert!(
            url.expose().contains("ssl-mode=VERIFY_IDENTITY"),
            "{}",
            url.expose()
        );
        assert!(url.expose().contains("ssl-cert="));
    }

    #[test]
    fn server_urls_drop_the_database() {
        let e = ok("postgres://u:p@h:5432/edge");
        let server = e.server_url().expect("postgres has a server URL");
        assert!(
            server.expose().ends_with("/postgres"),
            "{}",
            server.expose()
        );
        let e = ok("mysql://u:p@tcp(h:3306)/edge");
        let server = e.server_url().expect("mysql has a server URL");
        assert!(!server.expose().contains("edge?") && !server.expose().ends_with("/edge"));
        assert!(ok("sqlite:///tmp/x.db").server_url().is_none());
    }

    /// The bad-endpoint table: each malformed endpoint fails before any
    /// connection attempt, names what is wrong, and never shows the password.
    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        let table: &[(&str, &str)] = &[
            ("", "expected a DSN URI"),
            ("localhost:5432", "expected a DSN URI"),
            ("postgress://u:hunter2@h/db", "unknown scheme \"postgress\""),
            ("redis://u:hunter2@h/db", "unknown scheme \"redis\""),
            ("https://127.0.0.1:2379", "etcd endpoints are not supported"),
            ("postgres://u:hunter2@/db", "missing host"),
            ("postgres://u:hunter2@h:54x2/db", "invalid port"),
            ("postgres://u:hunter2@h:99999/db", "invalid port"),
            (
                "postgres://u:hunter2@tcp(h:5432)/db",
                "address form is MySQL's",
            ),
            (
                "postgres://u:hunter2@h/db?sslmode=sometimes",
                "sslmode \"sometimes\"",
            ),
            (
                "postgres://u:hunter2@h/db?sslmod=require",
                "unknown parameter \"sslmod\"",
            ),
            ("postgres://u:hunter2@h/drop;table", "database name"),
            (
                "mysql://u:hunter2@h:3306/db",
                "go-sql-driver's address form",
            ),
            ("mysql://u:hunter2@tcp(h:33o6)/db", "invalid port \"33o6\""),
            ("mysql://u:hunter2@tcp(h:0)/db", "invalid port \"0\""),
            ("mysql://u:hunter2@tcp(:3306)/db", "missing host"),
            ("mysql://u:hunter2@tcp(h:3306", "unclosed tcp("),
            ("mysql://u:hunter2@tcp(h:3306)db", "expected /dbname"),
            ("mysql://u:hunter2@unix(run.sock)/db", "must be absolute"),
            ("mysql://u:hunter2@tcp(h)/db?tls=maybe", "tls=\"maybe\""),
            (
                "mysql://u:hunter2@tcp(h)/db?timout=5s",
                "unknown parameter \"timout\"",
            ),
            ("sqlite://", "missing file path"),
            ("sqlite://state.db", "is relative"),
            ("sqlite:///x.db?journal=WAL", "unknown sqlite parameter"),
        ];
        for (endpoint, expected) in table {
            let message = err(endpoint);
            assert!(
                message.contains(expected),
                "{endpoint:?}: expected {expected:?} in {message:?}"
            );
            assert!(
                !message.contains("hunter2"),
                "{endpoint:?} leaked: {message}"
            );
        }
    }

    #[test]
    fn tls_files_must_fit_the_backend() {
        let half = TlsFiles {
            cert_file: Some("/c".into()),
            ..TlsFiles::default()
        };
        let e = Endpoint::parse_with_tls("postgres://u@h/db", half).expect_err("refused");
        assert!(e.to_string().contains("given together"), "{e}");
        let ca = TlsFiles {
            ca_file: Some("/ca".into()),
            ..TlsFiles::default()
        };
        let e = Endpoint::parse_with_tls("sqlite:///x.db", ca).expect_err("refused");
        assert!(e.to_string().contains("postgres and mysql only"), "{e}");
    }

    #[test]
    fn redaction_of_unparsed_strings() {
        assert_eq!(
            redact_dsn("mysql://u:p@ss@tcp(h)/d"),
            "mysql://u:***@tcp(h)/d"
        );
        assert_eq!(redact_dsn("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_dsn("nonsense"), "nonsense");
        let dbg = format!("{:?}", ok("postgres://edge:hunter2@h/db"));
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
