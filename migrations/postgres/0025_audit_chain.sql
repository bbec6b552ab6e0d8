-- The audit trail made tamper-evident (package audit, Link and Verify):
-- each event, once linked, carries its place in the chain (chain_seq, from
-- 1 without gaps) and a keyed MAC (HMAC-SHA-256 under the index key of
-- package keyring) over the previous event's MAC and its own content.
-- Events are linked shortly after they are written, by serve's audit-chain
-- job, in the order it finds them; audit_chain is the chain's head, so an
-- event removed from the end is noticed too.
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_events ADD COLUMN chain_mac TEXT;
CREATE UNIQUE INDEX audit_events_chain_seq_idx ON audit_events (chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX audit_events_unlinked_idx ON audit_events (id) WHERE chain_seq IS NULL;
CREATE TABLE audit_chain (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq   BIGINT NOT NULL,
    last_mac   TEXT   NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
