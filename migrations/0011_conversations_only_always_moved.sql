-- Engine-neutral SQL (SQLite and PostgreSQL).

-- Sync no longer records every conversation a device is shown: a conversation Move
-- reads the thread header fields upstream instead (commands/conversation.rs). Only the
-- always-moved conversations are still needed here; the rest was never pruned.
DELETE FROM conversations WHERE always_move_to IS NULL;
