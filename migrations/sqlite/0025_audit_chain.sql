-- Events about a client's record name the fields given or changed, never
-- their values, and a list read says whether a search was made, not what
-- was searched for (docs/privacy.md). Events written before keep only
-- that, before the chain below seals them as they are.
UPDATE audit_events SET changes = CASE
        WHEN json_type(changes) <> 'object' THEN '{"fields":[]}'
        WHEN json_type(changes, '$.source') = 'text' THEN json_object(
            'fields', json((SELECT json_group_array(key) FROM (SELECT key FROM json_each(audit_events.changes) WHERE key <> 'source' ORDER BY key))),
            'source', json_extract(changes, '$.source'))
        ELSE json_object(
            'fields', json((SELECT json_group_array(key) FROM (SELECT key FROM json_each(audit_events.changes) ORDER BY key))))
    END
WHERE subject_type = 'client' AND action IN ('client.created', 'client.updated')
    AND NOT (json_type(changes) = 'object' AND json_type(changes, '$.fields') IS NOT NULL);
UPDATE audit_events
SET changes = json_set(json_remove(changes, '$.q'), '$.searched', json(CASE WHEN COALESCE(json_extract(changes, '$.q'), '') <> '' THEN 'true' ELSE 'false' END))
WHERE action = 'client.listed' AND json_type(changes) = 'object' AND json_type(changes, '$.q') IS NOT NULL;

-- The audit trail made tamper-evident (package audit, Link and Verify):
-- each event, once linked, carries its place in the chain (chain_seq, from
-- 1 without gaps) and a keyed MAC (HMAC-SHA-256 under the index key of
-- package keyring) over the previous event's MAC and its own content.
-- Events are linked shortly after they are written, by serve's audit-chain
-- job, in the order it finds them. audit_chain is the chain's head, with a
-- keyed MAC of its own, so events removed from the end are noticed too.
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX audit_events_chain_seq_idx ON audit_events (chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX audit_events_unlinked_idx ON audit_events (id) WHERE chain_seq IS NULL;
CREATE TABLE audit_chain (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq   BIGINT NOT NULL,
    last_mac   TEXT   NOT NULL,
    head_mac   TEXT   NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
