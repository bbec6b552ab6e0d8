-- Notification fixes: inbound SMS remembered by the provider's message id,
-- so that a replayed webhook request changes nothing; a per-loan window on
-- "remind now"; STOP replies look clients up by their number in E.164.
-- (Client numbers already stored are converted to E.164 by the service
-- after migrating, in Go, with libphonenumber's rules: SQL cannot.)

-- Every text received through the webhook, by the provider's MessageSid.
-- Only the id and when: the sender's number and the text are not kept.
CREATE TABLE sms_inbound (
    message_sid TEXT PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL
);

-- When each loan's last manual reminder was sent, by the database's clock:
-- one per loan per window (--remind-now-interval), however many instances.
CREATE TABLE remind_now_slots (
    loan_id BIGINT PRIMARY KEY REFERENCES loans (id),
    sent_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX clients_phone_idx ON clients (phone) WHERE phone <> '';
