//! Opening a backend: database creation, connection pools, session settings,
//! schema migrations.
//!
//! Owns everything that happens between an [`Endpoint`] and a ready
//! connection. Must not run key-value operations, and must never print a
//! connection URL (they hold the password): errors name the endpoint through
//! [`Endpoint::redacted`] only.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, ConnectOptions, Connection, SqlSafeStr};

use crate::error::DatastoreError;
use edge_config::endpoint::{Backend, Endpoint};

/// Table the migration runner records applied versions in.
const MIGRATIONS_TABLE: &str = "edge_schema_migrations";

/// Schema versions per backend. Never edit an applied migration: add one.
fn migrations(backend: Backend) -> Vec<Migration> {
    let sql: &'static str = match backend {
        Backend::Postgres => include_str!("../../migrations/postgres/0001_revisioned_log.sql"),
        Backend::Mysql => include_str!("../../migrations/mysql/0001_revisioned_log.sql"),
        Backend::Sqlite => include_str!("../../migrations/sqlite/0001_revisioned_log.sql"),
    };
    vec![Migration::new(
        1,
        Cow::Borrowed("revisioned log"),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )]
}

/// What a connection is for; sessions are set up differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Reads and maintenance, from the pool.
    Reader,
    /// The one connection that writes; see the writer module.
    Writer,
}

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub(crate) struct ConnectSettings {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

/// Makes sure the database exists (PostgreSQL, MySQL) or its directory does
/// (SQLite).
pub(crate) async fn ensure_database(
    endpoint: &Endpoint,
    settings: &ConnectSettings,
) -> Result<(), DatastoreError> {
    install_default_drivers();
    let shown = endpoint.redacted();
    match endpoint.backend() {
        Backend::Sqlite => {
            let path = endpoint.sqlite_path().expect("sqlite endpoint has a path");
            if let Some(dir) = path.parent() {
                create_private_dir(dir)?;
            }
            Ok(())
        }
        backend @ (Backend::Postgres | Backend::Mysql) => {
            let url = endpoint
                .server_url()
                .expect("server backends have a server URL");
            let options: AnyConnectOptions = url
                .expose()
                .parse()
                .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
            let mut conn = tokio::time::timeout(settings.connect_timeout, options.connect())
                .await
                .map_err(|_| DatastoreError::Unavailable {
                    endpoint: shown.clone(),
                    reason: format!("no answer within {:?}", settings.connect_timeout),
                })?
                .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
            let database = endpoint.database();
            let result = create_database(&mut conn, backend, &database).await;
            let _ = conn.close().await;
            result.map_err(|e| DatastoreError::from_sqlx(&shown, e))
        }
    }
}

async fn create_database(
    conn: &mut AnyConnection,
    backend: Backend,
    database: &str,
) -> Result<(), sqlx::Error> {
    // The name was checked to be [A-Za-z0-9_-] when the endpoint was parsed.
    match backend {
        Backend::Postgres => {
            let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(database.to_owned())
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            if !exists {
                let sql = format!("CREATE DATABASE \"{database}\"");
                match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
                    Ok(_) => tracing::info!(database, "created the datastore database"),
                    // Another server created it between our check and our create.
                    Err(sqlx::Error::Database(e))
                        if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Backend::Mysql => {
            let sql = format!("CREATE DATABASE IF NOT EXISTS `{database}`");
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
        Backend::Sqlite => {}
    }
    Ok(())
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), DatastoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| DatastoreError::File {
            what: "cannot create the datastore directory",
            path: dir.display().to_string(),
            source,
        })
}

/// Opens the read pool. The first connection is made here, so a wrong
/// password or an unreachable server fails now.
pub(crate) async fn open_pool(
    endpoint: &Endpoint,
    settings: &ConnectSettings,
) -> Result<AnyPool, DatastoreError> {
    install_default_drivers();
    let shown = endpoint.redacted();
    let backend = endpoint.backend();
    let options: AnyConnectOptions = endpoint
        .driver_url()
        .expose()
        .parse()
        .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
    let options = quiet(options);
    AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(settings.connect_timeout)
        .idle_timeout(Duration::from_secs(120))
        .test_before_acquire(true)
        .after_connect(move |conn, _| Box::pin(setup_session(conn, backend, Role::Reader)))
        .connect_with(options)
        .await
        .map_err(|e| DatastoreError::from_sqlx(&shown, e))
}

/// Opens one connection for `role`.
pub(crate) async fn connect(
    endpoint: &Endpoint,
    role: Role,
    timeout: Duration,
) -> Result<AnyConnection, DatastoreError> {
    install_default_drivers();
    let shown = endpoint.redacted();
    let options: AnyConnectOptions = endpoint
        .driver_url()
        .expose()
        .parse()
        .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
    let mut conn = tokio::time::timeout(timeout, quiet(options).connect())
        .await
        .map_err(|_| DatastoreError::Unavailable {
            endpoint: shown.clone(),
            reason: format!("no answer within {timeout:?}"),
        })?
        .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
    setup_session(&mut conn, endpoint.backend(), role)
        .await
        .map_err(|e| DatastoreError::from_sqlx(&shown, e))?;
    Ok(conn)
}

/// Statement logging off: sqlx logs statements at debug and slow ones at warn,
/// which would flood an edge device's journal under load.
fn quiet(options: AnyConnectOptions) -> AnyConnectOptions {
    options
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
}

async fn setup_session(
    conn: &mut AnyConnection,
    backend: Backend,
    role: Role,
) -> Result<(), sqlx::Error> {
    let statements: &[&'static str] = match (backend, role) {
        // WAL lets readers run beside the writer; synchronous=FULL makes every
        // acknowledged commit durable across power loss (edge boards lose power).
        (Backend::Sqlite, _) => &[
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA busy_timeout = 5000",
        ],
        // A writer that stalls inside a transaction (SIGSTOP, a hung VM) holds
        // the revision lock that every server's writes wait on; the database
        // ends such a session instead of letting it block the cluster.
        (Backend::Postgres, Role::Writer) => &["SET idle_in_transaction_session_timeout = '5s'"],
        (Backend::Mysql, Role::Writer) => &[
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET SESSION wait_timeout = 30",
            "SET SESSION innodb_lock_wait_timeout = 10",
        ],
        (Backend::Postgres | Backend::Mysql, Role::Reader) => &[],
    };
    for sql in statements {
        sqlx::raw_sql(*sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Creates or upgrades the schema, once, however many servers start together.
///
/// sqlx's runner locks with `pg_advisory_lock` on PostgreSQL; on MySQL it
/// asks `GET_LOCK(…, -1)`, which MariaDB answers at once without the lock
/// (a negative timeout is not "forever" there), so two servers starting on an
/// empty MariaDB both ran the DDL. We hold our own `GET_LOCK` with a real
/// timeout on the connection the runner uses.
pub(crate) async fn migrate(pool: &AnyPool, endpoint: &Endpoint) -> Result<(), DatastoreError> {
    let failed = |message: String| DatastoreError::Migration {
        endpoint: endpoint.redacted(),
        message,
    };
    let mut migrator = Migrator::with_migrations(migrations(endpoint.backend()));
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| DatastoreError::from_sqlx(&endpoint.redacted(), e))?;
    let mysql = endpoint.backend() == Backend::Mysql;
    if mysql {
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK('edge_schema_migration', 60)")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| failed(format!("cannot take the migration lock: {e}")))?;
        if got != Some(1) {
            return Err(failed(
                "another server held the migration lock for 60 s".into(),
            ));
        }
    }
    let result = migrator
        .run(&mut *conn)
        .await
        .map_err(|e| failed(e.to_string()));
    if mysql {
        let _ = sqlx::query("SELECT RELEASE_LOCK('edge_schema_migration')")
            .execute(&mut *conn)
            .await;
    }
    result
}
