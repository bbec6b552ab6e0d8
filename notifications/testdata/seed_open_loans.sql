-- Seeds a freshly migrated, empty PostgreSQL database with an agency at
-- scale for the reminders sweep benchmark (BenchmarkSweepMillionOpenLoans,
-- app/sweep_bench_test.go; figures in docs/PERFORMANCE.md):
--
--   2 coordinators, 1 admin and 200 social workers;
--   N clients (preferred channel 55% sms, 35% email, 10% none; about 1%
--     without a phone and 1% without an email, 3% opted out of SMS, 2% out
--     of email; languages 70% en, 20% es, 5% fr, 5% es-MX), each with one of
--     the social workers;
--   N devices on loan (phones, laptops, tablets, hotspots);
--   N open loans, one per client and device, due uniformly from today-30 to
--     today+90 (a quarter of them overdue), issued a loan term before, never
--     today;
--   N/5 data plans, one on every fifth loan, ending uniformly from today-30
--     to today+149 (a tenth with no end);
--   3,000 training sessions from today-30 to today+59 (every 25th cancelled),
--     10 places each: 9 enrolled, 1 withdrawn.
--
-- Everything is computed from the row number, so two runs seed the same
-- rows. N and today are read from the settings bench.loans (default
-- 1000000) and bench.today (default the server's current date):
--
--   PGOPTIONS='-c bench.loans=1000000 -c bench.today=2026-06-15' \
--       psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f notifications/testdata/seed_open_loans.sql
--
-- The benchmark sends the whole file as one statement string, so it runs
-- in one transaction and must not contain a question mark (bun reads it as
-- a placeholder). Afterwards the benchmark runs VACUUM on the tables, as
-- autovacuum would have in production; do the same after psql.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM clients) OR EXISTS (SELECT 1 FROM loans) THEN
        RAISE EXCEPTION 'seed_open_loans.sql needs a freshly migrated, empty database';
    END IF;
END
$$;

CREATE TEMPORARY TABLE seed_params AS
SELECT coalesce(nullif(current_setting('bench.loans', true), ''), '1000000')::int          AS n,
       coalesce(nullif(current_setting('bench.today', true), ''), CURRENT_DATE::text)::date AS today,
       TIMESTAMPTZ '2025-01-01 00:00:00+00'                                                  AS created;

-- Staff: ids 1-2 coordinators, 3 an admin, 4-203 social workers.
INSERT INTO users (id, email, name, role, password_hash, active, created_at, updated_at)
SELECT i,
       CASE WHEN i <= 2 THEN 'coordinator' || i WHEN i = 3 THEN 'admin' ELSE 'worker' || (i - 3) END || '@bench.test',
       CASE WHEN i <= 2 THEN 'Coordinator ' || i WHEN i = 3 THEN 'Admin' ELSE 'Social worker ' || (i - 3) END,
       CASE WHEN i <= 2 THEN 'coordinator' WHEN i = 3 THEN 'admin' ELSE 'social_worker' END,
       'not a real hash', TRUE, p.created, p.created
FROM generate_series(1, 203) AS s(i), seed_params p;

-- Clients as the service stores them (clients/sealed.go): the personal
-- fields sealed into personal (a stand-in of a real sealed record's size,
-- about 320 characters: the sweep never opens it), the plain columns blank,
-- keyed digests where the client has a phone, an email (stand-ins too).
INSERT INTO clients (id, case_number, first_name, last_name, phone, email, preferred_language, preferred_channel,
                     household_size, postal_code, caseworker_id, sms_opted_out, email_opted_out, created_at, updated_at,
                     personal, personal_key, case_number_index, phone_index, email_index, postal_prefix)
SELECT i, '', '', '', '', '',
       CASE WHEN i % 20 < 14 THEN 'en' WHEN i % 20 < 18 THEN 'es' WHEN i % 20 = 18 THEN 'fr' ELSE 'es-MX' END,
       CASE WHEN i * 37 % 100 < 55 THEN 'sms' WHEN i * 37 % 100 < 90 THEN 'email' ELSE 'none' END,
       1 + i % 6,
       '',
       4 + i % 200,
       i % 31 = 0,
       i % 53 = 0,
       p.created, p.created,
       'dbk1:' || repeat(md5(i::text), 10),
       1,
       md5('case' || i),
       CASE WHEN i % 97 = 0 THEN NULL ELSE md5('phone' || (i % 10000)) END,
       CASE WHEN i % 89 = 0 THEN NULL ELSE md5('email' || i) END,
       '606'
FROM seed_params p, generate_series(1, p.n) AS s(i);

INSERT INTO devices (id, kind, make, model, serial, imei, asset_tag, status, condition, funding_source,
                     purchase_cost_cents, created_at, updated_at)
SELECT i,
       CASE WHEN i % 10 < 5 THEN 'phone' WHEN i % 10 < 7 THEN 'laptop' WHEN i % 10 < 9 THEN 'tablet' ELSE 'hotspot' END,
       CASE WHEN i % 10 < 5 THEN 'Motorola' WHEN i % 10 < 7 THEN 'Lenovo' WHEN i % 10 < 9 THEN 'Samsung' ELSE 'Franklin' END,
       CASE WHEN i % 10 < 5 THEN 'moto g' WHEN i % 10 < 7 THEN 'ThinkPad L13' WHEN i % 10 < 9 THEN 'Galaxy Tab A' ELSE 'RG350' END,
       'SN' || lpad(i::text, 9, '0'),
       CASE WHEN i % 10 < 5 THEN '35' || lpad(i::text, 13, '0') ELSE '' END,
       'DB-' || lpad(i::text, 7, '0'),
       'on_loan', 'good', 'digital equity grant', 15000 + (i % 5) * 5000,
       p.created, p.created
FROM seed_params p, generate_series(1, p.n) AS s(i);

-- Plan j is on loan 5j.
INSERT INTO data_plans (id, carrier, line_number, iccid, monthly_cost_cents, data_cap_mb, starts_on, ends_on,
                        created_at, updated_at)
SELECT j, 'Bench Mobile', '773' || lpad(j::text, 7, '0'), '8901' || lpad(j::text, 15, '0'), 1500, 15360,
       p.today - 400,
       CASE WHEN j % 10 = 0 THEN NULL ELSE p.today - 30 + (j * 7 % 180) END,
       p.created, p.created
FROM seed_params p, generate_series(1, p.n / 5) AS s(j);

INSERT INTO loans (id, client_id, device_id, data_plan_id, status, due_on, issued_at, issued_by, updated_at)
SELECT i, i, i,
       CASE WHEN i % 5 = 0 THEN i / 5 END,
       'open',
       p.today - 30 + (i % 121),
       (least(p.today - 30 + (i % 121) - 90, p.today - 1) + TIME '15:00') AT TIME ZONE 'UTC',
       1 + i % 2,
       (least(p.today - 30 + (i % 121) - 90, p.today - 1) + TIME '15:00') AT TIME ZONE 'UTC'
FROM seed_params p, generate_series(1, p.n) AS s(i);

-- 33 or 34 sessions a day, on the hour from 14:00 to 22:00 UTC.
INSERT INTO training_sessions (id, title, topic, language, location, starts_at, ends_at, capacity, enrolled_count,
                               instructor, status, created_by, created_at, updated_at)
SELECT s,
       'Device basics ' || s, 'device_basics', CASE WHEN s % 4 = 0 THEN 'es' ELSE 'en' END, 'Library room ' || (s % 5),
       (p.today - 30 + (s % 90) + TIME '14:00' + (s / 90 % 9) * INTERVAL '1 hour') AT TIME ZONE 'UTC',
       (p.today - 30 + (s % 90) + TIME '15:30' + (s / 90 % 9) * INTERVAL '1 hour') AT TIME ZONE 'UTC',
       12, 9, 'Instructor ' || (s % 7),
       CASE WHEN s % 25 = 0 THEN 'cancelled' ELSE 'scheduled' END,
       1, p.created, p.created
FROM seed_params p, generate_series(1, 3000) AS g(s);

INSERT INTO training_enrollments (session_id, client_id, status, created_by, created_at, updated_at)
SELECT s, (s * 10 + k) % p.n + 1, CASE WHEN k = 9 THEN 'withdrawn' ELSE 'enrolled' END, 1, p.created, p.created
FROM seed_params p, generate_series(1, 3000) AS g(s), generate_series(0, 9) AS h(k);

-- The rows above were given their ids: move the sequences past them.
SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
SELECT setval(pg_get_serial_sequence('clients', 'id'), (SELECT max(id) FROM clients));
SELECT setval(pg_get_serial_sequence('devices', 'id'), (SELECT max(id) FROM devices));
SELECT setval(pg_get_serial_sequence('data_plans', 'id'), greatest((SELECT max(id) FROM data_plans), 1));
SELECT setval(pg_get_serial_sequence('loans', 'id'), (SELECT max(id) FROM loans));
SELECT setval(pg_get_serial_sequence('training_sessions', 'id'), (SELECT max(id) FROM training_sessions));

DROP TABLE seed_params;

ANALYZE users, clients, devices, data_plans, loans, training_sessions, training_enrollments;
