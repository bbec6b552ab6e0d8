-- Funders receive the monthly utilization report through the outbox: a
-- notification may be addressed to a funder. SQLite cannot change a CHECK:
-- the table is rebuilt, as in 0011, with every column, row and index it had.
CREATE TABLE notifications_rebuilt (
    id              INTEGER PRIMARY KEY,
    kind            TEXT        NOT NULL,
    dedup_key       TEXT        NOT NULL,
    client_id       BIGINT,
    loan_id         BIGINT,
    channel         TEXT        NOT NULL CHECK (channel IN ('sms', 'email', 'log')),
    address         TEXT        NOT NULL DEFAULT '',
    language        TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    scheduled_at    TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT        NOT NULL DEFAULT '',
    sent_at         TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    recipient       TEXT NOT NULL DEFAULT 'client'
        CHECK (recipient IN ('client', 'social_worker', 'coordinator', 'funder')),
    user_id         BIGINT,
    session_id      BIGINT REFERENCES training_sessions (id),
    data_plan_id    BIGINT REFERENCES data_plans (id),
    about_date      DATE,
    about_time      TIMESTAMP,
    expires_at      TIMESTAMP,
    note            TEXT NOT NULL DEFAULT '',
    created_by      BIGINT REFERENCES users (id)
);
INSERT INTO notifications_rebuilt (id, kind, dedup_key, client_id, loan_id, channel, address, language, body, status,
        scheduled_at, next_attempt_at, claimed_until, attempts, last_error, sent_at, created_at, updated_at,
        recipient, user_id, session_id, data_plan_id, about_date, about_time, expires_at, note, created_by)
    SELECT id, kind, dedup_key, client_id, loan_id, channel, address, language, body, status,
        scheduled_at, next_attempt_at, claimed_until, attempts, last_error, sent_at, created_at, updated_at,
        recipient, user_id, session_id, data_plan_id, about_date, about_time, expires_at, note, created_by
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_rebuilt RENAME TO notifications;
CREATE UNIQUE INDEX notifications_dedup_key_key ON notifications (dedup_key);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_loan_id_idx ON notifications (loan_id);
CREATE INDEX notifications_client_id_idx ON notifications (client_id);
CREATE INDEX notifications_session_id_idx ON notifications (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX notifications_status_idx ON notifications (status, id);
CREATE INDEX notifications_user_id_idx ON notifications (user_id) WHERE user_id IS NOT NULL;
