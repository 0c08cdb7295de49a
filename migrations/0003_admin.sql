-- Engine-neutral SQL (SQLite and PostgreSQL): device administration (issue 7).

-- Per device: the administrator's access decision ('' = the rules decide, 'allow',
-- 'block'), its own policy ('' = inherit) and PIN-lock (-1 = the policy's, 0 off,
-- 1 on), the policy name behind the acknowledged key, remote wipe times, and whether
-- its requests are traced.
ALTER TABLE devices ADD COLUMN access_override TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN policy_override TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN pin_lock INTEGER NOT NULL DEFAULT -1;
ALTER TABLE devices ADD COLUMN policy_name TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN wipe_requested BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN wipe_acknowledged BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN trace INTEGER NOT NULL DEFAULT 0;

-- Domain and account overrides of the [access] and [provision] defaults; NULL inherits.
CREATE TABLE access_settings (
    scope        TEXT NOT NULL,  -- 'domain' or 'account'
    name         TEXT NOT NULL,  -- the domain, or the upstream login
    access       TEXT,           -- 'allow' or 'deny'
    device_rules TEXT,           -- "Enabled Mobile Device IDs"
    policy       TEXT,           -- a policy name
    PRIMARY KEY (scope, name)
);

-- Mailboxes an account hides from its devices ("Visible to Mobile Devices" off).
CREATE TABLE hidden_folders (
    login  TEXT NOT NULL,
    folder TEXT NOT NULL,
    PRIMARY KEY (login, folder)
);

-- Mailbox aliases: a name in the account's folder tree for another mailbox
-- (e.g. a shared one of another account).
CREATE TABLE folder_aliases (
    login  TEXT NOT NULL,
    name   TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (login, name)
);

-- Every administrative action: when, by whom, on what. `seq` (microseconds) orders
-- actions within the same second.
CREATE TABLE admin_audit (
    at        BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    admin     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    login     TEXT   NOT NULL,
    device_id TEXT   NOT NULL,
    detail    TEXT   NOT NULL
);
CREATE INDEX admin_audit_login ON admin_audit (login, seq);
