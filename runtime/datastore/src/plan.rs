//! The write planner: given the current state of the keys a batch touches,
//! decide each operation's outcome and the rows to write.
//!
//! Pure: no IO, no clock. The writer loads a [`Snapshot`] inside its
//! transaction (holding the revision lock), calls [`plan`], and writes the
//! result. Operations in one batch behave exactly as if they ran one after
//! another in order: each sees the effects of those before it.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::error::DatastoreError;
use crate::kv::{KeyValue, LeaseId, Revision};

/// Largest key accepted (bytes); the MySQL schema indexes up to 1024.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value accepted (bytes). Kubernetes objects are limited to 1.5 MiB.
pub const MAX_VALUE_BYTES: usize = 3 * 1024 * 1024;

/// One write request.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Create {
        key: String,
        value: Vec<u8>,
        lease: LeaseId,
    },
    Update {
        key: String,
        value: Vec<u8>,
        lease: LeaseId,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    RevokeLease {
        lease: LeaseId,
    },
}

impl Op {
    /// The key this operation names, if it names one.
    pub(crate) fn key(&self) -> Option<&str> {
        match self {
            Self::Create { key, .. } | Self::Update { key, .. } | Self::Delete { key, .. } => {
                Some(key)
            }
            Self::RevokeLease { .. } => None,
        }
    }

    /// The lease a put attaches, if any.
    pub(crate) fn attached_lease(&self) -> Option<LeaseId> {
        match self {
            Self::Create { lease, .. } | Self::Update { lease, .. } if *lease != 0 => Some(*lease),
            _ => None,
        }
    }

    /// Bytes this operation adds to a batch (for the batch size limit).
    pub(crate) fn size(&self) -> usize {
        match self {
            Self::Create { key, value, .. } | Self::Update { key, value, .. } => {
                key.len() + value.len()
            }
            Self::Delete { key, .. } => key.len(),
            Self::RevokeLease { .. } => 8,
        }
    }

    /// Checks that can be made without the database.
    pub(crate) fn validate(&self) -> Result<(), DatastoreError> {
        if let Some(key) = self.key() {
            if key.is_empty() {
                return Err(DatastoreError::InvalidRequest("empty key".into()));
            }
            if key.len() > MAX_KEY_BYTES {
                return Err(DatastoreError::InvalidRequest(format!(
                    "key of {} bytes exceeds the limit of {MAX_KEY_BYTES}",
                    key.len()
                )));
            }
        }
        if let Self::Create { value, .. } | Self::Update { value, .. } = self
            && value.len() > MAX_VALUE_BYTES
        {
            return Err(DatastoreError::InvalidRequest(format!(
                "value of {} bytes exceeds the limit of {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        Ok(())
    }
}

/// What a successful operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A create or update: the new version and the one it replaced.
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// A delete at `revision` of `prev`.
    Deleted { revision: Revision, prev: KeyValue },
    /// A lease revoked; `deleted` keys went with it, the last at `revision`.
    Revoked { revision: Revision, deleted: usize },
}

/// One row of the write log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRow {
    pub revision: Revision,
    pub key: String,
    pub deleted: bool,
    pub create_revision: Revision,
    pub prev_revision: Revision,
    pub version: i64,
    pub lease: LeaseId,
    pub value: Vec<u8>,
}

/// The state a batch is planned against, read under the revision lock.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The revision of the last committed write.
    pub revision: Revision,
    /// Current versions of every key the batch names, and of every key attached
    /// to a lease the batch revokes. Absent keys do not exist.
    pub current: HashMap<String, KeyValue>,
    /// Which of the leases the batch attaches or revokes exist.
    pub leases: HashSet<LeaseId>,
}

/// What to write.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// One per operation, in order.
    pub outcomes: Vec<Result<Outcome, DatastoreError>>,
    /// New log rows, in revision order (consecutive from `snapshot.revision + 1`).
    pub rows: Vec<LogRow>,
    /// The final state of every key the batch changed: `Some((mod_revision,
    /// lease))` if it exists after the batch, `None` if it was deleted.
    pub kv_changes: BTreeMap<String, Option<(Revision, LeaseId)>>,
    /// Leases to delete.
    pub revoked: Vec<LeaseId>,
    /// The revision after the batch.
    pub revision: Revision,
}

/// Plans `ops` against `snapshot`.
pub(crate) fn plan(snapshot: Snapshot, ops: &[Op]) -> Plan {
    let Snapshot {
        revision,
        mut current,
        mut leases,
    } = snapshot;
    let mut plan = Plan {
        revision,
        ..Plan::default()
    };
    for op in ops {
        let outcome = match op {
            Op::Create { key, value, lease } => {
                if current.contains_key(key) {
                    Err(DatastoreError::KeyExists { key: key.clone() })
                } else if *lease != 0 && !leases.contains(lease) {
                    Err(DatastoreError::LeaseNotFound { lease: *lease })
                } else {
                    let rev = plan.revision + 1;
                    Ok(put(&mut plan, &mut current, key, value, *lease, rev, None))
                }
            }
            Op::Update {
                key,
                value,
                lease,
                expected,
            } => match current.get(key) {
                None => Err(DatastoreError::NotFound { key: key.clone() }),
                Some(cur) if cur.mod_revision != *expected => Err(DatastoreError::Conflict {
                    key: key.clone(),
                    expected: *expected,
                    current: Box::new(cur.clone()),
                }),
                Some(_) if *lease != 0 && !leases.contains(lease) => {
                    Err(DatastoreError::LeaseNotFound { lease: *lease })
                }
                Some(cur) => {
                    let prev = cur.clone();
                    let rev = plan.revision + 1;
                    Ok(put(
                        &mut plan,
                        &mut current,
                        key,
                        value,
                        *lease,
                        rev,
                        Some(prev),
                    ))
                }
            },
            Op::Delete { key, expected } => match current.get(key) {
                None => Err(DatastoreError::NotFound { key: key.clone() }),
                Some(cur) if expected.is_some_and(|e| e != cur.mod_revision) => {
                    Err(DatastoreError::Conflict {
                        key: key.clone(),
                        expected: expected.unwrap_or_default(),
                        current: Box::new(cur.clone()),
                    })
                }
                Some(_) => {
                    let prev = current.remove(key).expect("checked present");
                    Ok(delete(&mut plan, prev))
                }
            },
            Op::RevokeLease { lease } => {
                if leases.remove(lease) {
                    let mut keys: Vec<String> = current
                        .iter()
                        .filter(|(_, kv)| kv.lease == *lease)
                        .map(|(k, _)| k.clone())
                        .collect();
                    keys.sort();
                    for key in &keys {
                        let prev = current.remove(key).expect("listed from the map");
                        delete(&mut plan, prev);
                    }
                    plan.revoked.push(*lease);
                    Ok(Outcome::Revoked {
                        revision: plan.revision,
                        deleted: keys.len(),
                    })
                } else {
                    Err(DatastoreError::LeaseNotFound { lease: *lease })
                }
            }
        };
        plan.outcomes.push(outcome);
    }
    plan
}

fn put(
    plan: &mut Plan,
    current: &mut HashMap<String, KeyValue>,
    key: &str,
    value: &[u8],
    lease: LeaseId,
    rev: Revision,
    prev: Option<KeyValue>,
) -> Outcome {
    let kv = KeyValue {
        key: key.to_owned(),
        value: value.to_vec(),
        create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
        mod_revision: rev,
        version: prev.as_ref().map_or(1, |p| p.version + 1),
        lease,
    };
    plan.rows.push(LogRow {
        revision: rev,
        key: kv.key.clone(),
        deleted: false,
        create_revision: kv.create_revision,
        prev_revision: prev.as_ref().map_or(0, |p| p.mod_revision),
        version: kv.version,
        lease,
        value: kv.value.clone(),
    });
    plan.kv_changes.insert(kv.key.clone(), Some((rev, lease)));
    plan.revision = rev;
    current.insert(kv.key.clone(), kv.clone());
    Outcome::Put { kv, prev }
}

fn delete(plan: &mut Plan, prev: KeyValue) -> Outcome {
    let rev = plan.revision + 1;
    plan.rows.push(LogRow {
        revision: rev,
        key: prev.key.clone(),
        deleted: true,
        create_revision: prev.create_revision,
        prev_revision: prev.mod_revision,
        version: 0,
        lease: 0,
        value: Vec::new(),
    });
    plan.kv_changes.insert(prev.key.clone(), None);
    plan.revision = rev;
    Outcome::Deleted {
        revision: rev,
        prev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, create: Revision, modr: Revision, version: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
            create_revision: create,
            mod_revision: modr,
            version,
            lease: 0,
        }
    }

    fn create(key: &str, value: &str) -> Op {
        Op::Create {
            key: key.into(),
            value: value.into(),
            lease: 0,
        }
    }

    fn snapshot(revision: Revision, kvs: &[KeyValue]) -> Snapshot {
        Snapshot {
            revision,
            current: kvs.iter().map(|kv| (kv.key.clone(), kv.clone())).collect(),
            leases: HashSet::new(),
        }
    }

    #[test]
    fn ops_in_a_batch_see_each_other() {
        let ops = [
            create("/a", "1"),
            create("/a", "again"),
            Op::Update {
                key: "/a".into(),
                value: "2".into(),
                lease: 0,
                expected: 11,
            },
            Op::Delete {
                key: "/a".into(),
                expected: Some(12),
            },
            create("/a", "3"),
        ];
        let p = plan(snapshot(10, &[]), &ops);
        assert!(
            matches!(p.outcomes[0], Ok(Outcome::Put { ref kv, prev: None }) if kv.mod_revision == 11)
        );
        assert!(matches!(
            p.outcomes[1],
            Err(DatastoreError::KeyExists { .. })
        ));
        assert!(
            matches!(p.outcomes[2], Ok(Outcome::Put { ref kv, .. }) if kv.version == 2 && kv.create_revision == 11)
        );
        assert!(
            matches!(p.outcomes[3], Ok(Outcome::Deleted { revision: 13, ref prev }) if prev.mod_revision == 12)
        );
        assert!(
            matches!(p.outcomes[4], Ok(Outcome::Put { ref kv, .. }) if kv.create_revision == 14 && kv.version == 1)
        );
        let revs: Vec<_> = p.rows.iter().map(|r| r.revision).collect();
        assert_eq!(revs, [11, 12, 13, 14]);
        assert_eq!(p.rows[2].prev_revision, 12);
        assert!(p.rows[2].deleted);
        assert_eq!(p.revision, 14);
        assert_eq!(p.kv_changes.get("/a"), Some(&Some((14, 0))));
    }

    #[test]
    fn compare_and_swap_reports_the_current_version() {
        let existing = kv("/k", "v", 3, 7, 2);
        let ops = [
            Op::Update {
                key: "/k".into(),
                value: "x".into(),
                lease: 0,
                expected: 6,
            },
            Op::Delete {
                key: "/k".into(),
                expected: Some(5),
            },
            Op::Update {
                key: "/missing".into(),
                value: "x".into(),
                lease: 0,
                expected: 1,
            },
            Op::Delete {
                key: "/missing".into(),
                expected: None,
            },
        ];
        let p = plan(snapshot(9, std::slice::from_ref(&existing)), &ops);
        match &p.outcomes[0] {
            Err(DatastoreError::Conflict {
                expected, current, ..
            }) => {
                assert_eq!(*expected, 6);
                assert_eq!(**current, existing);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.outcomes[1],
            Err(DatastoreError::Conflict { expected: 5, .. })
        ));
        assert!(matches!(
            p.outcomes[2],
            Err(DatastoreError::NotFound { .. })
        ));
        assert!(matches!(
            p.outcomes[3],
            Err(DatastoreError::NotFound { .. })
        ));
        assert!(p.rows.is_empty() && p.kv_changes.is_empty());
        assert_eq!(p.revision, 9);
    }

    #[test]
    fn leases_must_exist_and_revocation_deletes_their_keys() {
        let mut held = kv("/l/b", "v", 2, 2, 1);
        held.lease = 42;
        let mut snap = snapshot(5, &[held]);
        snap.leases.insert(42);
        let ops = [
            Op::Create {
                key: "/l/a".into(),
                value: "v".into(),
                lease: 42,
            },
            Op::Create {
                key: "/l/c".into(),
                value: "v".into(),
                lease: 7,
            },
            Op::RevokeLease { lease: 42 },
            Op::Create {
                key: "/l/d".into(),
                value: "v".into(),
                lease: 42,
            },
            Op::RevokeLease { lease: 42 },
        ];
        let p = plan(snap, &ops);
        assert!(p.outcomes[0].is_ok());
        assert!(matches!(
            p.outcomes[1],
            Err(DatastoreError::LeaseNotFound { lease: 7 })
        ));
        assert!(matches!(
            p.outcomes[2],
            Ok(Outcome::Revoked {
                revision: 8,
                deleted: 2
            })
        ));
        assert!(matches!(
            p.outcomes[3],
            Err(DatastoreError::LeaseNotFound { lease: 42 })
        ));
        assert!(matches!(
            p.outcomes[4],
            Err(DatastoreError::LeaseNotFound { lease: 42 })
        ));
        assert_eq!(p.revoked, [42]);
        let deleted: Vec<_> = p
            .rows
            .iter()
            .filter(|r| r.deleted)
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(deleted, ["/l/a", "/l/b"]);
        assert_eq!(p.kv_changes.get("/l/a"), Some(&None));
    }

    #[test]
    fn validation_limits() {
        assert!(create("", "v").validate().is_err());
        assert!(
            create(&"k".repeat(MAX_KEY_BYTES + 1), "v")
                .validate()
                .is_err()
        );
        let big = Op::Create {
            key: "/k".into(),
            value: vec![0; MAX_VALUE_BYTES + 1],
            lease: 0,
        };
        assert!(big.validate().is_err());
        assert!(create("/k", "v").validate().is_ok());
    }
}
