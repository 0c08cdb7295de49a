-- Engine-neutral SQL (SQLite and PostgreSQL).

-- Sync keys per device and collection: the state behind each key is an immutable
-- snapshot of what the device holds (design.md, "State model").
CREATE TABLE sync_state (
    login         TEXT   NOT NULL,
    device_id     TEXT   NOT NULL,
    collection_id TEXT   NOT NULL,
    sync_key      BIGINT NOT NULL,
    snapshot      BYTEA  NOT NULL,
    created       BIGINT NOT NULL,
    PRIMARY KEY (login, device_id, collection_id, sync_key)
);

-- Client Adds already carried out, so that a retried Add returns the same ServerId.
CREATE TABLE client_ids (
    login         TEXT   NOT NULL,
    device_id     TEXT   NOT NULL,
    collection_id TEXT   NOT NULL,
    client_id     TEXT   NOT NULL,
    server_id     TEXT   NOT NULL,
    created       BIGINT NOT NULL,
    PRIMARY KEY (login, device_id, collection_id, client_id)
);

-- The last full Sync request of a device, for empty and partial Sync requests
-- (MS-ASCMD 3.1.5.3).
CREATE TABLE sync_cache (
    login     TEXT NOT NULL,
    device_id TEXT NOT NULL,
    request   TEXT NOT NULL,
    PRIMARY KEY (login, device_id)
);
