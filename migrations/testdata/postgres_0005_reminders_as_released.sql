-- Reminders: who a notification is for and what it is about, so that the
-- dispatcher can check it still applies; client opt-outs; the admin's
-- reminder policy.

ALTER TABLE notifications ADD COLUMN recipient TEXT NOT NULL DEFAULT 'client'
    CHECK (recipient IN ('client', 'social_worker', 'coordinator'));
-- The staff member a social_worker or coordinator notification goes to.
ALTER TABLE notifications ADD COLUMN user_id BIGINT REFERENCES users (id);
ALTER TABLE notifications ADD COLUMN session_id BIGINT REFERENCES training_sessions (id);
ALTER TABLE notifications ADD COLUMN data_plan_id BIGINT REFERENCES data_plans (id);
-- The date the reminder is about (a loan's due date, a plan's end) and the
-- session start: if either has moved, the reminder no longer applies.
ALTER TABLE notifications ADD COLUMN about_date DATE;
ALTER TABLE notifications ADD COLUMN about_time TIMESTAMPTZ;
-- After this a reminder is pointless ("due today" the next day).
ALTER TABLE notifications ADD COLUMN expires_at TIMESTAMPTZ;
-- A coordinator's note on a manual reminder, and who sent it.
ALTER TABLE notifications ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN created_by BIGINT REFERENCES users (id);
CREATE INDEX notifications_session_id_idx ON notifications (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX notifications_status_idx ON notifications (status, id);
CREATE INDEX notifications_user_id_idx ON notifications (user_id) WHERE user_id IS NOT NULL;

-- A client who replied STOP, or was marked opted out, gets nothing more on
-- that channel.
ALTER TABLE clients ADD COLUMN sms_opted_out BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN email_opted_out BOOLEAN NOT NULL DEFAULT FALSE;

-- The sweep looks for plans ending on given days.
CREATE INDEX data_plans_ends_on_idx ON data_plans (ends_on) WHERE ends_on IS NOT NULL;

-- One row: the reminder policy an admin set (the built-in default until then).
CREATE TABLE reminder_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    policy     TEXT        NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at TIMESTAMPTZ NOT NULL
);
