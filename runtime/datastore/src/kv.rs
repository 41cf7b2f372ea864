//! The store's data types: revisions, key-values, watch events.
//!
//! Plain data with no IO. `Debug` never prints values: they can hold Secret
//! objects, and a log line must not.

use std::fmt;

/// A position in the store's single, global, gap-free write log. Every write
/// takes the next revision; revision 0 is the empty store.
pub type Revision = i64;

/// A lease identifier (0 = no lease).
pub type LeaseId = i64;

/// One version of a key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision at which this key was (last) created.
    pub create_revision: Revision,
    /// Revision of this version.
    pub mod_revision: Revision,
    /// Number of writes since creation, starting at 1.
    pub version: i64,
    /// Lease the key is attached to, 0 for none.
    pub lease: LeaseId,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .field("version", &self.version)
            .field("lease", &self.lease)
            .finish()
    }
}

/// What a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated: `kv` is the new version.
    Put,
    /// The key was deleted at `kv.mod_revision`; `kv.value` is empty and
    /// `prev` holds the deleted version.
    Delete,
}

/// One write, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    /// The version this write replaced; `None` for a create.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The event a log row reports: a put of `kv`, or for a tombstone a
    /// delete whose `kv` keeps the key and revisions but has no value,
    /// version or lease (as etcd reports deletes). `prev` is the version it
    /// replaced, when that is still in the log.
    pub(crate) fn from_log(kv: KeyValue, deleted: bool, prev: Option<KeyValue>) -> Self {
        if deleted {
            Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    value: Vec::new(),
                    version: 0,
                    lease: 0,
                    ..kv
                },
                prev,
            }
        } else {
            Event {
                kind: EventKind::Put,
                kv,
                prev,
            }
        }
    }

    /// The revision of the write this event reports.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A key range: `[start, end)`, compared bytewise. An empty `end` means "to the end".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &str) -> Self {
        let start = prefix.as_bytes().to_vec();
        let mut end = start.clone();
        // The smallest byte string greater than every string with this prefix:
        // drop trailing 0xff bytes, then increment the last.
        while let Some(&last) = end.last() {
            if last == 0xff {
                end.pop();
            } else {
                *end.last_mut().expect("non-empty") += 1;
                break;
            }
        }
        Self { start, end }
    }

    /// Every key from `start` (inclusive) within `prefix`: a continued listing.
    pub fn prefix_from(prefix: &str, start: &str) -> Self {
        let mut range = Self::prefix(prefix);
        if start.as_bytes() > range.start.as_slice() {
            range.start = start.as_bytes().to_vec();
        }
        range
    }

    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && (self.end.is_empty() || key < self.end.as_slice())
    }

    /// The end bound as the SQL layer takes it. Keys are UTF-8, which never
    /// contains the byte 0xff, so `[0xff]` is above every key.
    pub(crate) fn sql_end(&self) -> Vec<u8> {
        if self.end.is_empty() {
            vec![0xff]
        } else {
            self.end.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        let r = KeyRange::prefix("/registry/pods/");
        assert_eq!(r.end, b"/registry/pods0");
        assert!(r.contains(b"/registry/pods/default/a"));
        assert!(!r.contains(b"/registry/pods0"));
        assert!(!r.contains(b"/registry/pod"));
        let all = KeyRange::prefix("");
        assert!(all.end.is_empty() && all.contains(b"anything"));
        assert_eq!(all.sql_end(), vec![0xff]);
    }

    #[test]
    fn continued_ranges_stay_inside_the_prefix() {
        let r = KeyRange::prefix_from("/a/", "/a/m\0");
        assert_eq!(r.start, b"/a/m\0");
        assert_eq!(r.end, b"/a0");
        let r = KeyRange::prefix_from("/a/", "/");
        assert_eq!(r.start, b"/a/");
    }

    #[test]
    fn debug_hides_values() {
        let kv = KeyValue {
            key: "/registry/secrets/default/s".into(),
            value: b"password".to_vec(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            lease: 0,
        };
        let dbg = format!("{kv:?}");
        assert!(
            !dbg.contains("password") && dbg.contains("<8 bytes>"),
            "{dbg}"
        );
    }
}
