-- Eligibility: the client's situation, households, versioned rule sets and
-- poverty-guideline tables loaded by an admin.

CREATE TABLE households (
    id         BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);

ALTER TABLE clients ADD COLUMN household_id BIGINT REFERENCES households (id);
ALTER TABLE clients ADD COLUMN annual_income_cents BIGINT CHECK (annual_income_cents >= 0);
ALTER TABLE clients ADD COLUMN programs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN proof_verified_on DATE;
ALTER TABLE clients ADD COLUMN date_of_birth DATE;
ALTER TABLE clients ADD COLUMN needs TEXT NOT NULL DEFAULT '[]';
CREATE INDEX clients_household_id_idx ON clients (household_id);

CREATE TABLE eligibility_rule_sets (
    version    INTEGER PRIMARY KEY,
    name       TEXT        NOT NULL,
    body       TEXT        NOT NULL,
    created_by BIGINT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE guideline_tables (
    id         TEXT PRIMARY KEY,
    region     TEXT        NOT NULL,
    year       INTEGER     NOT NULL,
    body       TEXT        NOT NULL,
    created_by BIGINT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE device_requests (
    id                     BIGSERIAL PRIMARY KEY,
    client_id              BIGINT      NOT NULL REFERENCES clients (id),
    device_kind            TEXT        NOT NULL CHECK (device_kind IN ('phone', 'tablet', 'laptop', 'hotspot', 'other')),
    needs_data_plan        BOOLEAN     NOT NULL DEFAULT FALSE,
    reason                 TEXT        NOT NULL DEFAULT '',
    urgency                TEXT        NOT NULL CHECK (urgency IN ('low', 'normal', 'high')),
    status                 TEXT        NOT NULL CHECK (status IN ('submitted', 'approved', 'denied', 'needs_review', 'waitlisted', 'ready', 'fulfilled', 'cancelled')),
    outcome                TEXT        NOT NULL CHECK (outcome IN ('eligible', 'ineligible', 'needs_review')),
    rule_set_version       INTEGER     NOT NULL REFERENCES eligibility_rule_sets (version),
    decision               TEXT        NOT NULL,
    priority               INTEGER     NOT NULL DEFAULT 0,
    priority_reasons       TEXT        NOT NULL DEFAULT '[]',
    justification          TEXT        NOT NULL DEFAULT '',
    loan_id                BIGINT REFERENCES loans (id),
    created_by             BIGINT      NOT NULL REFERENCES users (id),
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    waitlisted_at          TIMESTAMPTZ
);
-- A resent form cannot file the same request twice: one open request per
-- client and device kind.
CREATE UNIQUE INDEX device_requests_open_client_id_device_kind_key ON device_requests (client_id, device_kind)
    WHERE status IN ('submitted', 'approved', 'needs_review', 'waitlisted', 'ready');
-- The waitlist, in the order it is served.
CREATE INDEX device_requests_waitlist_idx ON device_requests (device_kind, priority DESC, waitlisted_at, id)
    WHERE status = 'waitlisted';
CREATE INDEX device_requests_client_id_idx ON device_requests (client_id);
