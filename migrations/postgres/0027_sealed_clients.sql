-- Client personal fields sealed (package clients, keys in data_keys): the
-- case number, names, phone, email, postal code, date of birth, income,
-- programs and proof date move into one sealed value, personal, bound to
-- the row. What the database still needs to find or count clients is kept
-- beside it: keyed digests for equality (case number, phone, email), keyed
-- digests of the first characters of the case number and names (search_*),
-- and the non-identifying attributes reports read (birth year, postal
-- prefix).
-- The plain columns stay, blank: the service seals the rows written before
-- this migration when it starts (clients.SealStored), which SQL cannot.
ALTER TABLE clients ADD COLUMN personal TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN case_number_index TEXT;
ALTER TABLE clients ADD COLUMN phone_index TEXT;
ALTER TABLE clients ADD COLUMN email_index TEXT;
ALTER TABLE clients ADD COLUMN birth_year INTEGER;
ALTER TABLE clients ADD COLUMN postal_prefix TEXT NOT NULL DEFAULT '';
DROP INDEX clients_case_number_key;
DROP INDEX clients_phone_idx;
DROP INDEX clients_sort_key_idx;
CREATE UNIQUE INDEX clients_case_number_index_key ON clients (case_number_index);
CREATE INDEX clients_phone_index_idx ON clients (phone_index) WHERE phone_index IS NOT NULL;
CREATE INDEX clients_email_index_idx ON clients (email_index) WHERE email_index IS NOT NULL;
CREATE INDEX clients_unsealed_idx ON clients (id) WHERE personal = '';
ALTER TABLE clients ADD COLUMN search_case TEXT;
ALTER TABLE clients ADD COLUMN search_first TEXT;
ALTER TABLE clients ADD COLUMN search_last TEXT;
CREATE INDEX clients_search_case_idx ON clients (search_case);
CREATE INDEX clients_search_first_idx ON clients (search_first);
CREATE INDEX clients_search_last_idx ON clients (search_last);

-- Reminders no longer keep a client's address (the outbox reads it from the
-- sealed record when it sends): the addresses copied before go.
UPDATE notifications SET address = '' WHERE recipient = 'client';
