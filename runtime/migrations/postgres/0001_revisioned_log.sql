-- The revisioned key-value log (see runtime/src/datastore/mod.rs).
-- edge_meta holds the revision counter, the row every writer locks: commit
-- order therefore equals revision order, and revisions have no gaps.
CREATE TABLE edge_meta (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO edge_meta (name, value) VALUES ('revision', 0), ('compact_revision', 0), ('compacted', 0);

-- One row per write. Deletes are tombstones (deleted = 1, empty value).
-- prev_revision is the revision of the version a write replaced (0 for a create).
CREATE TABLE edge_log (
    revision        BIGINT PRIMARY KEY,
    name            BYTEA  NOT NULL,
    deleted         BIGINT NOT NULL,
    create_revision BIGINT NOT NULL,
    prev_revision   BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    lease           BIGINT NOT NULL,
    value           BYTEA  NOT NULL
);
CREATE INDEX edge_log_name_revision ON edge_log (name, revision);

-- The current version of every live key: a pointer into edge_log. Updates
-- change no indexed column but lease, so PostgreSQL can do them as HOT updates.
CREATE TABLE edge_kv (
    name         BYTEA  PRIMARY KEY,
    mod_revision BIGINT NOT NULL,
    lease        BIGINT NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX edge_kv_lease ON edge_kv (lease) WHERE lease <> 0;

-- TTL leases; expires_at is in milliseconds of the database's clock.
CREATE TABLE edge_lease (
    id         BIGINT PRIMARY KEY,
    ttl        BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX edge_lease_expires_at ON edge_lease (expires_at);
