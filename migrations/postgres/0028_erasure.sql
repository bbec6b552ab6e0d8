-- Erasure (clients.Anonymise): a client erased on request or after years
-- without activity keeps only what reports count (birth year, postal
-- prefix, household, needs); anonymised_at marks them, and hides them from
-- everyone's view.
ALTER TABLE clients ADD COLUMN anonymised_at TIMESTAMPTZ;

-- The retention policy an admin set (retention.Policy as JSON); without a
-- row the documented defaults apply.
CREATE TABLE retention_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    policy     TEXT      NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at TIMESTAMPTZ NOT NULL
);

-- The data key a client's sealed record is under (keyring.SealedUnder), so
-- that after a new data key is made (devicebank keys rotate-data) the
-- records under older ones are found and sealed again (clients.Reseal).
ALTER TABLE clients ADD COLUMN personal_key BIGINT;
CREATE INDEX clients_personal_key_idx ON clients (personal_key);
