-- Nothing on SQLite: the token cache that PostgreSQL's 0023 notifies is
-- used only on PostgreSQL (a lookup on SQLite is in-process and cheap, and
-- a CLI command run beside the server could not tell it of a change).
-- The file keeps the two migration lists alike.
SELECT 1;
