-- Funders receive the monthly utilization report through the outbox: a
-- notification may be addressed to a funder. The CHECK 0005 added with the
-- column got PostgreSQL's default name.
ALTER TABLE notifications DROP CONSTRAINT notifications_recipient_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_recipient_check
    CHECK (recipient IN ('client', 'social_worker', 'coordinator', 'funder'));
