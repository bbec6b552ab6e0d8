-- A loan's signed agreement: who signed how, against which terms, and the
-- signed PDF itself, kept so that every later download is the same bytes
-- (its SHA-256 recorded beside it) whatever the terms, the agency's details
-- or the records become. One per loan: the primary key makes a second
-- signing a conflict. A signed agreement is never changed or removed.
CREATE TABLE loan_agreements (
    loan_id       INTEGER   PRIMARY KEY REFERENCES loans (id),
    method        TEXT      NOT NULL CHECK (method IN ('drawn', 'typed', 'paper')),
    terms_id      BIGINT    NOT NULL REFERENCES agreement_terms (id),
    terms_version INTEGER   NOT NULL,
    language      TEXT      NOT NULL,
    signed_at     TIMESTAMP NOT NULL,
    witness_id    BIGINT    NOT NULL REFERENCES users (id),
    pdf           BLOB      NOT NULL,
    sha256        TEXT      NOT NULL CHECK (length(sha256) = 64)
);

CREATE TRIGGER loan_agreements_never_updated BEFORE UPDATE ON loan_agreements
BEGIN
    SELECT RAISE(ABORT, 'signed agreements are never changed');
END;
CREATE TRIGGER loan_agreements_never_deleted BEFORE DELETE ON loan_agreements
BEGIN
    SELECT RAISE(ABORT, 'signed agreements are never removed');
END;
