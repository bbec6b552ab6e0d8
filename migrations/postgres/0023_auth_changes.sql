-- Each instance keeps successful token lookups for a few seconds
-- (accounts.TokenCache, --token-cache-ttl) and LISTENs on devicebank_auth
-- to forget them. These triggers send that notification whenever something
-- a token lookup reads changes, whoever changes it: the API, the pages, the
-- CLI or an operator's SQL. PostgreSQL delivers it when the transaction
-- commits, once per transaction however many rows changed.
-- api_tokens.last_used_at is left out: it is written once a minute per
-- token in use, and a lookup does not depend on it being fresh.
CREATE FUNCTION devicebank_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devicebank_auth', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_tokens_auth_changed AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
       OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
       OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION devicebank_auth_changed();
CREATE TRIGGER users_auth_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active
       OR OLD.role IS DISTINCT FROM NEW.role
       OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION devicebank_auth_changed();
-- A deletion (or TRUNCATE) notifies once per statement: removing many rows
-- costs one notification, and one that removed none a harmless one.
CREATE TRIGGER api_tokens_auth_removed AFTER DELETE OR TRUNCATE ON api_tokens FOR EACH STATEMENT
    EXECUTE FUNCTION devicebank_auth_changed();
CREATE TRIGGER users_auth_removed AFTER DELETE OR TRUNCATE ON users FOR EACH STATEMENT
    EXECUTE FUNCTION devicebank_auth_changed();
