//! The datastore's error type.
//!
//! Owns the mapping from database driver failures to the typed errors an API
//! layer turns into HTTP codes. Must not carry secrets: messages name the
//! endpoint only through its redacted form, and driver errors are passed through
//! only when they come from the database server itself (authentication,
//! permissions), which never echo a password.

use crate::kv::KeyValue;
use crate::kv::Revision;

/// Everything the datastore can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DatastoreError {
    /// A create found the key already present.
    #[error("key {key:?} already exists")]
    KeyExists { key: String },

    /// A compare-and-swap found another modification revision than expected.
    #[error(
        "key {key:?} was modified concurrently: expected mod revision {expected}, current is {}",
        current.mod_revision
    )]
    Conflict {
        key: String,
        expected: Revision,
        /// The key as it is now, so a caller can retry without another read.
        current: Box<KeyValue>,
    },

    /// The key does not exist (at the requested revision).
    #[error("key {key:?} not found")]
    NotFound { key: String },

    /// The requested revision is older than the compacted history.
    #[error(
        "revision {requested} has been compacted; the oldest available revision is {}",
        compact_revision + 1
    )]
    Compacted {
        requested: Revision,
        compact_revision: Revision,
    },

    /// The requested revision is newer than any the store has written.
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },

    /// A write named a lease that does not exist (never granted, expired or revoked).
    #[error("lease {lease} not found (expired or revoked)")]
    LeaseNotFound { lease: i64 },

    /// The database could not be reached, or did not answer in time. The
    /// operation may or may not have been applied; it was not acknowledged.
    #[error("datastore {endpoint} unavailable: {reason}")]
    Unavailable { endpoint: String, reason: String },

    /// The database server refused us: wrong credentials, missing privileges.
    /// The message is the server's own.
    #[error("datastore {endpoint} refused the connection: {message}")]
    Refused { endpoint: String, message: String },

    /// A request the store cannot serve as asked (empty key, oversized value, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// A file named by the datastore options cannot be used.
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// Schema migration failed; the message names the step.
    #[error("datastore {endpoint}: schema migration failed: {message}")]
    Migration { endpoint: String, message: String },

    /// The store is closed.
    #[error("datastore is shut down")]
    Closed,

    /// An unexpected database error. Carries the database's message.
    #[error("datastore {endpoint}: {message}")]
    Internal { endpoint: String, message: String },
}

impl DatastoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Closed)
    }

    /// Maps a driver error, naming the endpoint by its redacted form.
    pub(crate) fn from_sqlx(endpoint: &str, err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let endpoint = endpoint.to_owned();
        match err {
            E::Io(e) => Self::Unavailable {
                endpoint,
                reason: e.to_string(),
            },
            E::Tls(e) => Self::Refused {
                endpoint,
                message: format!("TLS: {e}"),
            },
            E::PoolTimedOut => Self::Unavailable {
                endpoint,
                reason: "timed out waiting for a database connection".into(),
            },
            E::PoolClosed | E::WorkerCrashed => Self::Closed,
            E::Protocol(m) => Self::Unavailable {
                endpoint,
                reason: format!("protocol error: {m}"),
            },
            E::Database(db) => {
                let code = code_of(db.as_ref());
                let message = db.message().to_owned();
                if is_connection_loss_code(&code) {
                    Self::Unavailable {
                        endpoint,
                        reason: message,
                    }
                } else if is_refusal_code(&code) {
                    Self::Refused { endpoint, message }
                } else {
                    Self::Internal {
                        endpoint,
                        message: format!("{message} (code {code})"),
                    }
                }
            }
            other => Self::Internal {
                endpoint,
                message: other.to_string(),
            },
        }
    }
}

/// Whether a driver error means the connection is gone (the database went
/// away, restarted, or did not answer).
pub(crate) fn is_connection_loss(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => is_connection_loss_code(&code_of(db.as_ref())),
        _ => false,
    }
}

/// The error's code: MySQL's numeric code (its SQLSTATEs are coarse: an
/// unknown database is 42000, like a syntax error), else the SQLSTATE.
fn code_of(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        Some(my) => my.number().to_string(),
        None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
    }
}

/// Codes that mean "the server went away or is shutting down": PostgreSQL
/// SQLSTATEs, MySQL error numbers, SQLite result codes.
fn is_connection_loss_code(code: &str) -> bool {
    // PostgreSQL: class 08 connection exceptions, 57P01-57P03 shutdown / cannot connect now.
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03")
        // MySQL / MariaDB: shutdown in progress, connection killed, server gone / lost.
        || matches!(code, "1053" | "1077" | "1927" | "2006" | "2013")
        // SQLite: busy or locked beyond the busy timeout.
        || matches!(code, "5" | "6" | "517")
}

/// Codes that mean "the server rejects these credentials or this user".
fn is_refusal_code(code: &str) -> bool {
    // PostgreSQL: class 28 invalid authorization, 42501 insufficient privilege, 3D000 no database.
    code.starts_with("28")
        || matches!(code, "42501" | "3D000")
        // MySQL: access denied (1044, 1045, 1142, 1698), unknown database 1049.
        || matches!(code, "1044" | "1045" | "1049" | "1142" | "1698")
}
