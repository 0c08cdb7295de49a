-- Engine-neutral SQL (SQLite and PostgreSQL).

-- Conversations a device has been shown (Email2:ConversationId, MS-ASEMAIL 2.2.2.20):
-- the id is a hash of the thread root's Message-ID, so the root is kept here to find
-- the conversation's messages upstream again when a device moves the conversation
-- (ItemOperations Move, MS-ASCMD 2.2.3.117.1). `always_move_to` is the folder id that
-- this and future messages of the conversation go to (MoveAlways), or NULL.
CREATE TABLE conversations (
    login            TEXT   NOT NULL,
    conversation_id  TEXT   NOT NULL,
    root_message_id  TEXT   NOT NULL,
    always_move_to   BIGINT,
    PRIMARY KEY (login, conversation_id)
);
