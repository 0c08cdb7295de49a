-- Engine-neutral SQL (SQLite and PostgreSQL).

-- Every Sync window that offers new mail asks for the account's MoveAlways rules
-- (conversation.rs, apply_always_move). Without this index that read visits every
-- conversation the account was ever shown: 1.6 ms per window at 10,000 messages.
-- The rules are few; a partial index holds only them.
CREATE INDEX conversations_always_move ON conversations (login)
    WHERE always_move_to IS NOT NULL;
