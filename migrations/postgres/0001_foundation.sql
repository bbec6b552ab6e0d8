-- Foundation: staff, tokens, clients, the device pool, data plans, loans,
-- the audit trail and idempotency keys.

CREATE TABLE users (
    id                   BIGSERIAL PRIMARY KEY,
    email                TEXT        NOT NULL,
    name                 TEXT        NOT NULL,
    role                 TEXT        NOT NULL CHECK (role IN ('admin', 'coordinator', 'social_worker', 'funder')),
    password_hash        TEXT        NOT NULL,
    must_change_password BOOLEAN     NOT NULL DEFAULT FALSE,
    active               BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id),
    name         TEXT        NOT NULL,
    token_hash   TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE clients (
    id                 BIGSERIAL PRIMARY KEY,
    case_number        TEXT        NOT NULL,
    first_name         TEXT        NOT NULL,
    last_name          TEXT        NOT NULL,
    phone              TEXT        NOT NULL DEFAULT '',
    email              TEXT        NOT NULL DEFAULT '',
    preferred_language TEXT        NOT NULL DEFAULT 'en',
    preferred_channel  TEXT        NOT NULL CHECK (preferred_channel IN ('sms', 'email', 'none')),
    household_size     INTEGER     NOT NULL CHECK (household_size >= 1),
    postal_code        TEXT        NOT NULL DEFAULT '',
    caseworker_id      BIGINT      NOT NULL REFERENCES users (id),
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX clients_case_number_key ON clients (case_number);
CREATE INDEX clients_caseworker_id_idx ON clients (caseworker_id);

CREATE TABLE devices (
    id                  BIGSERIAL PRIMARY KEY,
    kind                TEXT        NOT NULL CHECK (kind IN ('phone', 'tablet', 'laptop', 'hotspot', 'other')),
    make                TEXT        NOT NULL,
    model               TEXT        NOT NULL,
    serial              TEXT        NOT NULL DEFAULT '',
    imei                TEXT        NOT NULL DEFAULT '',
    asset_tag           TEXT        NOT NULL,
    status              TEXT        NOT NULL CHECK (status IN ('available', 'on_loan', 'inspection', 'repair', 'lost', 'retired')),
    condition           TEXT        NOT NULL CHECK (condition IN ('new', 'good', 'fair', 'poor', 'damaged')),
    funding_source      TEXT        NOT NULL DEFAULT '',
    purchase_cost_cents BIGINT      NOT NULL DEFAULT 0 CHECK (purchase_cost_cents >= 0),
    notes               TEXT        NOT NULL DEFAULT '',
    last_wiped_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX devices_asset_tag_key ON devices (asset_tag);
CREATE UNIQUE INDEX devices_imei_key ON devices (imei) WHERE imei <> '';
CREATE UNIQUE INDEX devices_make_serial_key ON devices (make, serial) WHERE serial <> '';
CREATE INDEX devices_status_kind_idx ON devices (status, kind);

CREATE TABLE device_accessories (
    id                     BIGSERIAL PRIMARY KEY,
    device_id              BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    position               INTEGER NOT NULL,
    name                   TEXT    NOT NULL,
    replacement_cost_cents BIGINT  NOT NULL DEFAULT 0 CHECK (replacement_cost_cents >= 0)
);
CREATE INDEX device_accessories_device_id_idx ON device_accessories (device_id, position);

CREATE TABLE data_plans (
    id                 BIGSERIAL PRIMARY KEY,
    carrier            TEXT        NOT NULL,
    line_number        TEXT        NOT NULL DEFAULT '',
    iccid              TEXT        NOT NULL DEFAULT '',
    monthly_cost_cents BIGINT      NOT NULL DEFAULT 0 CHECK (monthly_cost_cents >= 0),
    data_cap_mb        INTEGER CHECK (data_cap_mb > 0),
    starts_on          DATE        NOT NULL,
    ends_on            DATE,
    notes              TEXT        NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE UNIQUE INDEX data_plans_iccid_key ON data_plans (iccid) WHERE iccid <> '';
CREATE UNIQUE INDEX data_plans_line_number_key ON data_plans (line_number) WHERE line_number <> '';

CREATE TABLE loans (
    id                  BIGSERIAL PRIMARY KEY,
    client_id           BIGINT      NOT NULL REFERENCES clients (id),
    device_id           BIGINT      NOT NULL REFERENCES devices (id),
    data_plan_id        BIGINT REFERENCES data_plans (id),
    status              TEXT        NOT NULL CHECK (status IN ('open', 'returned', 'lost')),
    due_on              DATE        NOT NULL,
    renewals            INTEGER     NOT NULL DEFAULT 0,
    notes               TEXT        NOT NULL DEFAULT '',
    issued_at           TIMESTAMPTZ NOT NULL,
    issued_by           BIGINT      NOT NULL REFERENCES users (id),
    returned_at         TIMESTAMPTZ,
    return_condition    TEXT        NOT NULL DEFAULT '',
    return_notes        TEXT        NOT NULL DEFAULT '',
    lost_at             TIMESTAMPTZ,
    lost_notes          TEXT        NOT NULL DEFAULT '',
    recovered_at        TIMESTAMPTZ,
    recovered_condition TEXT        NOT NULL DEFAULT '',
    updated_at          TIMESTAMPTZ NOT NULL
);
-- The rule that matters most: a device (and a data plan) is on at most one open loan.
CREATE UNIQUE INDEX loans_open_device_id_key ON loans (device_id) WHERE status = 'open';
CREATE UNIQUE INDEX loans_open_data_plan_id_key ON loans (data_plan_id) WHERE status = 'open' AND data_plan_id IS NOT NULL;
CREATE INDEX loans_client_id_idx ON loans (client_id);
CREATE INDEX loans_device_id_idx ON loans (device_id);
CREATE INDEX loans_status_due_on_idx ON loans (status, due_on);

CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    occurred_at  TIMESTAMPTZ NOT NULL,
    actor_id     BIGINT,
    action       TEXT        NOT NULL,
    subject_type TEXT        NOT NULL,
    subject_id   BIGINT      NOT NULL,
    client_id    BIGINT,
    device_id    BIGINT,
    loan_id      BIGINT,
    changes      TEXT        NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_client_id_idx ON audit_events (client_id, id) WHERE client_id IS NOT NULL;
CREATE INDEX audit_events_device_id_idx ON audit_events (device_id, id) WHERE device_id IS NOT NULL;
CREATE INDEX audit_events_subject_idx ON audit_events (subject_type, subject_id, id);

CREATE TABLE idempotency_keys (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT      NOT NULL,
    key           TEXT        NOT NULL,
    method        TEXT        NOT NULL,
    path          TEXT        NOT NULL,
    request_hash  TEXT        NOT NULL,
    status_code   INTEGER     NOT NULL DEFAULT 0,
    response_body TEXT        NOT NULL DEFAULT '',
    location      TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_user_id_key_key ON idempotency_keys (user_id, key);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('asset_tag', 0);
