-- Browser sessions of the web pages: one row per sign-in at /login. Like
-- api_tokens, only a SHA-256 hash of the session id is stored (the id is in
-- the browser's cookie alone). A session ends at expires_at (12 hours after
-- sign-in), after the idle timeout since last_seen_at, or when revoked_at is
-- set: at sign-out, and when the user is deactivated, changes role or gets
-- a new password, in the same statements that revoke their tokens.
CREATE TABLE browser_sessions (
    id           BIGSERIAL   PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id),
    id_hash      TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX browser_sessions_id_hash_key ON browser_sessions (id_hash);
CREATE INDEX browser_sessions_user_id_idx ON browser_sessions (user_id) WHERE revoked_at IS NULL;
