-- A signed agreement's PDF (which names the client and carries their
-- signature) is sealed from now on, as their record is; sealed_key names
-- the data key it is under. 0: signed before, stored plain; the service
-- seals those at its next start (keyring.SealUnrecorded). A signed
-- agreement is still never changed or removed: only its PDF may be sealed
-- again (under a new data key), the same bytes inside, whose SHA-256 stays
-- recorded beside it and is checked on every download.
ALTER TABLE loan_agreements ADD COLUMN sealed_key INTEGER DEFAULT 0;
CREATE INDEX loan_agreements_sealed_key_idx ON loan_agreements (sealed_key);
DROP TRIGGER loan_agreements_never_updated;
CREATE TRIGGER loan_agreements_never_updated
    BEFORE UPDATE OF loan_id, method, terms_id, terms_version, language, signed_at, witness_id, sha256 ON loan_agreements
BEGIN
    SELECT RAISE(ABORT, 'signed agreements are never changed');
END;
