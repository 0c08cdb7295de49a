-- Engine-neutral SQL (SQLite and PostgreSQL).

-- The last Ping of each device (MS-ASCMD 2.2.1.13): an empty Ping repeats it. Kept in
-- the store so that it survives restarts and is shared by every node.
CREATE TABLE ping_state (
    login     TEXT   NOT NULL,
    device_id TEXT   NOT NULL,
    heartbeat BIGINT NOT NULL,
    folders   TEXT   NOT NULL,
    PRIMARY KEY (login, device_id)
);
