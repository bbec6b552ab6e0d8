-- Each instance keeps successful token lookups for a few seconds
-- (accounts.TokenCache, --token-cache-ttl) and LISTENs on devicebank_auth
-- to forget them. These triggers send that notification whenever something
-- a token lookup reads changes, whoever changes it: the API, the pages, the
-- CLI or an operator's SQL. PostgreSQL delivers it when the transaction
-- commits, once per transaction however many rows changed.
-- api_tokens.last_used_at is left out: it is written once a minute per
-- token in use, and a lookup does not depend on it being fresh.
--
-- The columns are compared in the functions rather than in the triggers'
-- WHEN: a column named in a WHEN cannot have its type changed (ALTER
-- COLUMN ... TYPE is refused while the trigger exists), which would tie
-- every later migration of these columns to these triggers.
CREATE FUNCTION devicebank_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
       OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
       OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
       OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        PERFORM pg_notify('devicebank_auth', '');
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER api_tokens_auth_changed AFTER UPDATE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION devicebank_token_changed();

CREATE FUNCTION devicebank_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.active IS DISTINCT FROM NEW.active
       OR OLD.role IS DISTINCT FROM NEW.role
       OR OLD.name IS DISTINCT FROM NEW.name THEN
        PERFORM pg_notify('devicebank_auth', '');
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_auth_changed AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION devicebank_user_changed();

-- A deletion (or TRUNCATE) notifies once per statement: removing many rows
-- costs one notification, and one that removed none a harmless one.
CREATE FUNCTION devicebank_auth_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devicebank_auth', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER api_tokens_auth_removed AFTER DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION devicebank_auth_removed();
CREATE TRIGGER users_auth_removed AFTER DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION devicebank_auth_removed();
