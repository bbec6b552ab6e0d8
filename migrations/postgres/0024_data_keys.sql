-- The keys that protect client data (package keyring): each wrapped under
-- the key-encryption key (DEVICEBANK_DATA_KEY), which is never stored here.
-- kek_id names the key-encryption key that wrapped it, so a wrong key is
-- told apart from a damaged row. One key of each purpose is current (new
-- values are sealed under it); a retired data key still opens what it
-- sealed until every value is sealed again under the current one.
CREATE TABLE data_keys (
    id         BIGSERIAL PRIMARY KEY,
    purpose    TEXT        NOT NULL CHECK (purpose IN ('data', 'index')),
    wrapped    TEXT        NOT NULL,
    kek_id     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX data_keys_one_current ON data_keys (purpose) WHERE retired_at IS NULL;
