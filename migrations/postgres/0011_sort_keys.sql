-- Sort keys: lists ordered by a name are ordered by a key computed in Go
-- (storage.SortKey) and compared byte by byte, so that both databases, and
-- every PostgreSQL collation, page through them in the same order. The keys
-- of existing rows are filled in by the migration runner after this file.
ALTER TABLE clients ADD COLUMN sort_key BYTEA;
ALTER TABLE users ADD COLUMN sort_key BYTEA;
ALTER TABLE devices ADD COLUMN sort_key BYTEA;
CREATE INDEX clients_sort_key_idx ON clients (sort_key, id);
CREATE INDEX users_sort_key_idx ON users (sort_key, id);
CREATE INDEX devices_sort_key_idx ON devices (sort_key, id);

-- One row: the collation the stored keys were computed with.
CREATE TABLE sort_key_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT    NOT NULL
);
