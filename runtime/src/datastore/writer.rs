//! The writer: one task and one connection per store instance, committing
//! writes in batches (group commit).
//!
//! Owns the write transaction. Each batch takes the revision counter row's
//! lock, reads the state of the keys it names, plans the batch
//! ([`super::plan`]), appends the log rows, moves the current-version
//! pointers, advances the counter and commits. Because every writer of every
//! instance holds the counter lock from before it reads until after it
//! commits, commit order equals revision order and no revision is skipped.
//!
//! Must not acknowledge a write before its commit returned: a lost connection
//! or a timeout during a batch answers every operation in it with
//! `Unavailable` (the write may or may not be applied; the caller was not told
//! it was). Must not retry an operation that may have been applied; only a
//! failure of the batch's very first statement (a connection that died while
//! idle) is retried, because nothing was sent yet.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection, Row};
use tokio::sync::{Notify, mpsc, oneshot};

use super::DatastoreError;
use super::connect::{self, Role};
use super::endpoint::Endpoint;
use super::kv::KeyValue;
use super::plan::{self, Op, Outcome, Plan, Snapshot};
use super::sql::{self, Statements};

/// Most operations in one transaction.
const MAX_BATCH_OPS: usize = 256;
/// Most key and value bytes in one transaction (MySQL's default
/// `max_allowed_packet` is 16 MiB; one value may be up to 3 MiB).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Most parameters one statement binds (PostgreSQL's limit is 65535).
const MAX_PARAMS: usize = 30_000;

pub(crate) type Reply = oneshot::Sender<Result<Outcome, DatastoreError>>;

/// A write waiting for its batch.
pub(crate) struct Request {
    pub op: Op,
    pub reply: Reply,
}

pub(crate) struct Writer {
    endpoint: Endpoint,
    statements: Arc<Statements>,
    conn: Option<AnyConnection>,
    timeout: Duration,
    /// Wakes this instance's watch poller after each commit.
    committed: Arc<Notify>,
}

impl Writer {
    pub(crate) fn new(
        endpoint: Endpoint,
        statements: Arc<Statements>,
        timeout: Duration,
        committed: Arc<Notify>,
    ) -> Self {
        Self {
            endpoint,
            statements,
            conn: None,
            timeout,
            committed,
        }
    }

    /// Serves requests until every sender is gone.
    pub(crate) async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH_OPS);
        while let Some(first) = requests.recv().await {
            let mut bytes = first.op.size();
            batch.push(first);
            // Everything that queued while the previous batch committed joins this one.
            while batch.len() < MAX_BATCH_OPS && bytes < MAX_BATCH_BYTES {
                match requests.try_recv() {
                    Ok(req) => {
                        bytes += req.op.size();
                        batch.push(req);
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch).await;
            batch.clear();
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    async fn commit_batch(&mut self, batch: &mut Vec<Request>) {
        let ops: Vec<Op> = batch.iter().map(|r| r.op.clone()).collect();
        match self.execute(&ops).await {
            Ok(plan) => {
                if !plan.rows.is_empty() {
                    self.committed.notify_one();
                }
                for (req, outcome) in batch.drain(..).zip(plan.outcomes) {
                    let _ = req.reply.send(outcome);
                }
            }
            // One bad operation (say, a value the database refuses) must not fail
            // the others that happened to share its batch: run them one by one.
            Err(e) if batch.len() > 1 && !e.is_unavailable() => {
                tracing::debug!(error = %e, "batch failed; retrying its operations one by one");
                for req in batch.drain(..) {
                    let op = [req.op];
                    let result = match self.execute(&op).await {
                        Ok(mut plan) => {
                            if !plan.rows.is_empty() {
                                self.committed.notify_one();
                            }
                            plan.outcomes.pop().expect("one outcome per operation")
                        }
                        Err(e) => Err(e),
                    };
                    let _ = req.reply.send(result);
                }
            }
            Err(e) => {
                for req in batch.drain(..) {
                    let _ = req.reply.send(Err(clone_error(&e)));
                }
            }
        }
    }

    /// Runs one transaction for `ops`, reconnecting once if the connection
    /// turns out dead before anything was sent.
    async fn execute(&mut self, ops: &[Op]) -> Result<Plan, DatastoreError> {
        for attempt in 0..2 {
            let shown = self.endpoint.redacted();
            if self.conn.is_none() {
                self.conn =
                    Some(connect::connect(&self.endpoint, Role::Writer, self.timeout).await?);
            }
            let conn = self.conn.as_mut().expect("connected above");
            let statements = self.statements.clone();
            let result = tokio::time::timeout(self.timeout, async {
                let begin = sql::query(&statements.begin_write)
                    .execute(&mut *conn)
                    .await;
                if let Err(e) = begin {
                    return Err(Failure::BeforeSend(e));
                }
                match transaction(conn, &statements, ops).await {
                    Ok(plan) => Ok(plan),
                    Err(e) => {
                        let _ = sql::query(&statements.rollback).execute(&mut *conn).await;
                        Err(Failure::During(e))
                    }
                }
            })
            .await;
            match result {
                Ok(Ok(plan)) => return Ok(plan),
                Ok(Err(Failure::BeforeSend(e))) if attempt == 0 => {
                    tracing::debug!(error = %e, "writer connection was dead; reconnecting");
                    self.conn = None;
                }
                Ok(Err(Failure::BeforeSend(e) | Failure::During(e))) => {
                    let err = DatastoreError::from_sqlx(&shown, e);
                    if err.is_unavailable() {
                        self.conn = None;
                    }
                    return Err(err);
                }
                Err(_elapsed) => {
                    // The transaction's state is unknown: drop the connection,
                    // which makes the database roll it back.
                    self.conn = None;
                    return Err(DatastoreError::Unavailable {
                        endpoint: shown,
                        reason: format!("write did not complete within {:?}", self.timeout),
                    });
                }
            }
        }
        unreachable!("the second attempt always returns")
    }
}

enum Failure {
    /// The transaction never started: nothing was applied.
    BeforeSend(sqlx::Error),
    /// Failed after BEGIN; rolled back (or the connection is gone).
    During(sqlx::Error),
}

/// The body of one write transaction (BEGIN already sent). Commits on success.
async fn transaction(
    conn: &mut AnyConnection,
    s: &Statements,
    ops: &[Op],
) -> Result<Plan, sqlx::Error> {
    let revision: i64 = sql::query(&s.lock_revision)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;

    // Leases the batch attaches or revokes: which exist, and which keys hang on them.
    let revoking: BTreeSet<i64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::RevokeLease { lease } => Some(*lease),
            _ => None,
        })
        .collect();
    let lease_ids: BTreeSet<i64> = ops
        .iter()
        .filter_map(Op::attached_lease)
        .chain(revoking.iter().copied())
        .collect();
    let mut leases = HashSet::new();
    for chunk in lease_ids
        .iter()
        .copied()
        .collect::<Vec<_>>()
        .chunks(MAX_PARAMS)
    {
        let mut q = sql::query(&s.existing_leases(chunk.len()));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            leases.insert(row.try_get::<i64, _>(0)?);
        }
    }

    // Current versions of every key named, plus every key a revoked lease holds.
    let mut keys: BTreeSet<String> = ops
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    if !revoking.is_empty() {
        let ids: Vec<i64> = revoking.iter().copied().collect();
        for chunk in ids.chunks(MAX_PARAMS) {
            let mut q = sql::query(&s.lease_keys(chunk.len()));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *conn).await? {
                keys.insert(key_from(row.try_get::<Vec<u8>, _>(0)?));
            }
        }
    }
    let mut current = HashMap::with_capacity(keys.len());
    let keys: Vec<String> = keys.into_iter().collect();
    for chunk in keys.chunks(MAX_PARAMS) {
        let mut q = sql::query(&s.load_current(chunk.len()));
        for key in chunk {
            q = q.bind(key.as_bytes().to_vec());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let kv = kv_from_row(&row, 0)?.expect("inner join yields a version");
            current.insert(kv.key.clone(), kv);
        }
    }

    let plan = plan::plan(
        Snapshot {
            revision,
            current,
            leases,
        },
        ops,
    );
    if plan.rows.is_empty() && plan.revoked.is_empty() {
        sql::query(&s.rollback).execute(&mut *conn).await?;
        return Ok(plan);
    }

    for chunk in plan.rows.chunks(MAX_PARAMS / 8) {
        let mut q = sql::query(&s.insert_log(chunk.len()));
        for row in chunk {
            q = q
                .bind(row.revision)
                .bind(row.key.as_bytes().to_vec())
                .bind(i64::from(row.deleted))
                .bind(row.create_revision)
                .bind(row.prev_revision)
                .bind(row.version)
                .bind(row.lease)
                .bind(row.value.clone());
        }
        q.execute(&mut *conn).await?;
    }
    let (upserts, deletes): (Vec<_>, Vec<_>) = plan
        .kv_changes
        .iter()
        .partition(|(_, state)| state.is_some());
    for chunk in upserts.chunks(MAX_PARAMS / 3) {
        let mut q = sql::query(&s.upsert_kv(chunk.len()));
        for (key, state) in chunk {
            let (mod_revision, lease) = state.expect("partitioned on is_some");
            q = q
                .bind(key.as_bytes().to_vec())
                .bind(mod_revision)
                .bind(lease);
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in deletes.chunks(MAX_PARAMS) {
        let mut q = sql::query(&s.delete_kv(chunk.len()));
        for (key, _) in chunk {
            q = q.bind(key.as_bytes().to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in plan.revoked.chunks(MAX_PARAMS) {
        let mut q = sql::query(&s.delete_leases(chunk.len()));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    if plan.revision != revision {
        sql::query(&s.set_revision)
            .bind(plan.revision)
            .execute(&mut *conn)
            .await?;
        if let Some(notify) = &s.notify {
            // Delivered to listeners at commit, in commit order.
            sql::query(notify)
                .bind(plan.revision.to_string())
                .execute(&mut *conn)
                .await?;
        }
    }
    sql::query(&s.commit).execute(&mut *conn).await?;
    Ok(plan)
}

/// Reads a version from columns `at..at+6` ([`sql::KV_COLUMNS`]); `None` when
/// the revision column is NULL (an outer join that matched nothing).
pub(crate) fn kv_from_row(row: &AnyRow, at: usize) -> Result<Option<KeyValue>, sqlx::Error> {
    let Some(mod_revision) = row.try_get::<Option<i64>, _>(at)? else {
        return Ok(None);
    };
    Ok(Some(KeyValue {
        mod_revision,
        key: key_from(row.try_get::<Vec<u8>, _>(at + 1)?),
        create_revision: row.try_get(at + 2)?,
        version: row.try_get(at + 3)?,
        lease: row.try_get(at + 4)?,
        value: row.try_get(at + 5)?,
    }))
}

/// Keys are written from `String`s, so they are UTF-8; a foreign row that is
/// not still yields a usable (lossy) key rather than an error.
pub(crate) fn key_from(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Errors are not `Clone` (they can carry IO sources); a batch failure is
/// reported to each of its operations with the same message.
fn clone_error(e: &DatastoreError) -> DatastoreError {
    match e {
        DatastoreError::Unavailable { endpoint, reason } => DatastoreError::Unavailable {
            endpoint: endpoint.clone(),
            reason: reason.clone(),
        },
        DatastoreError::Refused { endpoint, message } => DatastoreError::Refused {
            endpoint: endpoint.clone(),
            message: message.clone(),
        },
        DatastoreError::Closed => DatastoreError::Closed,
        other => DatastoreError::Internal {
            endpoint: String::new(),
            message: other.to_string(),
        },
    }
}
