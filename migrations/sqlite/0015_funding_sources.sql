-- Funding sources become records, managed by admins, that devices and data
-- plans name by id and funder users are linked to. Names are unique ignoring
-- case: name_key is the name as strings.ToLower writes it (the service sets
-- it on every write; lower() is Go's strings.ToLower on SQLite connections).
CREATE TABLE funding_sources (
    id                  INTEGER PRIMARY KEY,
    name                TEXT      NOT NULL CHECK (name <> ''),
    name_key            TEXT      NOT NULL,
    funder_organization TEXT      NOT NULL DEFAULT '',
    grant_reference     TEXT      NOT NULL DEFAULT '',
    grant_starts_on     DATE,
    grant_ends_on       DATE,
    notes               TEXT      NOT NULL DEFAULT '',
    -- Orders the list by name alike on both databases (see 0011); the
    -- migration runner fills it in for the rows made below.
    sort_key            BLOB,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    CHECK (grant_starts_on IS NULL OR grant_ends_on IS NULL OR grant_ends_on >= grant_starts_on)
);
CREATE UNIQUE INDEX funding_sources_name_key ON funding_sources (name_key);
CREATE INDEX funding_sources_sort_key_idx ON funding_sources (sort_key, id);

ALTER TABLE devices ADD COLUMN funding_source_id BIGINT REFERENCES funding_sources (id);
ALTER TABLE data_plans ADD COLUMN funding_source_id BIGINT REFERENCES funding_sources (id);
CREATE INDEX devices_funding_source_id_idx ON devices (funding_source_id) WHERE funding_source_id IS NOT NULL;
CREATE INDEX data_plans_funding_source_id_idx ON data_plans (funding_source_id) WHERE funding_source_id IS NOT NULL;

-- Each distinct text a device carried becomes one record, names differing
-- only in case being one source, spelled as on the first device that
-- carried it (the lowest id: the same choice on both databases), and made
-- when that device was. Each is recorded in the audit trail, by the system.
INSERT INTO funding_sources (name, name_key, created_at, updated_at)
SELECT trim(d.funding_source), k.name_key, d.created_at, d.created_at
FROM (SELECT lower(trim(funding_source)) AS name_key, MIN(id) AS first_id
      FROM devices WHERE trim(funding_source) <> ''
      GROUP BY lower(trim(funding_source))) AS k
JOIN devices AS d ON d.id = k.first_id
ORDER BY k.first_id;

INSERT INTO audit_events (occurred_at, actor_id, action, subject_type, subject_id, changes)
SELECT strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), NULL, 'funding_source.created', 'funding_source', id,
       json_object('name', name, 'from', 'the text of its devices')
FROM funding_sources ORDER BY id;

UPDATE devices SET funding_source_id =
    (SELECT fs.id FROM funding_sources AS fs WHERE fs.name_key = lower(trim(devices.funding_source)))
WHERE trim(funding_source) <> '';

-- devices.funding_source, the old text, stays as the migration found it and
-- is read and written by nothing from now on (the benchmark seed in
-- notifications/testdata still writes it); a later migration may drop it.

-- Which funding sources a funder user reports on.
CREATE TABLE user_funding_sources (
    user_id           BIGINT NOT NULL REFERENCES users (id),
    funding_source_id BIGINT NOT NULL REFERENCES funding_sources (id),
    PRIMARY KEY (user_id, funding_source_id)
);
CREATE INDEX user_funding_sources_funding_source_id_idx ON user_funding_sources (funding_source_id);
