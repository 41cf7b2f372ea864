//! The in-memory twin of the SQL backends: the same revisioned log, held in
//! a mutex, for tests that need a store but not a database.
//!
//! Owns the log, the current versions, the leases and the compaction point
//! of one in-memory "database", shared by every [`crate::Store`] opened on
//! it (as several servers share one PostgreSQL). Writes are planned by the
//! same pure planner as the SQL writer ([`crate::plan`]), under the mutex,
//! so commit order is revision order here too. Lease time is tokio's clock,
//! so tests with a paused clock expire leases without waiting.
//!
//! Must not: be used for anything that must survive the process, or differ
//! from the SQL backends in any behaviour the contract suite checks
//! (`tests/datastore/suite.rs` runs on both).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::DatastoreError;
use crate::kv::{Event, KeyRange, KeyValue, LeaseId, Revision};
use crate::plan::{self, LogRow, Op, Outcome, Snapshot};

/// One in-memory database. Open stores on it with [`crate::Store::in_memory`].
#[derive(Debug)]
pub struct MemoryBackend {
    state: Mutex<State>,
    /// The last committed revision, for every instance's watch poller.
    committed: watch::Sender<Revision>,
}

#[derive(Debug, Default)]
struct State {
    revision: Revision,
    compact_revision: Revision,
    /// Every row not yet compacted away, by revision.
    log: BTreeMap<Revision, LogRow>,
    /// The current version of every live key.
    current: BTreeMap<String, KeyValue>,
    /// Lease id -> (granted TTL in seconds, expiry).
    leases: HashMap<LeaseId, (i64, Instant)>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            committed: watch::channel(0).0,
        }
    }
}

fn kv_of(row: &LogRow) -> KeyValue {
    KeyValue {
        key: row.key.clone(),
        value: row.value.clone(),
        create_revision: row.create_revision,
        mod_revision: row.revision,
        version: row.version,
        lease: row.lease,
    }
}

impl MemoryBackend {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written
        // (every write builds its plan first), so a poisoned lock is usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver of the last committed revision.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Revision> {
        self.committed.subscribe()
    }

    /// `(revision, compact_revision)`.
    pub(crate) fn revisions(&self) -> (Revision, Revision) {
        let s = self.state();
        (s.revision, s.compact_revision)
    }

    pub(crate) fn get(&self, key: &str) -> (Revision, Option<KeyValue>) {
        let s = self.state();
        (s.revision, s.current.get(key).cloned())
    }

    /// The version of `key` as of `revision` (compaction is checked by the caller).
    pub(crate) fn get_at(&self, key: &str, revision: Revision) -> Option<KeyValue> {
        let s = self.state();
        s.log
            .range(..=revision)
            .rev()
            .find(|(_, row)| row.key == key)
            .filter(|(_, row)| !row.deleted)
            .map(|(_, row)| kv_of(row))
    }

    /// Up to `fetch` live keys of `range` now, and the current revision.
    pub(crate) fn list_current(&self, range: &KeyRange, fetch: usize) -> (Revision, Vec<KeyValue>) {
        let s = self.state();
        let kvs = s
            .current
            .values()
            .filter(|kv| range.contains(kv.key.as_bytes()))
            .take(fetch)
            .cloned()
            .collect();
        (s.revision, kvs)
    }

    /// Up to `fetch` keys of `range` as of `revision`, in key order.
    pub(crate) fn list_at(
        &self,
        range: &KeyRange,
        revision: Revision,
        fetch: usize,
    ) -> Vec<KeyValue> {
        let s = self.state();
        let mut newest: BTreeMap<&str, &LogRow> = BTreeMap::new();
        for row in s.log.range(..=revision).map(|(_, row)| row) {
            if range.contains(row.key.as_bytes()) {
                newest.insert(&row.key, row);
            }
        }
        newest
            .into_values()
            .filter(|row| !row.deleted)
            .take(fetch)
            .map(kv_of)
            .collect()
    }

    pub(crate) fn count(&self, range: &KeyRange) -> (Revision, i64) {
        let s = self.state();
        let n = s
            .current
            .keys()
            .filter(|k| range.contains(k.as_bytes()))
            .count();
        (s.revision, i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Plans and applies one operation, as the SQL writer's transaction does.
    pub(crate) fn write(&self, op: &Op) -> Result<Outcome, DatastoreError> {
        let mut s = self.state();
        let revoking: Vec<LeaseId> = match op {
            Op::RevokeLease { lease } => vec![*lease],
            _ => Vec::new(),
        };
        // The key the operation names; for a revoke, the keys on its lease.
        let mut current: HashMap<String, KeyValue> = HashMap::new();
        if let Some(kv) = op.key().and_then(|key| s.current.get(key)) {
            current.insert(kv.key.clone(), kv.clone());
        }
        if !revoking.is_empty() {
            for kv in s.current.values().filter(|kv| revoking.contains(&kv.lease)) {
                current.insert(kv.key.clone(), kv.clone());
            }
        }
        let leases: HashSet<LeaseId> = op
            .attached_lease()
            .into_iter()
            .chain(revoking.iter().copied())
            .filter(|l| s.leases.contains_key(l))
            .collect();
        let plan = plan::plan(
            Snapshot {
                revision: s.revision,
                current,
                leases,
            },
            std::slice::from_ref(op),
        );
        for row in &plan.rows {
            s.log.insert(row.revision, row.clone());
        }
        for (key, change) in &plan.kv_changes {
            match change {
                Some((revision, _)) => {
                    let kv = kv_of(&s.log[revision]);
                    s.current.insert(key.clone(), kv);
                }
                None => {
                    s.current.remove(key);
                }
            }
        }
        for lease in &plan.revoked {
            s.leases.remove(lease);
        }
        s.revision = plan.revision;
        let revision = s.revision;
        drop(s);
        self.committed.send_replace(revision);
        plan.outcomes
            .into_iter()
            .next()
            .expect("one outcome per operation")
    }

    /// Events after `after` up to `upto` in `range`, at most `page`, with the
    /// version each replaced when it is still in the log.
    pub(crate) fn events(
        &self,
        after: Revision,
        upto: Revision,
        range: Option<&KeyRange>,
        page: usize,
    ) -> Vec<Event> {
        let s = self.state();
        if after >= upto {
            return Vec::new();
        }
        s.log
            .range(after + 1..=upto)
            .map(|(_, row)| row)
            .filter(|row| range.is_none_or(|r| r.contains(row.key.as_bytes())))
            .take(page)
            .map(|row| {
                let prev = (row.prev_revision > 0)
                    .then(|| s.log.get(&row.prev_revision))
                    .flatten()
                    .map(kv_of);
                Event::from_log(kv_of(row), row.deleted, prev)
            })
            .collect()
    }

    pub(crate) fn lease_grant(&self, id: LeaseId, seconds: i64) {
        let expires = Instant::now() + Duration::from_secs(seconds.max(0) as u64);
        self.state().leases.insert(id, (seconds, expires));
    }

    pub(crate) fn lease_keepalive(&self, lease: LeaseId) -> Result<(), DatastoreError> {
        let mut s = self.state();
        let (ttl, expires) = s
            .leases
            .get_mut(&lease)
            .ok_or(DatastoreError::LeaseNotFound { lease })?;
        *expires = Instant::now() + Duration::from_secs((*ttl).max(0) as u64);
        Ok(())
    }

    /// The granted TTL and the time left.
    pub(crate) fn lease_time_to_live(
        &self,
        lease: LeaseId,
    ) -> Result<(Duration, Duration), DatastoreError> {
        let s = self.state();
        let (ttl, expires) = s
            .leases
            .get(&lease)
            .ok_or(DatastoreError::LeaseNotFound { lease })?;
        Ok((
            Duration::from_secs((*ttl).max(0) as u64),
            expires.saturating_duration_since(Instant::now()),
        ))
    }

    /// Leases whose time is up.
    pub(crate) fn expired_leases(&self) -> Vec<LeaseId> {
        let now = Instant::now();
        self.state()
            .leases
            .iter()
            .filter(|(_, (_, expires))| *expires <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Moves the compaction point to `revision` (never back) and drops the
    /// rows nothing can read any more: versions superseded at or before it,
    /// and tombstones at or before it.
    pub(crate) fn compact(&self, revision: Revision) {
        let mut s = self.state();
        let target = s.compact_revision.max(revision);
        s.compact_revision = target;
        let mut newest: HashMap<String, Revision> = HashMap::new();
        for (rev, row) in s.log.range(..=target) {
            newest.insert(row.key.clone(), *rev);
        }
        s.log.retain(|rev, row| {
            *rev > target || (newest.get(&row.key) == Some(rev) && !row.deleted)
        });
    }
}
