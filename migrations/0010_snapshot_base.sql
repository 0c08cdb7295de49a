-- Engine-neutral SQL (SQLite and PostgreSQL).

-- A Sync key's snapshot may be stored as its difference from the full snapshot of an
-- earlier key of the same chain (commands/sync/snapshot.rs, encode_delta): a window of
-- 100 items in a 10,000-message folder then writes about 1.5 KB instead of 150 KB.
-- NULL: the row holds a full snapshot. A row that is some kept row's base is kept.
ALTER TABLE sync_state ADD COLUMN base_key BIGINT;
