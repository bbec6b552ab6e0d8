-- Retention (package retention): a notification's text, address, note and
-- last error are erased some time after it ended (sent, failed or
-- cancelled); erased_at says when, so the lists can say so and a second
-- run passes it by.
ALTER TABLE notifications ADD COLUMN erased_at TIMESTAMPTZ;
CREATE INDEX notifications_unerased_idx ON notifications (id) WHERE erased_at IS NULL AND status IN ('sent', 'failed', 'cancelled');
