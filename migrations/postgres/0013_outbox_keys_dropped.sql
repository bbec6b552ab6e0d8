-- The outbox names the loan, client and staff member a notification is
-- about without foreign keys (docs/architecture.md). Migration 0005 came to
-- drop them only after it had been released, so a database migrated before
-- then still has them, and checks and locks rows a new one does not. Drop
-- them wherever they are; the names are those PostgreSQL gave them when
-- 0004 and 0005 created the columns. The session, data plan and author
-- keep their keys.
ALTER TABLE notifications
    DROP CONSTRAINT IF EXISTS notifications_client_id_fkey,
    DROP CONSTRAINT IF EXISTS notifications_loan_id_fkey,
    DROP CONSTRAINT IF EXISTS notifications_user_id_fkey;
