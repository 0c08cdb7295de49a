-- Engine-neutral SQL (SQLite and PostgreSQL).

-- SendMail / SmartReply / SmartForward idempotence: one row per message an account
-- submitted, keyed by the device's ClientId (or, without one, the Message-ID). The row
-- is written before the SMTP submission and removed again only when the MTA refused
-- the message, so a retry after a lost answer or a crash never sends twice.
CREATE TABLE sent_messages (
    login     TEXT   NOT NULL,
    send_key  TEXT   NOT NULL,
    state     TEXT   NOT NULL,
    created   BIGINT NOT NULL,
    PRIMARY KEY (login, send_key)
);
