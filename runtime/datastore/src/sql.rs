//! SQL text for each backend, and the few statements built at run time.
//!
//! Owns every SQL string the datastore sends. Statements are written once with
//! `?` placeholders and rendered per backend (`$1, $2, …` for PostgreSQL);
//! where the dialects differ (row locks, upserts, the clock) the difference is
//! spelled out here and nowhere else. Must not execute anything.

use std::sync::Arc;

use sqlx::AssertSqlSafe;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use crate::kv::Revision;
use crate::plan::LogRow;
use edge_config::endpoint::Backend;

/// A rendered statement: cheap to clone, and a stable string for the driver's
/// prepared-statement cache.
pub(crate) type Sql = Arc<str>;

/// Columns of a key-value version, in the order the store reads them.
pub(crate) const KV_COLUMNS: &str =
    "l.revision, l.name, l.create_revision, l.version, l.lease, l.value";

/// Every fixed statement, rendered for one backend.
#[derive(Debug)]
pub(crate) struct Statements {
    pub backend: Backend,
    /// Starts a write transaction.
    pub begin_write: Sql,
    pub commit: Sql,
    pub rollback: Sql,
    /// Reads the revision counter and locks it until commit.
    pub lock_revision: Sql,
    /// `(revision, compact_revision)`.
    pub revisions: Sql,
    /// Current version of one key, with the current revision, in one snapshot.
    pub get_current: Sql,
    /// Version of one key at a revision (the newest row at or before it).
    pub get_at: Sql,
    /// Current versions in a range, with the current revision, in one snapshot.
    pub list_current: Sql,
    /// Versions in a range as of a revision.
    pub list_at: Sql,
    pub count_current: Sql,
    /// Log rows after a revision, joined with the versions they replaced.
    pub poll: Sql,
    /// Like `poll`, restricted to a key range and an upper revision.
    pub replay: Sql,
    pub lease_keys_prefix: &'static str,
    pub lease_grant: Sql,
    pub lease_keepalive: Sql,
    pub lease_ttl: Sql,
    pub lease_expired: Sql,
    /// Raises the logical compaction point: reads below it fail from now on.
    pub set_compact_revision: Sql,
    /// How far rows below the compaction point have actually been deleted.
    pub compacted: Sql,
    pub set_compacted: Sql,
    pub compact_superseded: Sql,
    pub compact_tombstones: Sql,
    pub ping: Sql,
}

/// The channel PostgreSQL instances signal new revisions on.
pub(crate) const PG_CHANNEL: &str = "edge_kv_revision";

impl Statements {
    pub(crate) fn new(backend: Backend) -> Self {
        let r = |sql: &str| render(backend, sql);
        let now_ms = match backend {
            Backend::Postgres => "(extract(epoch from clock_timestamp()) * 1000)::bigint",
            Backend::Mysql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        };
        let for_update = match backend {
            // BEGIN IMMEDIATE already holds SQLite's single write lock.
            Backend::Sqlite => "",
            Backend::Postgres | Backend::Mysql => " FOR UPDATE",
        };
        Self {
            backend,
            begin_write: r(match backend {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                Backend::Postgres => "BEGIN",
                Backend::Mysql => "START TRANSACTION",
            }),
            commit: r("COMMIT"),
            rollback: r("ROLLBACK"),
            lock_revision: r(&format!(
                "SELECT value FROM edge_meta WHERE name = 'revision'{for_update}"
            )),
            revisions: r("SELECT \
                 (SELECT value FROM edge_meta WHERE name = 'revision'), \
                 (SELECT value FROM edge_meta WHERE name = 'compact_revision')"),
            get_current: r(&format!(
                "SELECT m.value, {KV_COLUMNS} FROM edge_meta m \
                 LEFT JOIN edge_kv k ON k.name = ? \
                 LEFT JOIN edge_log l ON l.revision = k.mod_revision \
                 WHERE m.name = 'revision'"
            )),
            get_at: r(&format!(
                "SELECT {KV_COLUMNS}, l.deleted FROM edge_log l \
                 WHERE l.name = ? AND l.revision <= ? ORDER BY l.revision DESC LIMIT 1"
            )),
            // The derived table keeps one row (with NULLs) when the range is
            // empty, so the revision is always read in the same snapshot.
            list_current: r(&format!(
                "SELECT m.value, x.* FROM edge_meta m LEFT JOIN ( \
                   SELECT {KV_COLUMNS} FROM edge_kv k \
                   JOIN edge_log l ON l.revision = k.mod_revision \
                   WHERE k.name >= ? AND k.name < ? ORDER BY k.name LIMIT ? \
                 ) x ON 1 = 1 WHERE m.name = 'revision' ORDER BY x.name"
            )),
            list_at: r(&format!(
                "SELECT {KV_COLUMNS} FROM edge_log l \
                 WHERE l.name >= ? AND l.name < ? AND l.deleted = 0 \
                   AND l.revision = (SELECT MAX(o.revision) FROM edge_log o \
                                     WHERE o.name = l.name AND o.revision <= ?) \
                 ORDER BY l.name LIMIT ?"
            )),
            count_current: r("SELECT \
                 (SELECT value FROM edge_meta WHERE name = 'revision'), \
                 (SELECT COUNT(*) FROM edge_kv WHERE name >= ? AND name < ?)"),
            poll: r(&format!(
                "SELECT {KV_COLUMNS}, l.deleted, l.prev_revision, \
                   p.create_revision, p.version, p.lease, p.value \
                 FROM edge_log l LEFT JOIN edge_log p ON p.revision = l.prev_revision \
                 WHERE l.revision > ? ORDER BY l.revision LIMIT ?"
            )),
            replay: r(&format!(
                "SELECT {KV_COLUMNS}, l.deleted, l.prev_revision, \
                   p.create_revision, p.version, p.lease, p.value \
                 FROM edge_log l LEFT JOIN edge_log p ON p.revision = l.prev_revision \
                 WHERE l.revision > ? AND l.revision <= ? AND l.name >= ? AND l.name < ? \
                 ORDER BY l.revision LIMIT ?"
            )),
            lease_keys_prefix: "SELECT name FROM edge_kv WHERE lease <> 0 AND lease IN ",
            lease_grant: r(&format!(
                "INSERT INTO edge_lease (id, ttl, expires_at) VALUES (?, ?, {now_ms} + ?)"
            )),
            lease_keepalive: r(&format!(
                "UPDATE edge_lease SET expires_at = {now_ms} + ttl * 1000 WHERE id = ?"
            )),
            lease_ttl: r(&format!(
                "SELECT ttl, expires_at - {now_ms} FROM edge_lease WHERE id = ?"
            )),
            lease_expired: r(&format!(
                "SELECT id FROM edge_lease WHERE expires_at <= {now_ms} \
                 ORDER BY expires_at LIMIT 64"
            )),
            set_compact_revision: r(
                "UPDATE edge_meta SET value = ? WHERE name = 'compact_revision' AND value < ?",
            ),
            compacted: r("SELECT value FROM edge_meta WHERE name = 'compacted'"),
            set_compacted: r(
                "UPDATE edge_meta SET value = ? WHERE name = 'compacted' AND value < ?",
            ),
            // MySQL refuses a subquery on the table a DELETE targets unless it
            // is materialised, hence the derived table.
            compact_superseded: r("DELETE FROM edge_log WHERE revision IN ( \
                   SELECT prev_revision FROM ( \
                     SELECT prev_revision FROM edge_log \
                     WHERE revision > ? AND revision <= ? AND prev_revision > 0 \
                   ) s)"),
            compact_tombstones: r(
                "DELETE FROM edge_log WHERE deleted = 1 AND revision > ? AND revision <= ?",
            ),
            ping: r("SELECT 1"),
        }
    }

    /// Current versions of the named keys.
    pub(crate) fn load_current(&self, keys: &[&[u8]]) -> String {
        format!(
            "SELECT {KV_COLUMNS} FROM edge_kv k \
             JOIN edge_log l ON l.revision = k.mod_revision WHERE k.name IN ({})",
            self.bytes_list(keys)
        )
    }

    /// Keys attached to any of the leases.
    pub(crate) fn lease_keys(&self, leases: &[i64]) -> String {
        format!("{}({})", self.lease_keys_prefix, int_list(leases))
    }

    /// Which of the lease ids exist.
    pub(crate) fn existing_leases(&self, leases: &[i64]) -> String {
        format!(
            "SELECT id FROM edge_lease WHERE id IN ({})",
            int_list(leases)
        )
    }

    pub(crate) fn delete_leases(&self, leases: &[i64]) -> String {
        format!("DELETE FROM edge_lease WHERE id IN ({})", int_list(leases))
    }

    /// Multi-row insert of log rows.
    pub(crate) fn insert_log(&self, rows: &[LogRow]) -> String {
        let mut sql = String::from(
            "INSERT INTO edge_log (revision, name, deleted, create_revision, \
             prev_revision, version, lease, value) VALUES ",
        );
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "({}, {}, {}, {}, {}, {}, {}, {})",
                r.revision,
                self.bytes(r.key.as_bytes()),
                i64::from(r.deleted),
                r.create_revision,
                r.prev_revision,
                r.version,
                r.lease,
                self.bytes(&r.value)
            ));
        }
        sql
    }

    /// Multi-row upsert of current-version pointers.
    pub(crate) fn upsert_kv(&self, rows: &[(&str, Revision, i64)]) -> String {
        let conflict = match self.backend {
            Backend::Mysql => {
                "ON DUPLICATE KEY UPDATE mod_revision = VALUES(mod_revision), lease = VALUES(lease)"
            }
            Backend::Postgres | Backend::Sqlite => {
                "ON CONFLICT (name) DO UPDATE \
                 SET mod_revision = excluded.mod_revision, lease = excluded.lease"
            }
        };
        let values: Vec<String> = rows
            .iter()
            .map(|(k, rev, lease)| format!("({}, {rev}, {lease})", self.bytes(k.as_bytes())))
            .collect();
        format!(
            "INSERT INTO edge_kv (name, mod_revision, lease) VALUES {} {conflict}",
            values.join(", ")
        )
    }

    pub(crate) fn delete_kv(&self, keys: &[&[u8]]) -> String {
        format!(
            "DELETE FROM edge_kv WHERE name IN ({})",
            self.bytes_list(keys)
        )
    }

    /// Moves the revision counter, and on PostgreSQL signals the other
    /// instances (delivered at commit, in commit order).
    pub(crate) fn advance(&self, revision: Revision) -> String {
        let mut sql = format!("UPDATE edge_meta SET value = {revision} WHERE name = 'revision'");
        if self.backend == Backend::Postgres {
            sql.push_str(&format!("; SELECT pg_notify('{PG_CHANNEL}', '{revision}')"));
        }
        sql
    }

    /// A byte string as a SQL literal. Only hex digits are interpolated, so
    /// no value can change the statement's meaning.
    pub(crate) fn bytes(&self, b: &[u8]) -> String {
        match self.backend {
            Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(b)),
            Backend::Mysql | Backend::Sqlite => format!("X'{}'", hex::encode(b)),
        }
    }

    fn bytes_list(&self, keys: &[&[u8]]) -> String {
        keys.iter()
            .map(|k| self.bytes(k))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn int_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds a query from a rendered statement.
pub(crate) fn query(sql: &Sql) -> Query<'static, sqlx::Any, AnyArguments> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

/// Renders `?` placeholders for the backend. Our SQL never contains a literal `?`.
fn render(backend: Backend, sql: &str) -> Sql {
    match backend {
        Backend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out.into()
        }
        Backend::Mysql | Backend::Sqlite => sql.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_literals() {
        let s = Statements::new(Backend::Postgres);
        assert!(
            s.list_current.contains("k.name >= $1 AND k.name < $2")
                && s.list_current.contains("LIMIT $3")
        );
        assert_eq!(s.bytes(b"/a'"), "'\\x2f6127'::bytea");
        assert!(
            s.advance(9)
                .ends_with("SELECT pg_notify('edge_kv_revision', '9')")
        );
        let m = Statements::new(Backend::Mysql);
        assert_eq!(m.bytes(b""), "X''");
        assert!(m.upsert_kv(&[("/k", 7, 0)]).starts_with(
            "INSERT INTO edge_kv (name, mod_revision, lease) VALUES (X'2f6b', 7, 0) ON DUPLICATE KEY"
        ));
        assert!(m.lock_revision.ends_with("FOR UPDATE"));
        assert!(
            !Statements::new(Backend::Sqlite)
                .lock_revision
                .contains("FOR UPDATE")
        );
    }
}
