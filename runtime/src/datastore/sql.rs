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

use super::endpoint::Backend;

/// A rendered statement: cheap to clone, and a stable string for the driver's
/// prepared-statement cache.
pub(crate) type Sql = Arc<str>;

/// Columns of a key-value version, in the order [`super::store`] reads them.
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
    pub set_revision: Sql,
    pub current_revision: Sql,
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
    /// PostgreSQL only: wakes other instances' watchers at commit.
    pub notify: Option<Sql>,
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
            set_revision: r("UPDATE edge_meta SET value = ? WHERE name = 'revision'"),
            current_revision: r("SELECT value FROM edge_meta WHERE name = 'revision'"),
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
            notify: (backend == Backend::Postgres)
                .then(|| r(&format!("SELECT pg_notify('{PG_CHANNEL}', ?)"))),
            ping: r("SELECT 1"),
        }
    }

    /// `SELECT … current versions … WHERE k.name IN (?, …)` for `n` keys.
    pub(crate) fn load_current(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!(
                "SELECT {KV_COLUMNS} FROM edge_kv k \
                 JOIN edge_log l ON l.revision = k.mod_revision WHERE k.name IN ({})",
                placeholders(n, 1)
            ),
        )
    }

    /// Keys attached to any of `n` leases.
    pub(crate) fn lease_keys(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!("{}({})", self.lease_keys_prefix, placeholders(n, 1)),
        )
    }

    /// Which of `n` lease ids exist.
    pub(crate) fn existing_leases(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!(
                "SELECT id FROM edge_lease WHERE id IN ({})",
                placeholders(n, 1)
            ),
        )
    }

    pub(crate) fn delete_leases(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!(
                "DELETE FROM edge_lease WHERE id IN ({})",
                placeholders(n, 1)
            ),
        )
    }

    /// Multi-row insert of `n` log rows.
    pub(crate) fn insert_log(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!(
                "INSERT INTO edge_log (revision, name, deleted, create_revision, \
                 prev_revision, version, lease, value) VALUES {}",
                placeholders(n, 8)
            ),
        )
    }

    /// Multi-row upsert of `n` current-version pointers.
    pub(crate) fn upsert_kv(&self, n: usize) -> Sql {
        let conflict = match self.backend {
            Backend::Mysql => {
                "ON DUPLICATE KEY UPDATE mod_revision = VALUES(mod_revision), lease = VALUES(lease)"
            }
            Backend::Postgres | Backend::Sqlite => {
                "ON CONFLICT (name) DO UPDATE \
                 SET mod_revision = excluded.mod_revision, lease = excluded.lease"
            }
        };
        render(
            self.backend,
            &format!(
                "INSERT INTO edge_kv (name, mod_revision, lease) VALUES {} {conflict}",
                placeholders(n, 3)
            ),
        )
    }

    pub(crate) fn delete_kv(&self, n: usize) -> Sql {
        render(
            self.backend,
            &format!("DELETE FROM edge_kv WHERE name IN ({})", placeholders(n, 1)),
        )
    }
}

/// Builds a query from a rendered statement.
pub(crate) fn query(sql: &Sql) -> Query<'static, sqlx::Any, AnyArguments> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

/// `n` groups of `width` placeholders: `?` for one, `(?, ?)` for several.
fn placeholders(n: usize, width: usize) -> String {
    let group = if width == 1 {
        "?".to_owned()
    } else {
        format!("({})", vec!["?"; width].join(", "))
    };
    vec![group; n].join(", ")
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
    fn postgres_placeholders_are_numbered() {
        let s = Statements::new(Backend::Postgres);
        assert!(
            s.list_current.contains("k.name >= $1 AND k.name < $2")
                && s.list_current.contains("LIMIT $3")
        );
        assert!(
            s.insert_log(2)
                .ends_with("($9, $10, $11, $12, $13, $14, $15, $16)")
        );
        let m = Statements::new(Backend::Mysql);
        assert!(m.upsert_kv(1).contains("(?, ?, ?) ON DUPLICATE KEY"));
        assert!(m.lock_revision.ends_with("FOR UPDATE"));
        assert!(
            !Statements::new(Backend::Sqlite)
                .lock_revision
                .contains("FOR UPDATE")
        );
    }
}
