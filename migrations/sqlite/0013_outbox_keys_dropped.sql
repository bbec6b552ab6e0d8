-- Nothing to do on SQLite: 0011 rebuilt the outbox without these keys. The
-- file keeps the numbering of both dialects alike (PostgreSQL's 0013 drops
-- the outbox keys that databases migrated with the first 0005 still have).
SELECT 1;
