-- Tokens expire. expires_at is the end of a token's lifetime, set when it is
-- made; the idle timeout is measured from last_used_at by the service.
-- Tokens made before this migration get the default lifetime, 30 days, from
-- when they were made. The column's default is the epoch: a row inserted
-- without expires_at is expired, never everlasting.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch';
UPDATE api_tokens SET expires_at = created_at + INTERVAL '30 days';
