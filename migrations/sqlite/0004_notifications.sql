-- Notifications: the outbox every reminder goes through.

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    kind            TEXT        NOT NULL,
    -- What makes a reminder the same reminder: a second sweep, or a second
    -- instance, cannot create it twice.
    dedup_key       TEXT        NOT NULL,
    client_id       BIGINT REFERENCES clients (id),
    loan_id         BIGINT REFERENCES loans (id),
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
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX notifications_dedup_key_key ON notifications (dedup_key);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_loan_id_idx ON notifications (loan_id);
CREATE INDEX notifications_client_id_idx ON notifications (client_id);
