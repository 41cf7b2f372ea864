-- The revisioned key-value log (see runtime/src/datastore/mod.rs).
-- SQLite serialises writers itself (BEGIN IMMEDIATE); edge_meta still holds
-- the revision counter so that every backend shares one write path.
CREATE TABLE edge_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO edge_meta (name, value) VALUES ('revision', 0), ('compact_revision', 0), ('compacted', 0);

-- One row per write. Deletes are tombstones (deleted = 1, empty value).
-- prev_revision is the revision of the version a write replaced (0 for a create).
CREATE TABLE edge_log (
    revision        INTEGER PRIMARY KEY,
    name            BLOB    NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    lease           INTEGER NOT NULL,
    value           BLOB    NOT NULL
);
CREATE INDEX edge_log_name_revision ON edge_log (name, revision);

-- The current version of every live key: a pointer into edge_log.
CREATE TABLE edge_kv (
    name         BLOB    PRIMARY KEY,
    mod_revision INTEGER NOT NULL,
    lease        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX edge_kv_lease ON edge_kv (lease) WHERE lease <> 0;

-- TTL leases; expires_at is in milliseconds of the database's clock.
CREATE TABLE edge_lease (
    id         INTEGER PRIMARY KEY,
    ttl        INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX edge_lease_expires_at ON edge_lease (expires_at);
