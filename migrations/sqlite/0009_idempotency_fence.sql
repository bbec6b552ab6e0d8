-- Idempotency keys: each claim gets a random token, and the transactions of
-- the request that holds it set applied, on the condition that the token
-- is still theirs. A lapsed claim is taken over only if nothing was
-- applied, so a create never runs twice.
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;

-- Answers are no longer stored: a resend re-reads the record. Only an error
-- answer is kept (the service's own message, never a record), and the bodies
-- stored so far, which may hold API tokens and client records, are cleared.
ALTER TABLE idempotency_keys RENAME COLUMN response_body TO error_body;
UPDATE idempotency_keys SET error_body = '' WHERE status_code < 400 OR status_code >= 500;

-- Keys answered with success were applied; so, for all anyone can tell, were
-- those still in progress when the server stopped for this upgrade.
UPDATE idempotency_keys SET applied = 1 WHERE status_code < 400;
