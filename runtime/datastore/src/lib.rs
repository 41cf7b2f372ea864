//! The datastore: a revisioned key-value log over SQLite, PostgreSQL or
//! MySQL/MariaDB, in the style of kine, shared by every server of a cluster.
//!
//! Owns the schema, every SQL statement, the write path, watches, leases and
//! compaction. Knows nothing of Kubernetes: keys are strings, values bytes.
//! Must not log values or connection URLs (see [`edge_config::endpoint`]).
//!
//! # The log
//!
//! Every write appends a row to `edge_log` at the next revision of one global
//! sequence: a create, an update (with the revision it replaced), or a delete
//! tombstone. `edge_kv` points at the current version of each live key, so a
//! read of the present is an index range scan, not kine's
//! `MAX(id) … GROUP BY name` over the whole history. Reads in the past (the
//! later pages of a paginated list) take, per key, the newest row at or before
//! the revision asked for.
//!
//! # Why watches are ordered and gap-free across servers
//!
//! kine takes revisions from an auto-increment column. Transactions commit in
//! another order than they took their ids, so a poller can see revision 12
//! before 11 commits; kine waits, then writes a "gap" filler row, and polls
//! every second. We take the revision from a counter row (`edge_meta`) that
//! each write transaction locks (`SELECT … FOR UPDATE`) before it reads
//! anything and holds until it commits. A transaction that takes revision
//! n + 1 can only read the counter after the one that took n has committed (or
//! rolled back, in which case n is taken again): commit order is revision
//! order and the sequence has no holes. A poller that reads `revision > last`
//! in order therefore never misses a row, on any server.
//!
//! Serialising writers costs throughput, which group commit buys back: each
//! instance has one writer task that takes every write queued while the
//! previous transaction committed into the next transaction (up to 256 writes
//! or 4 MiB), so one fsync covers many writes.
//!
//! Latency: a commit wakes the local poller at once. On PostgreSQL the write
//! transaction also sends `pg_notify`, delivered to every listening instance
//! at commit, so a watcher on server B hears of a write through server A
//! within milliseconds rather than kine's one-second poll. MySQL has no
//! notification, so pollers there poll adaptively (2 ms after activity,
//! backing off to 50 ms idle); the query is a primary-key range read.
//!
//! Measured figures are in `BENCHMARKS.md` (`scripts/bench.sh`).
//!
//! # The in-memory twin
//!
//! [`Store::in_memory`] runs the same [`Store`] on a [`MemoryBackend`]
//! instead of a database: the same planner, the same watch hub and poller,
//! the same errors. `tests/datastore_memory.rs` runs the contract suite the
//! SQL backends pass on it, so logic above the store (the API server's verbs,
//! the controllers) can be tested without a database and trusted to behave
//! the same on one.

mod connect;
mod error;
mod kv;
mod memory;
mod plan;
mod sql;
mod watch;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sqlx::{AnyPool, Row};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use edge_config::endpoint::{Backend, Endpoint};
pub use error::DatastoreError;
pub use kv::{Event, EventKind, KeyRange, KeyValue, LeaseId, Revision};
pub use memory::MemoryBackend;
pub use plan::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use watch::Watch;

use plan::{Op, Outcome};
use sql::Statements;
use watch::{Hub, Source};
use writer::{Request, Writer, kv_from_row};

/// Revisions deleted per compaction step (one short transaction each).
const COMPACT_STEP: i64 = 1000;

/// Tuning for [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the read pool.
    pub max_connections: u32,
    /// How long to wait for a connection (new or from the pool).
    pub connect_timeout: Duration,
    /// How long one write transaction or read may take before it is reported
    /// `Unavailable`.
    pub op_timeout: Duration,
    /// Whether this instance deletes the keys of expired leases. Every
    /// instance may (the deletes are idempotent); it is a knob for tests.
    pub expire_leases: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(10),
            expire_leases: true,
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// The revision the listing is consistent at.
    pub revision: Revision,
    pub kvs: Vec<KeyValue>,
    /// Whether the range holds more keys after the last one returned.
    pub more: bool,
}

impl ListResult {
    /// The first `limit` of `kvs` (read with one extra to tell whether more
    /// follow; 0 = no limit), at `revision`.
    fn page(mut kvs: Vec<KeyValue>, limit: usize, revision: Revision) -> Self {
        let more = limit != 0 && kvs.len() > limit;
        if limit != 0 {
            kvs.truncate(limit);
        }
        Self {
            revision,
            kvs,
            more,
        }
    }
}

/// A handle on one store instance. Cheap to clone; background tasks stop when
/// the last handle is dropped or [`Store::close`] is called.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shown: String,
    engine: Engine,
    hub: Arc<Hub>,
    op_timeout: Duration,
    cancel: CancellationToken,
}

/// Where the log lives.
#[derive(Debug)]
enum Engine {
    /// SQLite, PostgreSQL or MySQL/MariaDB.
    Sql(Box<Sql>),
    /// The in-memory twin, shared by every store opened on it.
    Memory(Arc<MemoryBackend>),
}

#[derive(Debug)]
struct Sql {
    endpoint: Endpoint,
    pool: AnyPool,
    statements: Arc<Statements>,
    writes: mpsc::Sender<Request>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Store {
    /// Connects, creating the database and schema when missing, and starts the
    /// writer, the watch poller and the lease sweeper. Fails at once when the
    /// database is unreachable or refuses the credentials; retrying is the
    /// caller's choice.
    pub async fn open(endpoint: &Endpoint, options: StoreOptions) -> Result<Self, DatastoreError> {
        let settings = connect::ConnectSettings {
            max_connections: options.max_connections,
            connect_timeout: options.connect_timeout,
        };
        connect::ensure_database(endpoint, &settings).await?;
        let pool = connect::open_pool(endpoint, &settings).await?;
        connect::migrate(&pool, endpoint).await?;
        let statements = Arc::new(Statements::new(endpoint.backend()));
        let shown = endpoint.redacted();
        let source = Source::Sql {
            pool: pool.clone(),
            statements: statements.clone(),
            endpoint: shown.clone(),
        };
        let (revision, _) = source.revisions().await?;
        let hub = Arc::new(Hub::new(revision));
        let committed = Arc::new(Notify::new());
        let cancel = CancellationToken::new();

        let (writes, requests) = mpsc::channel(4096);
        let writer = Writer::new(
            endpoint.clone(),
            statements.clone(),
            options.op_timeout,
            committed.clone(),
        );
        tokio::spawn(writer.run(requests));
        tokio::spawn(watch::run_poller(
            source,
            hub.clone(),
            committed.clone(),
            cancel.clone(),
        ));
        if endpoint.backend() == Backend::Postgres {
            tokio::spawn(watch::run_pg_listener(
                endpoint.driver_url(),
                committed,
                cancel.clone(),
            ));
        }
        let engine = Engine::Sql(Box::new(Sql {
            endpoint: endpoint.clone(),
            pool,
            statements,
            writes,
        }));
        let store = Self::start(shown, engine, hub, &options, cancel);
        tracing::info!(endpoint = %store.inner.shown, revision, "datastore open");
        Ok(store)
    }

    /// A store on the in-memory `backend`, with the same behaviour as the SQL
    /// ones (the contract suite runs on both). Every store opened on one
    /// backend sees the others' writes, as servers sharing a database do.
    pub fn in_memory(backend: &Arc<MemoryBackend>, options: StoreOptions) -> Self {
        let (revision, _) = backend.revisions();
        let hub = Arc::new(Hub::new(revision));
        let committed = Arc::new(Notify::new());
        let cancel = CancellationToken::new();
        let mut commits = backend.subscribe();
        let wake = committed.clone();
        let stop = cancel.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    changed = commits.changed() => match changed {
                        Ok(()) => wake.notify_one(),
                        Err(_) => return,
                    },
                }
            }
        });
        tokio::spawn(watch::run_poller(
            Source::Memory(backend.clone()),
            hub.clone(),
            committed,
            cancel.clone(),
        ));
        let engine = Engine::Memory(backend.clone());
        Self::start("memory".into(), engine, hub, &options, cancel)
    }

    /// The handle on a started engine, and the lease sweeper when asked for.
    fn start(
        shown: String,
        engine: Engine,
        hub: Arc<Hub>,
        options: &StoreOptions,
        cancel: CancellationToken,
    ) -> Self {
        let store = Self {
            inner: Arc::new(Inner {
                shown,
                engine,
                hub,
                op_timeout: options.op_timeout,
                cancel: cancel.clone(),
            }),
        };
        if options.expire_leases {
            tokio::spawn(expire_leases(Arc::downgrade(&store.inner), cancel));
        }
        store
    }

    /// The endpoint, with its password redacted (`memory` for the twin).
    pub fn endpoint(&self) -> &str {
        &self.inner.shown
    }

    /// Which database family this store runs on; `None` in memory.
    pub fn backend(&self) -> Option<Backend> {
        match &self.inner.engine {
            Engine::Sql(sql) => Some(sql.endpoint.backend()),
            Engine::Memory(_) => None,
        }
    }

    /// Stops the background tasks and closes the connections.
    pub async fn close(&self) {
        self.inner.cancel.cancel();
        if let Engine::Sql(sql) = &self.inner.engine {
            sql.pool.close().await;
        }
    }

    /// Checks the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), DatastoreError> {
        let Engine::Sql(sql) = &self.inner.engine else {
            return Ok(());
        };
        self.read(sql::query(&sql.statements.ping).fetch_one(&sql.pool))
            .await
            .map(drop)
    }

    /// The revision of the last committed write.
    pub async fn current_revision(&self) -> Result<Revision, DatastoreError> {
        Ok(self.revisions().await?.0)
    }

    /// The oldest revision reads and watches may still ask for, minus one.
    pub async fn compact_revision(&self) -> Result<Revision, DatastoreError> {
        Ok(self.revisions().await?.1)
    }

    /// The revision watchers on this instance have been sent events up to.
    pub fn watched_revision(&self) -> Revision {
        self.inner.hub.head()
    }

    /// The current version of `key`, and the revision the answer is consistent at.
    pub async fn get(&self, key: &str) -> Result<(Revision, Option<KeyValue>), DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                round_trip().await;
                return Ok(memory.get(key));
            }
        };
        let row = self
            .read(
                sql::query(&sql.statements.get_current)
                    .bind(key.as_bytes().to_vec())
                    .fetch_one(&sql.pool),
            )
            .await?;
        let revision = self.column(&row, 0)?;
        let kv = kv_from_row(&row, 1).map_err(|e| self.error(e))?;
        Ok((revision, kv))
    }

    /// The version of `key` as of `revision`.
    pub async fn get_at(
        &self,
        key: &str,
        revision: Revision,
    ) -> Result<Option<KeyValue>, DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                round_trip().await;
                let kv = memory.get_at(key, revision);
                self.check_past_revision(revision).await?;
                return Ok(kv);
            }
        };
        let row = self
            .read(
                sql::query(&sql.statements.get_at)
                    .bind(key.as_bytes().to_vec())
                    .bind(revision)
                    .fetch_optional(&sql.pool),
            )
            .await?;
        self.check_past_revision(revision).await?;
        let Some(row) = row else { return Ok(None) };
        let deleted: i64 = self.column(&row, 6)?;
        if deleted != 0 {
            return Ok(None);
        }
        kv_from_row(&row, 0).map_err(|e| self.error(e))
    }

    /// Up to `limit` keys of `range` in key order (0 = no limit), as of
    /// `revision` (`None` = now). Continue a listing with
    /// [`KeyRange::prefix_from`] (the last key plus `"\0"`) at the revision the
    /// first page returned.
    pub async fn list(
        &self,
        range: &KeyRange,
        limit: usize,
        revision: Option<Revision>,
    ) -> Result<ListResult, DatastoreError> {
        let fetch = if limit == 0 {
            i64::MAX
        } else {
            limit as i64 + 1
        };
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                round_trip().await;
                let fetch = usize::try_from(fetch).unwrap_or(usize::MAX);
                let (current, mut kvs) = memory.list_current(range, fetch);
                if let Some(r) = revision.filter(|r| *r != current) {
                    kvs = memory.list_at(range, r, fetch);
                    self.check_past_revision(r).await?;
                }
                return Ok(ListResult::page(kvs, limit, revision.unwrap_or(current)));
            }
        };
        let s = &sql.statements;
        // The present is cheap to read; try it first even for a past revision,
        // which often is still the present.
        let rows = self
            .read(
                sql::query(&s.list_current)
                    .bind(range.start.clone())
                    .bind(range.sql_end())
                    .bind(fetch)
                    .fetch_all(&sql.pool),
            )
            .await?;
        let current: Revision = match rows.first() {
            Some(row) => self.column(row, 0)?,
            None => self.current_revision().await?,
        };
        let kvs = match revision {
            Some(r) if r != current => {
                let rows = self
                    .read(
                        sql::query(&s.list_at)
                            .bind(range.start.clone())
                            .bind(range.sql_end())
                            .bind(r)
                            .bind(fetch)
                            .fetch_all(&sql.pool),
                    )
                    .await?;
                self.check_past_revision(r).await?;
                self.decode_kvs(&rows, 0)?
            }
            _ => self.decode_kvs(&rows, 1)?,
        };
        Ok(ListResult::page(kvs, limit, revision.unwrap_or(current)))
    }

    /// How many keys `range` holds now, and the revision the count is consistent at.
    pub async fn count(&self, range: &KeyRange) -> Result<(Revision, i64), DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => return Ok(memory.count(range)),
        };
        let row = self
            .read(
                sql::query(&sql.statements.count_current)
                    .bind(range.start.clone())
                    .bind(range.sql_end())
                    .fetch_one(&sql.pool),
            )
            .await?;
        Ok((self.column(&row, 0)?, self.column(&row, 1)?))
    }

    /// Creates `key`; fails with `KeyExists` if it is present.
    pub async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> Result<KeyValue, DatastoreError> {
        let op = Op::Create {
            key: key.to_owned(),
            value,
            lease,
        };
        match self.write(op).await? {
            Outcome::Put { kv, .. } => Ok(kv),
            other => unreachable!("create answered {other:?}"),
        }
    }

    /// Replaces `key` if its mod revision is still `expected`; fails with
    /// `Conflict` (carrying the current version) or `NotFound`.
    pub async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Revision,
        lease: LeaseId,
    ) -> Result<KeyValue, DatastoreError> {
        let op = Op::Update {
            key: key.to_owned(),
            value,
            lease,
            expected,
        };
        match self.write(op).await? {
            Outcome::Put { kv, .. } => Ok(kv),
            other => unreachable!("update answered {other:?}"),
        }
    }

    /// Deletes `key`, if its mod revision is `expected` when one is given.
    /// Returns the delete's revision and the deleted version.
    pub async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<(Revision, KeyValue), DatastoreError> {
        let op = Op::Delete {
            key: key.to_owned(),
            expected,
        };
        match self.write(op).await? {
            Outcome::Deleted { revision, prev } => Ok((revision, prev)),
            other => unreachable!("delete answered {other:?}"),
        }
    }

    /// Watches `range` from revision `from` (inclusive; 0 = future writes only).
    pub async fn watch(&self, range: KeyRange, from: Revision) -> Result<Watch, DatastoreError> {
        Watch::start(self.source(), self.inner.hub.clone(), range, from).await
    }

    /// Grants a lease of `ttl` (rounded up to whole seconds, at least 1).
    pub async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId, DatastoreError> {
        let seconds = ttl.as_secs().max(1) + u64::from(ttl.subsec_nanos() > 0);
        let seconds = i64::try_from(seconds).map_err(|_| {
            DatastoreError::InvalidRequest(format!("lease TTL {ttl:?} is too long"))
        })?;
        let id: LeaseId = rand::rng().random_range(1..i64::MAX);
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                memory.lease_grant(id, seconds);
                return Ok(id);
            }
        };
        self.read(
            sql::query(&sql.statements.lease_grant)
                .bind(id)
                .bind(seconds)
                .bind(seconds * 1000)
                .execute(&sql.pool),
        )
        .await?;
        Ok(id)
    }

    /// Restarts a lease's TTL.
    pub async fn lease_keepalive(&self, lease: LeaseId) -> Result<(), DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => return memory.lease_keepalive(lease),
        };
        let done = self
            .read(
                sql::query(&sql.statements.lease_keepalive)
                    .bind(lease)
                    .execute(&sql.pool),
            )
            .await?;
        if done.rows_affected() == 0 {
            return Err(DatastoreError::LeaseNotFound { lease });
        }
        Ok(())
    }

    /// A lease's granted TTL and the time it has left.
    pub async fn lease_time_to_live(
        &self,
        lease: LeaseId,
    ) -> Result<(Duration, Duration), DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => return memory.lease_time_to_live(lease),
        };
        let row = self
            .read(
                sql::query(&sql.statements.lease_ttl)
                    .bind(lease)
                    .fetch_optional(&sql.pool),
            )
            .await?
            .ok_or(DatastoreError::LeaseNotFound { lease })?;
        let ttl: i64 = self.column(&row, 0)?;
        let left_ms: i64 = self.column(&row, 1)?;
        Ok((
            Duration::from_secs(ttl.max(0) as u64),
            Duration::from_millis(left_ms.max(0) as u64),
        ))
    }

    /// Revokes a lease, deleting every key attached to it. Returns the store's
    /// revision after the deletes.
    pub async fn lease_revoke(&self, lease: LeaseId) -> Result<Revision, DatastoreError> {
        match self.write(Op::RevokeLease { lease }).await? {
            Outcome::Revoked { revision, .. } => Ok(revision),
            other => unreachable!("revoke answered {other:?}"),
        }
    }

    /// Discards history up to `revision`: superseded versions and tombstones at
    /// or before it are deleted, and reads and watches older than it fail with
    /// `Compacted` from now on. The deletion runs in short steps and resumes
    /// where it stopped if it was interrupted.
    pub async fn compact(&self, revision: Revision) -> Result<(), DatastoreError> {
        let (current, _) = self.revisions().await?;
        if revision > current {
            return Err(DatastoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                memory.compact(revision);
                return Ok(());
            }
        };
        let s = &sql.statements;
        // First the logical point, so no reader trusts rows about to go.
        self.read(
            sql::query(&s.set_compact_revision)
                .bind(revision)
                .bind(revision)
                .execute(&sql.pool),
        )
        .await?;
        let (_, target) = self.revisions().await?;
        let row = self
            .read(sql::query(&s.compacted).fetch_one(&sql.pool))
            .await?;
        let mut done: Revision = self.column(&row, 0)?;
        while done < target {
            let upto = (done + COMPACT_STEP).min(target);
            for statement in [&s.compact_superseded, &s.compact_tombstones] {
                self.read(
                    sql::query(statement)
                        .bind(done)
                        .bind(upto)
                        .execute(&sql.pool),
                )
                .await?;
            }
            self.read(
                sql::query(&s.set_compacted)
                    .bind(upto)
                    .bind(upto)
                    .execute(&sql.pool),
            )
            .await?;
            done = upto;
        }
        tracing::debug!(revision = target, "datastore compacted");
        Ok(())
    }

    async fn revisions(&self) -> Result<(Revision, Revision), DatastoreError> {
        self.source().revisions().await
    }

    /// After reading at a past revision: was it valid?
    async fn check_past_revision(&self, revision: Revision) -> Result<(), DatastoreError> {
        let (current, compact_revision) = self.revisions().await?;
        if revision > current {
            return Err(DatastoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        if revision < compact_revision {
            return Err(DatastoreError::Compacted {
                requested: revision,
                compact_revision,
            });
        }
        Ok(())
    }

    async fn write(&self, op: Op) -> Result<Outcome, DatastoreError> {
        op.validate()?;
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => {
                round_trip().await;
                return memory.write(&op);
            }
        };
        let (reply, answer) = oneshot::channel();
        sql.writes
            .send(Request { op, reply })
            .await
            .map_err(|_| DatastoreError::Closed)?;
        answer.await.map_err(|_| DatastoreError::Closed)?
    }

    /// Runs a read with the store's timeout, mapping driver errors.
    async fn read<T>(
        &self,
        fut: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, DatastoreError> {
        match tokio::time::timeout(self.inner.op_timeout, fut).await {
            Ok(result) => result.map_err(|e| self.error(e)),
            Err(_) => Err(DatastoreError::Unavailable {
                endpoint: self.inner.shown.clone(),
                reason: format!("no answer within {:?}", self.inner.op_timeout),
            }),
        }
    }

    fn column<T>(&self, row: &sqlx::any::AnyRow, index: usize) -> Result<T, DatastoreError>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        row.try_get(index).map_err(|e| self.error(e))
    }

    fn decode_kvs(
        &self,
        rows: &[sqlx::any::AnyRow],
        at: usize,
    ) -> Result<Vec<KeyValue>, DatastoreError> {
        let mut kvs = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(kv) = kv_from_row(row, at).map_err(|e| self.error(e))? {
                kvs.push(kv);
            }
        }
        Ok(kvs)
    }

    fn error(&self, e: sqlx::Error) -> DatastoreError {
        DatastoreError::from_sqlx(&self.inner.shown, e)
    }

    fn source(&self) -> Source {
        match &self.inner.engine {
            Engine::Sql(sql) => Source::Sql {
                pool: sql.pool.clone(),
                statements: sql.statements.clone(),
                endpoint: self.inner.shown.clone(),
            },
            Engine::Memory(memory) => Source::Memory(memory.clone()),
        }
    }

    /// Leases whose time is up.
    async fn expired_leases(&self) -> Result<Vec<LeaseId>, DatastoreError> {
        let sql = match &self.inner.engine {
            Engine::Sql(sql) => sql,
            Engine::Memory(memory) => return Ok(memory.expired_leases()),
        };
        let rows = self
            .read(sql::query(&sql.statements.lease_expired).fetch_all(&sql.pool))
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<i64, _>(0).ok())
            .collect())
    }
}

/// What a database round trip gives other tasks: a turn. The in-memory twin
/// answers at once; without this, a client's read and its dependent write
/// could never be interleaved with another's, and code tested on the twin
/// would never meet the conflicts it meets on a database.
async fn round_trip() {
    tokio::task::yield_now().await;
}

/// Deletes the keys of expired leases, once a second, while the store lives.
async fn expire_leases(inner: std::sync::Weak<Inner>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let store = Store { inner };
        let expired = match store.expired_leases().await {
            Ok(leases) => leases,
            Err(e) => {
                tracing::debug!(error = %e, "lease expiry check failed");
                continue;
            }
        };
        for lease in expired {
            match store.lease_revoke(lease).await {
                Ok(_) | Err(DatastoreError::LeaseNotFound { .. }) => {
                    tracing::debug!(lease, "lease expired")
                }
                Err(e) => tracing::debug!(lease, error = %e, "expiring a lease failed"),
            }
        }
    }
}
