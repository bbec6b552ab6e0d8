-- Loan agreement terms: plain text per language, kept as numbered versions.
-- A version is never changed once saved (the service has no update): a
-- loan's agreement names the row it printed, by id or by (language,
-- version). Version 1 of a shipped language is the shipped text, saved the
-- first time it is read.
CREATE TABLE agreement_terms (
    id         BIGSERIAL PRIMARY KEY,
    language   TEXT      NOT NULL,
    version    INTEGER   NOT NULL CHECK (version >= 1),
    body       TEXT      NOT NULL,
    created_by BIGINT    REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX agreement_terms_language_version_key ON agreement_terms (language, version);
