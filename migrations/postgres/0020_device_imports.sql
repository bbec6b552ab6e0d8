-- Device imports waiting for their confirmation: the preview of a CSV file
-- (/devices/import) keeps the file here, and the confirmation names the row,
-- so that the preview page need not carry the file back (it would weigh up
-- to 700 KB). The file holds devices, never a client's details. A row is
-- marked imported in the transaction that saves its devices, so that a
-- confirmation sent twice imports once; rows older than a day are deleted
-- at the next preview.
CREATE TABLE device_imports (
    id          BIGSERIAL   PRIMARY KEY,
    created_by  BIGINT      NOT NULL REFERENCES users (id),
    digest      TEXT        NOT NULL,
    content     BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    imported_at TIMESTAMPTZ
);
CREATE INDEX device_imports_created_at_idx ON device_imports (created_at);
