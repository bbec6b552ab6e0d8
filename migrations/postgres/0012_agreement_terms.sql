-- Loan agreement terms: plain text per language, kept as numbered versions.
-- A version is never changed or removed once saved (the service has no
-- such path, and triggers refuse one): a loan's agreement names the row it
-- printed, by id or by (language, version). Version 1 of a shipped
-- language is the shipped text, saved the first time it is read.
CREATE TABLE agreement_terms (
    id         BIGSERIAL PRIMARY KEY,
    language   TEXT      NOT NULL,
    version    INTEGER   NOT NULL CHECK (version >= 1),
    body       TEXT      NOT NULL,
    created_by BIGINT    REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX agreement_terms_language_version_key ON agreement_terms (language, version);

-- A saved version is never changed or removed: agreements name it.
CREATE FUNCTION agreement_terms_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agreement terms versions are never changed or removed';
END;
$$;
CREATE TRIGGER agreement_terms_unchanged BEFORE UPDATE OR DELETE ON agreement_terms
    FOR EACH ROW EXECUTE FUNCTION agreement_terms_unchanged();
