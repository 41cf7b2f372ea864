//! Watches: one poller per store instance reads the log in revision order and
//! fans it out; each watcher filters its key range and, when it falls behind
//! or starts in the past, replays from the database.
//!
//! Owns event delivery. The poller trusts the writer's invariant (commit order
//! equals revision order, no gaps), so reading `revision > last` in order is
//! complete: it never has to wait for a late commit or fill a gap the way
//! kine does. What wakes it differs by backend: a commit on this instance
//! always does; on PostgreSQL, a `NOTIFY` sent inside every write transaction
//! wakes every other instance at commit; MySQL has no such signal, so the
//! poller polls adaptively (a few milliseconds after activity, backing off to
//! 50 ms when idle). A periodic poll covers lost notifications.
//!
//! Must not drop, duplicate or reorder an event for a watcher: a watcher that
//! lags the broadcast resumes from the database at its own position, and one
//! whose position has been compacted away gets `Compacted` and ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::error::DatastoreError;
use crate::kv::{Event, KeyRange, KeyValue, Revision};
use crate::memory::MemoryBackend;
use crate::sql::{self, Statements};
use crate::writer::kv_from_row;
use edge_config::endpoint::Backend;

/// Rows read per poll or replay query.
const PAGE: i64 = 1000;
/// Batches the broadcast keeps for slow watchers before they must replay.
const BROADCAST_CAPACITY: usize = 1024;

/// What the poller broadcasts.
#[derive(Debug)]
pub(crate) enum Published {
    /// Consecutive events; after them the log is read up to `head`.
    Events { events: Vec<Event>, head: Revision },
    /// The poller could not read revisions up to `compact_revision`: they were
    /// compacted before it got to them. Every live watcher must end.
    Compacted { compact_revision: Revision },
}

/// The fan-out point between the poller and the watchers.
#[derive(Debug)]
pub(crate) struct Hub {
    /// The last revision published. Locked together with each send and each
    /// subscribe so a new watcher's starting point and its receiver agree.
    head: Mutex<Revision>,
    tx: broadcast::Sender<Arc<Published>>,
}

impl Hub {
    pub(crate) fn new(head: Revision) -> Self {
        Self {
            head: Mutex::new(head),
            tx: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }

    /// The last revision delivered to watchers.
    pub(crate) fn head(&self) -> Revision {
        *self.head.lock().expect("hub lock poisoned")
    }

    fn subscribe(&self) -> (Revision, broadcast::Receiver<Arc<Published>>) {
        let head = self.head.lock().expect("hub lock poisoned");
        (*head, self.tx.subscribe())
    }

    fn publish(&self, head: Revision, message: Published) {
        let mut current = self.head.lock().expect("hub lock poisoned");
        *current = head;
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(Arc::new(message));
    }
}

/// What the poller needs from the store.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Sql {
        pool: AnyPool,
        statements: Arc<Statements>,
        endpoint: String,
    },
    Memory(Arc<MemoryBackend>),
}

impl Source {
    /// `(revision, compact_revision)`.
    pub(crate) async fn revisions(&self) -> Result<(Revision, Revision), DatastoreError> {
        let (pool, statements, endpoint) = match self {
            Source::Sql {
                pool,
                statements,
                endpoint,
            } => (pool, statements, endpoint),
            Source::Memory(memory) => return Ok(memory.revisions()),
        };
        let error = |e| DatastoreError::from_sqlx(endpoint, e);
        let row = sql::query(&statements.revisions)
            .fetch_one(pool)
            .await
            .map_err(error)?;
        Ok((
            row.try_get(0).map_err(error)?,
            row.try_get(1).map_err(error)?,
        ))
    }

    async fn poll(&self, after: Revision) -> Result<Vec<Event>, DatastoreError> {
        match self {
            Source::Sql { statements, .. } => {
                let query = sql::query(&statements.poll).bind(after).bind(PAGE);
                self.events(query).await
            }
            Source::Memory(memory) => Ok(memory.events(after, Revision::MAX, None, PAGE as usize)),
        }
    }

    async fn replay(
        &self,
        after: Revision,
        upto: Revision,
        range: &KeyRange,
    ) -> Result<Vec<Event>, DatastoreError> {
        match self {
            Source::Sql { statements, .. } => {
                let query = sql::query(&statements.replay)
                    .bind(after)
                    .bind(upto)
                    .bind(range.start.clone())
                    .bind(range.sql_end())
                    .bind(PAGE);
                self.events(query).await
            }
            Source::Memory(memory) => Ok(memory.events(after, upto, Some(range), PAGE as usize)),
        }
    }

    /// Runs a `poll` or `replay` query and decodes its rows.
    async fn events(
        &self,
        query: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Vec<Event>, DatastoreError> {
        let Source::Sql { pool, endpoint, .. } = self else {
            unreachable!("only the SQL source runs queries");
        };
        let error = |e| DatastoreError::from_sqlx(endpoint, e);
        let rows = query.fetch_all(pool).await.map_err(error)?;
        rows.iter()
            .map(|r| event_from_row(r).map_err(error))
            .collect()
    }

    /// How often the poller looks without being woken.
    fn idle_interval(&self) -> (Duration, Duration) {
        match self {
            Source::Sql { statements, .. } => idle_interval(statements.backend),
            // Every commit on the backend wakes every instance's poller.
            Source::Memory(_) => (Duration::from_millis(1000), Duration::from_millis(1000)),
        }
    }
}

/// Decodes a `poll` / `replay` row.
fn event_from_row(row: &AnyRow) -> Result<Event, sqlx::Error> {
    let kv = kv_from_row(row, 0)?.expect("the log row is never NULL");
    let deleted: i64 = row.try_get(6)?;
    let prev_revision: i64 = row.try_get(7)?;
    let prev = match row.try_get::<Option<Vec<u8>>, _>(11)? {
        Some(value) if prev_revision > 0 => Some(KeyValue {
            key: kv.key.clone(),
            value,
            create_revision: row.try_get(8)?,
            mod_revision: prev_revision,
            version: row.try_get(9)?,
            lease: row.try_get(10)?,
        }),
        _ => None,
    };
    Ok(Event::from_log(kv, deleted != 0, prev))
}

/// How often the poller looks without being woken.
fn idle_interval(backend: Backend) -> (Duration, Duration) {
    match backend {
        // Woken by NOTIFY and local commits; the poll only covers lost signals.
        Backend::Postgres => (Duration::from_millis(1000), Duration::from_millis(1000)),
        // No cross-instance signal: poll soon after activity, back off when idle.
        Backend::Mysql => (Duration::from_millis(2), Duration::from_millis(50)),
        // One process per database file: local commits are the only writers.
        Backend::Sqlite => (Duration::from_millis(1000), Duration::from_millis(1000)),
    }
}

/// Reads the log after the hub's head and publishes it, until cancelled.
pub(crate) async fn run_poller(
    source: Source,
    hub: Arc<Hub>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let (min, max) = source.idle_interval();
    let mut interval = min;
    let mut failures = 0u32;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(interval) => {}
        }
        match poll_once(&source, &hub).await {
            Ok(found) => {
                failures = 0;
                interval = if found { min } else { (interval * 2).min(max) };
            }
            Err(e) => {
                failures += 1;
                // Log the first failure and then every 30th, not every retry.
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, failures, "watch poller cannot read the datastore; retrying");
                }
                interval = Duration::from_millis(100 * u64::from(failures.min(10)));
            }
        }
    }
}

/// Publishes everything after the hub's head. Returns whether anything was new.
async fn poll_once(source: &Source, hub: &Hub) -> Result<bool, DatastoreError> {
    let mut found = false;
    loop {
        let head = hub.head();
        let events = source.poll(head).await?;
        let Some(first) = events.first().map(Event::revision) else {
            return Ok(found);
        };
        found = true;
        if first != head + 1 {
            // Revisions are gap-free, so only a compaction past our head can
            // explain a hole.
            let (_, compact_revision) = source.revisions().await?;
            if compact_revision > head {
                tracing::warn!(
                    head,
                    compact_revision,
                    "watch poller fell behind a compaction"
                );
                hub.publish(first - 1, Published::Compacted { compact_revision });
            } else {
                tracing::error!(
                    head,
                    first,
                    "revision gap in the datastore log; delivering anyway"
                );
            }
        }
        let last = events.last().map_or(head, Event::revision);
        let full = events.len() as i64 == PAGE;
        hub.publish(last, Published::Events { events, head: last });
        if !full {
            return Ok(found);
        }
    }
}

/// A stream of events for one key range, in revision order.
#[derive(Debug)]
pub struct Watch {
    source: Source,
    hub: Arc<Hub>,
    range: KeyRange,
    /// The next revision this watch may deliver; everything before it was
    /// delivered or did not match.
    next: Revision,
    /// While set, events up to this revision come from the database first.
    replay_to: Option<Revision>,
    rx: broadcast::Receiver<Arc<Published>>,
}

impl Watch {
    /// Starts a watch on `range` delivering revisions from `from` on (0 = only
    /// future writes).
    pub(crate) async fn start(
        source: Source,
        hub: Arc<Hub>,
        range: KeyRange,
        from: Revision,
    ) -> Result<Self, DatastoreError> {
        let (head, rx) = hub.subscribe();
        let (next, replay_to) = if from <= 0 {
            // "From now" means after the last commit, which the poller may
            // not have published yet.
            let (current, _) = source.revisions().await?;
            (current.max(head) + 1, None)
        } else {
            // Checked even when the poller has not yet published up to
            // `from`: its lag must not let a compacted start through.
            let (_, compact_revision) = source.revisions().await?;
            if from <= compact_revision {
                return Err(DatastoreError::Compacted {
                    requested: from,
                    compact_revision,
                });
            }
            if from > head {
                (from, None)
            } else {
                (from, Some(head))
            }
        };
        Ok(Self {
            source,
            hub,
            range,
            next,
            replay_to,
            rx,
        })
    }

    /// Every write up to this revision has been delivered (or did not match).
    /// Use it for progress notifications (Kubernetes bookmarks).
    pub fn revision(&self) -> Revision {
        self.next - 1
    }

    /// The next non-empty batch of events, in revision order. Errors end the
    /// watch (`Compacted`: the caller must re-list; `Closed`: the store is gone).
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Vec<Event>, DatastoreError> {
        loop {
            if let Some(upto) = self.replay_to {
                if self.next > upto {
                    self.replay_to = None;
                    continue;
                }
                let events = self.source.replay(self.next - 1, upto, &self.range).await?;
                // Rows removed by a compaction that ran during the query would
                // be missing silently: check after reading.
                let (_, compact_revision) = self.source.revisions().await?;
                if compact_revision >= self.next {
                    return Err(DatastoreError::Compacted {
                        requested: self.next,
                        compact_revision,
                    });
                }
                self.next = if events.len() as i64 == PAGE {
                    events.last().map_or(upto, Event::revision) + 1
                } else {
                    upto + 1
                };
                if !events.is_empty() {
                    return Ok(events);
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(message) => match &*message {
                    Published::Compacted { compact_revision } => {
                        return Err(DatastoreError::Compacted {
                            requested: self.next,
                            compact_revision: *compact_revision,
                        });
                    }
                    Published::Events { events, head } => {
                        let matching: Vec<Event> = events
                            .iter()
                            .filter(|e| {
                                e.revision() >= self.next
                                    && self.range.contains(e.kv.key.as_bytes())
                            })
                            .cloned()
                            .collect();
                        self.next = self.next.max(head + 1);
                        if !matching.is_empty() {
                            return Ok(matching);
                        }
                    }
                },
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(
                        skipped,
                        next = self.next,
                        "watcher lagged; replaying from the datastore"
                    );
                    let (head, rx) = self.hub.subscribe();
                    self.rx = rx;
                    self.replay_to = Some(head);
                }
                Err(broadcast::error::RecvError::Closed) => return Err(DatastoreError::Closed),
            }
        }
    }
}

/// Wakes `wake` on every PostgreSQL notification, and after every reconnect
/// (notifications sent while disconnected are lost; a poll catches up).
pub(crate) async fn run_pg_listener(
    url: edge_config::secret::Secret<String>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    use sqlx::postgres::PgListener;
    let mut failures = 0u32;
    loop {
        let mut listener = match PgListener::connect(url.expose()).await {
            Ok(l) => l,
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, "cannot listen for datastore notifications; polling meanwhile");
                }
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)))) => continue,
                }
            }
        };
        if let Err(e) = listener.listen(sql::PG_CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            failures += 1;
            continue;
        }
        failures = 0;
        wake.notify_one();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => wake.notify_one(),
                    // Reconnected: anything sent meanwhile was lost.
                    Ok(None) => wake.notify_one(),
                    Err(e) => {
                        tracing::debug!(error = %e, "notification listener lost its connection");
                        wake.notify_one();
                        break;
                    }
                }
            }
        }
    }
}
