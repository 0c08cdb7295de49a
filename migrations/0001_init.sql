-- Engine-neutral SQL: this one migration set serves SQLite and PostgreSQL alike.

-- Devices an account has used (MS-ASPROV provisioning state and the device registry).
CREATE TABLE devices (
    login              TEXT    NOT NULL,
    device_id          TEXT    NOT NULL,
    device_type        TEXT    NOT NULL,
    user_agent         TEXT    NOT NULL DEFAULT '',
    protocol_version   TEXT    NOT NULL DEFAULT '',
    model              TEXT    NOT NULL DEFAULT '',
    imei               TEXT    NOT NULL DEFAULT '',
    friendly_name      TEXT    NOT NULL DEFAULT '',
    os                 TEXT    NOT NULL DEFAULT '',
    os_language        TEXT    NOT NULL DEFAULT '',
    phone_number       TEXT    NOT NULL DEFAULT '',
    mobile_operator    TEXT    NOT NULL DEFAULT '',
    first_seen         BIGINT  NOT NULL,
    last_seen          BIGINT  NOT NULL,
    last_command       TEXT    NOT NULL DEFAULT '',
    -- The key the device acknowledged in Provision phase 2 (0: none yet).
    policy_key         BIGINT  NOT NULL DEFAULT 0,
    -- The temporary key handed out in Provision phase 1, awaiting acknowledgement.
    pending_policy_key BIGINT  NOT NULL DEFAULT 0,
    -- Fingerprint of the policy the acknowledged key stands for.
    policy_hash        TEXT    NOT NULL DEFAULT '',
    wipe_state         TEXT    NOT NULL DEFAULT 'none',
    blocked            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (login, device_id)
);

-- Stable EAS folder ids per account. A row outlives renames; `gone` rows keep their
-- id reserved so that it is never handed to another folder.
CREATE TABLE folders (
    login         TEXT    NOT NULL,
    folder_id     BIGINT  NOT NULL,
    source        TEXT    NOT NULL,
    upstream_name TEXT    NOT NULL,
    upstream_id   TEXT,
    gone          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (login, folder_id)
);
CREATE UNIQUE INDEX folders_live_name ON folders (login, source, upstream_name) WHERE gone = 0;

-- FolderSync sync keys: the folder hierarchy a device was told about under each key.
CREATE TABLE folder_sync (
    login     TEXT   NOT NULL,
    device_id TEXT   NOT NULL,
    sync_key  BIGINT NOT NULL,
    snapshot  TEXT   NOT NULL,
    created   BIGINT NOT NULL,
    PRIMARY KEY (login, device_id, sync_key)
);
