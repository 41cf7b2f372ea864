-- The revisioned key-value log (see runtime/src/datastore/mod.rs).
-- edge_meta holds the revision counter, the row every writer locks: commit
-- order therefore equals revision order, and revisions have no gaps.
CREATE TABLE edge_meta (
    name  VARCHAR(64) CHARACTER SET ascii PRIMARY KEY,
    value BIGINT NOT NULL
) ENGINE = InnoDB;
INSERT INTO edge_meta (name, value) VALUES ('revision', 0), ('compact_revision', 0), ('compacted', 0);

-- One row per write. Deletes are tombstones (deleted = 1, empty value).
-- prev_revision is the revision of the version a write replaced (0 for a create).
CREATE TABLE edge_log (
    revision        BIGINT         PRIMARY KEY,
    name            VARBINARY(1024) NOT NULL,
    deleted         BIGINT         NOT NULL,
    create_revision BIGINT         NOT NULL,
    prev_revision   BIGINT         NOT NULL,
    version         BIGINT         NOT NULL,
    lease           BIGINT         NOT NULL,
    value           LONGBLOB       NOT NULL,
    INDEX edge_log_name_revision (name, revision)
) ENGINE = InnoDB ROW_FORMAT = DYNAMIC;

-- The current version of every live key: a pointer into edge_log.
CREATE TABLE edge_kv (
    name         VARBINARY(1024) PRIMARY KEY,
    mod_revision BIGINT NOT NULL,
    lease        BIGINT NOT NULL,
    INDEX edge_kv_lease (lease)
) ENGINE = InnoDB ROW_FORMAT = DYNAMIC;

-- TTL leases; expires_at is in milliseconds of the database's clock.
CREATE TABLE edge_lease (
    id         BIGINT PRIMARY KEY,
    ttl        BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    INDEX edge_lease_expires_at (expires_at)
) ENGINE = InnoDB;
