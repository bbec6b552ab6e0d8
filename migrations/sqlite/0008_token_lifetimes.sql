-- Tokens expire. expires_at is the end of a token's lifetime, set when it is
-- made; the idle timeout is measured from last_used_at by the service.
-- Tokens made before this migration get the default lifetime, 30 days, from
-- when they were made. The column's default is the epoch: a row inserted
-- without expires_at is expired, never everlasting.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
UPDATE api_tokens SET expires_at = strftime('%Y-%m-%d %H:%M:%f+00:00', created_at, '+30 days');
