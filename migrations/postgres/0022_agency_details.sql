-- The agency's details as an admin saved them on /agreement/terms: one row
-- (id 1), absent until the first save. A NULL column falls back to the
-- server's setting (--agency-name, --agency-address, --agency-phone,
-- --agency-email, --currency, --agency-logo); no_logo is an admin's "remove
-- the logo", which hides the setting's logo too. The logo is a PNG that
-- documents.CleanImage returned.
CREATE TABLE agency_details (
    id         BIGINT      PRIMARY KEY CHECK (id = 1),
    name       TEXT,
    address    TEXT,
    phone      TEXT,
    email      TEXT,
    currency   TEXT,
    logo       BYTEA,
    no_logo    BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by BIGINT      REFERENCES users (id)
);
