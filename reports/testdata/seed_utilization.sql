-- Seeds a freshly migrated, empty PostgreSQL database with three years of
-- an agency's lending, for the utilization report benchmark
-- (BenchmarkUtilizationReport, reports/bench_test.go; figures in
-- docs/PERFORMANCE.md). With N loans (default 1,000,000):
--
--   2 coordinators, 1 admin and 200 social workers;
--   3N/10 clients (70% with a date of birth, 40% in a household of two,
--     three quarters with needs, postal codes 60600-60659), created in the
--     two months before the three years;
--   N/10 devices (50% phones, 20% laptops, 20% tablets, 10% hotspots)
--     created uniformly over the three years up to 30 days before the end,
--     each lent in turn, as many times as its share of the device-days;
--   N loans: each in a slot of its device's life (about 55 days; a
--     device's slots end up to 60 days before the end, so that the devices
--     do not turn over in step), issued 5-25% into the slot, for 30-70% of
--     it (due after 28 days, 42 for laptops and tablets; 15% renewed once, halfway, by 28 days, with a
--     'loan.renewed' audit event); a device's last loan is open at the end
--     for 60% of the devices (a distinct client each; issued any time from
--     early in its slot to the last day), lost for 2%; 4% of
--     the devices are retired after their last loan; 5% of returns go to repair;
--     a returned device is inspected until 30% of the way to the slot's end
--     (repaired from 20% to 80%);
--   the device status history consistent with it: available at creation,
--     on_loan at issue, inspection at return, then repair, available or
--     retired; lost at a loss;
--   a data plan on every hotspot and every tenth phone, on their loans;
--   device requests as eligibility/requests.go writes them, with their
--     audit events: one for every sixth loan, fulfilled by it (a third
--     waitlisted first); N/40 denied at filing by a failed rule; N/100 sent
--     to review, then approved (waitlisted, then cancelled) or denied by
--     staff (those filed in the last two weeks still in review); N/50
--     waitlisted, cancelled after 20-60 days unless filed in the last 120
--     days (still waiting at the end);
--   'device.created', 'loan.issued' and 'loan.returned' audit events;
--   two training sessions a day (1 in 25 cancelled), 10 places each: 9
--     enrolled (attendance 70% present, 10% late, 20% absent; modules
--     completed by 60% of those present), 1 withdrawn.
--
-- The three years end at 2026-01-01 00:00 UTC. Everything is computed from
-- row numbers, so two runs seed the same rows. N is read from the setting
-- bench.loans (at least 1000):
--
--   PGOPTIONS='-c bench.loans=1000000' \
--       psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f reports/testdata/seed_utilization.sql
--
-- The benchmark sends the whole file as one statement string, so it runs
-- in one transaction and must not contain a question mark (bun reads it as
-- a placeholder). Afterwards it runs VACUUM ANALYZE on the tables, as
-- autovacuum would have; do the same after psql. The clients' details and
-- the requests' decisions and reasons are written plain, as before they
-- were sealed: the benchmark seals them (clients.Service.SealStored and
-- eligibility.Service.SealStored), as `devicebank migrate` does.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM clients) OR EXISTS (SELECT 1 FROM loans) THEN
        RAISE EXCEPTION 'seed_utilization.sql needs a freshly migrated, empty database';
    END IF;
END
$$;

CREATE TEMPORARY TABLE seed_params AS
SELECT n, n / 10 AS devices, n * 3 / 10 AS clients,
       TIMESTAMPTZ '2023-01-01 00:00:00+00' AS t0,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' AS t_end
FROM (SELECT greatest(coalesce(nullif(current_setting('bench.loans', true), ''), '1000000')::int, 1000) AS n) AS s;

-- A fraction in [0, 1) from a row number and a salt.
CREATE FUNCTION pg_temp.frac(i bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$f$ SELECT ((i * 2654435761 + salt * 40503) % 1000003) / 1000003.0 $f$;

INSERT INTO users (id, email, name, role, password_hash, active, created_at, updated_at)
SELECT i,
       CASE WHEN i <= 2 THEN 'coordinator' || i WHEN i = 3 THEN 'admin' ELSE 'worker' || (i - 3) END || '@bench.test',
       CASE WHEN i <= 2 THEN 'Coordinator ' || i WHEN i = 3 THEN 'Admin' ELSE 'Social worker ' || (i - 3) END,
       CASE WHEN i <= 2 THEN 'coordinator' WHEN i = 3 THEN 'admin' ELSE 'social_worker' END,
       'not a real hash', TRUE, p.t0 - INTERVAL '90 days', p.t0 - INTERVAL '90 days'
FROM generate_series(1, 203) AS s(i), seed_params p;

INSERT INTO eligibility_rule_sets (version, name, body, created_by, created_at)
SELECT 1, 'Bench rules', '{"name":"Bench rules","rules":[]}', 3, t0 - INTERVAL '90 days' FROM seed_params;

INSERT INTO households (id, created_at)
SELECT h, p.t0 - INTERVAL '60 days' FROM seed_params p, generate_series(1, p.clients / 5) AS s(h);

INSERT INTO clients (id, case_number, first_name, last_name, phone, email, preferred_language, preferred_channel,
                     household_size, postal_code, caseworker_id, household_id, date_of_birth, needs, created_at, updated_at)
SELECT i,
       'C-' || lpad(i::text, 7, '0'),
       'First' || (i % 997),
       'Last' || (i % 1009),
       '312-555-' || lpad((i % 10000)::text, 4, '0'),
       'client' || i || '@example.test',
       CASE WHEN i % 20 < 14 THEN 'en' ELSE 'es' END,
       CASE WHEN i % 10 < 6 THEN 'sms' ELSE 'email' END,
       CASE WHEN i % 5 < 2 THEN 2 ELSE 1 + i % 4 END,
       '606' || lpad((i * 7 % 60)::text, 2, '0'),
       4 + i % 200,
       CASE WHEN i % 5 < 2 THEN (i / 5 * 2 + i % 5) / 2 % (p.clients / 5) + 1 END,
       CASE WHEN i % 10 < 7 THEN DATE '1940-01-01' + (i::bigint * 7919 % 24000)::int END,
       CASE i % 4
           WHEN 0 THEN '[]'
           WHEN 1 THEN '["no_home_internet"]'
           WHEN 2 THEN '["no_home_internet","school_age_children"]'
           ELSE '["' || (ARRAY['disability', 'age_60_plus', 'leaving_care', 'fleeing_violence', 'school_age_children', 'no_home_internet'])[1 + i / 4 % 6] || '"]'
       END,
       p.t0 - INTERVAL '60 days' + (i % 60) * INTERVAL '1 day',
       p.t0 - INTERVAL '60 days' + (i % 60) * INTERVAL '1 day'
FROM seed_params p, generate_series(1, p.clients) AS s(i);

-- The devices, with how many loans each gets: its share of the
-- device-days, rounded so that the loans add up to N.
CREATE TEMPORARY TABLE seed_devices AS
WITH d AS (
    SELECT i,
           CASE WHEN i % 10 < 5 THEN 'phone' WHEN i % 10 < 7 THEN 'laptop' WHEN i % 10 < 9 THEN 'tablet' ELSE 'hotspot' END AS kind,
           p.t0 + pg_temp.frac(i, 1) * (p.t_end - INTERVAL '30 days' - p.t0) AS created_at,
           CASE WHEN pg_temp.frac(i, 12) < 0.02 THEN 'lost' WHEN pg_temp.frac(i, 12) < 0.06 THEN 'retired'
                WHEN pg_temp.frac(i, 12) < 0.66 THEN 'open' ELSE 'returned' END AS fate,
           p.n, p.t_end
    FROM seed_params p, generate_series(1, p.devices) AS s(i)
), w AS (
    SELECT d.*, life_secs * (1 - 0.5 * pg_temp.frac(i, 13) * least(1, 10368000 / life_secs)) AS life,
           sum(life_secs * (1 - 0.5 * pg_temp.frac(i, 13) * least(1, 10368000 / life_secs))) OVER (ORDER BY i) AS cum,
           sum(life_secs * (1 - 0.5 * pg_temp.frac(i, 13) * least(1, 10368000 / life_secs))) OVER () AS total
    FROM (SELECT d.*, extract(epoch FROM d.t_end - d.created_at)::float8 AS life_secs FROM d) d
)
SELECT i, kind, created_at, fate, life,
       floor(n * (cum - life) / total)::bigint AS first_loan,
       (floor(n * cum / total) - floor(n * (cum - life) / total))::int AS loans
FROM w;

-- Plans on every hotspot and every tenth phone, from the device's first
-- day; a retired or lost device's plan ends with it (set below).
CREATE TEMPORARY TABLE seed_plans AS
SELECT row_number() OVER (ORDER BY i) AS id, i AS device_id
FROM seed_devices WHERE kind = 'hotspot' OR i % 20 = 0;

-- Each loan in its slot of its device's life.
CREATE TEMPORARY TABLE seed_loans AS
WITH slot AS (
    SELECT d.i AS device_id, d.kind, d.fate, d.first_loan + k + 1 AS seq, k = d.loans - 1 AS last,
           d.life / d.loans AS slot_secs,
           d.created_at + (d.life / d.loans) * k * INTERVAL '1 second' AS slot_start
    FROM seed_devices d, generate_series(0, d.loans - 1) AS g(k)
    WHERE d.loans > 0
), timed AS (
    SELECT s.*,
           CASE WHEN s.last AND s.fate = 'open'
                -- Open at the end: issued any time from early in its slot.
                THEN s.slot_start + (p.t_end - s.slot_start) * (0.05 + 0.9 * pg_temp.frac(s.seq, 2))
                ELSE s.slot_start + s.slot_secs * (0.05 + 0.2 * pg_temp.frac(s.seq, 2)) * INTERVAL '1 second' END AS issued_at,
           s.slot_secs * (0.3 + 0.4 * pg_temp.frac(s.seq, 3)) * INTERVAL '1 second' AS held,
           CASE WHEN s.kind IN ('laptop', 'tablet') THEN 42 ELSE 28 END AS term
    FROM slot s, seed_params p
)
SELECT t.seq, t.device_id, t.kind, t.last, t.slot_start + t.slot_secs * INTERVAL '1 second' AS slot_end, t.issued_at, t.term,
       CASE WHEN t.last AND t.fate = 'open' THEN 'open' WHEN t.last AND t.fate = 'lost' THEN 'lost' ELSE 'returned' END AS status,
       CASE WHEN NOT t.last OR t.fate IN ('returned', 'retired') THEN t.issued_at + t.held END AS returned_at,
       CASE WHEN t.last AND t.fate = 'lost' THEN t.issued_at + t.held END AS lost_at,
       -- Open loans go to distinct clients (one open loan of a kind per
       -- client); the others anywhere.
       CASE WHEN t.last AND t.fate = 'open' THEN t.device_id ELSE (t.seq * 48271) % p.clients + 1 END AS client_id,
       pg_temp.frac(t.seq, 4) < 0.15 AS renewed,
       pg_temp.frac(t.seq, 5) < 0.05 AND NOT (t.last AND t.fate IN ('retired', 'lost')) AS repaired,
       (t.last AND t.fate = 'retired') AS retires,
       (t.issued_at AT TIME ZONE 'America/Chicago')::date + t.term AS first_due
FROM timed t, seed_params p;

INSERT INTO devices (id, kind, make, model, serial, imei, asset_tag, status, condition, funding_source,
                     purchase_cost_cents, created_at, updated_at)
SELECT d.i, d.kind,
       CASE d.kind WHEN 'phone' THEN 'Motorola' WHEN 'laptop' THEN 'Lenovo' WHEN 'tablet' THEN 'Samsung' ELSE 'Franklin' END,
       CASE d.kind WHEN 'phone' THEN 'moto g' WHEN 'laptop' THEN 'ThinkPad L13' WHEN 'tablet' THEN 'Galaxy Tab A' ELSE 'RG350' END,
       'SN' || lpad(d.i::text, 9, '0'),
       CASE WHEN d.kind = 'phone' THEN '35' || lpad(d.i::text, 13, '0') ELSE '' END,
       'DB-' || lpad(d.i::text, 7, '0'),
       CASE WHEN d.loans = 0 OR d.fate = 'returned' THEN 'available' WHEN d.fate = 'open' THEN 'on_loan' ELSE d.fate END,
       'good', 'digital equity grant', 15000 + (d.i % 5) * 5000, d.created_at, d.created_at
FROM seed_devices d ORDER BY d.created_at;

INSERT INTO data_plans (id, carrier, line_number, iccid, monthly_cost_cents, data_cap_mb, starts_on, ends_on,
                        created_at, updated_at)
SELECT sp.id, 'Bench Mobile', '773' || lpad(sp.id::text, 7, '0'), '8901' || lpad(sp.id::text, 15, '0'),
       1500 + (sp.id % 3) * 1000, 15360,
       (d.created_at AT TIME ZONE 'America/Chicago')::date,
       (coalesce(l.returned_at, l.lost_at) AT TIME ZONE 'America/Chicago')::date + 1,
       d.created_at, d.created_at
FROM seed_plans sp JOIN seed_devices d ON d.i = sp.device_id
LEFT JOIN seed_loans l ON l.device_id = d.i AND l.last AND (l.retires OR l.status = 'lost');

-- Loans take their ids in the order they were issued, as they would have.
INSERT INTO loans (id, client_id, device_id, data_plan_id, status, due_on, renewals, issued_at, issued_by,
                   returned_at, return_condition, lost_at, device_kind, updated_at)
SELECT row_number() OVER (ORDER BY l.issued_at, l.seq), l.client_id, l.device_id, sp.id, l.status,
       l.first_due + CASE WHEN l.renewed THEN 28 ELSE 0 END, CASE WHEN l.renewed THEN 1 ELSE 0 END,
       l.issued_at, 1 + l.seq % 2, l.returned_at, CASE WHEN l.returned_at IS NOT NULL THEN 'good' ELSE '' END,
       l.lost_at, l.kind, coalesce(l.returned_at, l.lost_at, l.issued_at)
FROM seed_loans l LEFT JOIN seed_plans sp ON sp.device_id = l.device_id
ORDER BY l.issued_at, l.seq;
-- Each seeded loan's id.
CREATE TEMPORARY TABLE seed_loan_ids AS
SELECT l.seq, x.id FROM seed_loans l JOIN loans x ON x.device_id = l.device_id AND x.issued_at = l.issued_at;
CREATE INDEX ON seed_loan_ids (seq);

-- The status history, in the order it happened.
INSERT INTO device_status_changes (device_id, status, changed_at)
SELECT device_id, status, changed_at FROM (
    SELECT i AS device_id, 'available' AS status, created_at AS changed_at, 0 AS step FROM seed_devices
    UNION ALL
    SELECT device_id, 'on_loan', issued_at, 1 FROM seed_loans
    UNION ALL
    SELECT device_id, 'inspection', returned_at, 2 FROM seed_loans WHERE returned_at IS NOT NULL
    UNION ALL
    SELECT device_id, 'lost', lost_at, 2 FROM seed_loans WHERE lost_at IS NOT NULL
    UNION ALL
    SELECT device_id, CASE WHEN repaired THEN 'repair' WHEN retires THEN 'retired' ELSE 'available' END,
           returned_at + (slot_end - returned_at) * CASE WHEN repaired THEN 0.2 ELSE 0.3 END, 3
    FROM seed_loans WHERE returned_at IS NOT NULL
    UNION ALL
    SELECT device_id, 'available', returned_at + (slot_end - returned_at) * 0.8, 4
    FROM seed_loans WHERE repaired AND returned_at IS NOT NULL
) h
ORDER BY changed_at, device_id, step;

-- Device requests. Fulfilled ones: every sixth loan's, filed before it.
CREATE TEMPORARY TABLE seed_requests AS
SELECT l.seq AS n, 'fulfilled' AS flow, l.client_id, l.kind, li.id AS loan_id,
       CASE WHEN l.seq % 18 = 0
            THEN l.issued_at - (1 + 29 * pg_temp.frac(l.seq, 6)) * INTERVAL '1 day'
            ELSE l.issued_at - 3 * pg_temp.frac(l.seq, 6) * INTERVAL '1 day' END AS created_at,
       l.issued_at AS ended_at
FROM seed_loans l JOIN seed_loan_ids li ON li.seq = l.seq
WHERE l.seq % 6 = 0;
-- Denied at filing, by a failed rule.
INSERT INTO seed_requests
SELECT k, 'ineligible', (k::bigint * 69621) % p.clients + 1,
       (ARRAY['phone', 'phone', 'laptop', 'tablet', 'hotspot'])[1 + k % 5], NULL,
       p.t0 + pg_temp.frac(k, 7) * (p.t_end - p.t0), NULL
FROM seed_params p, generate_series(1, p.n / 40) AS g(k);
-- Reviewed by staff: approved (then waitlisted and cancelled) or denied;
-- still in review if filed in the last two weeks. Distinct clients.
INSERT INTO seed_requests
SELECT k, CASE WHEN created_at > t_end - INTERVAL '14 days' THEN 'review' WHEN k % 2 = 0 THEN 'staff_approved' ELSE 'staff_denied' END,
       client_id, kind, NULL, created_at, NULL
FROM (SELECT k, p.t_end, p.clients - k + 1 AS client_id, (ARRAY['phone', 'laptop', 'tablet', 'hotspot'])[1 + k % 4] AS kind,
             p.t0 + pg_temp.frac(k, 8) * (p.t_end - p.t0) AS created_at
      FROM seed_params p, generate_series(1, p.n / 100) AS g(k)) r;
-- Waitlisted: cancelled after 20-60 days, or still waiting if filed in the
-- last 120 days. Distinct clients.
INSERT INTO seed_requests
SELECT k, CASE WHEN created_at > t_end - INTERVAL '120 days' THEN 'waiting' ELSE 'cancelled' END,
       client_id, kind, NULL, created_at,
       created_at + (20 + 40 * pg_temp.frac(k, 10)) * INTERVAL '1 day'
FROM (SELECT k, p.t_end, p.clients - p.n / 100 - k + 1 AS client_id, (ARRAY['laptop', 'phone', 'tablet', 'hotspot'])[1 + k % 4] AS kind,
             p.t0 + pg_temp.frac(k, 9) * (p.t_end - p.t0) AS created_at
      FROM seed_params p, generate_series(1, p.n / 50) AS g(k)) r;

CREATE TEMPORARY TABLE seed_request_ids AS
SELECT row_number() OVER (ORDER BY created_at, flow, n) AS id, r.* FROM seed_requests r;

INSERT INTO device_requests (id, client_id, device_kind, needs_data_plan, reason, urgency, status, outcome, rule_set_version,
                             decision, priority, priority_reasons, loan_id, created_by, created_at, updated_at, waitlisted_at)
SELECT r.id, r.client_id, r.kind, r.kind = 'hotspot', '',
       (ARRAY['low', 'normal', 'normal', 'high'])[1 + r.n % 4],
       CASE r.flow WHEN 'fulfilled' THEN 'fulfilled' WHEN 'ineligible' THEN 'denied' WHEN 'review' THEN 'needs_review'
                   WHEN 'staff_approved' THEN 'cancelled' WHEN 'staff_denied' THEN 'denied'
                   WHEN 'waiting' THEN 'waitlisted' ELSE 'cancelled' END,
       CASE r.flow WHEN 'ineligible' THEN 'ineligible' WHEN 'review' THEN 'needs_review' WHEN 'staff_approved' THEN 'needs_review'
                   WHEN 'staff_denied' THEN 'needs_review' ELSE 'eligible' END,
       1,
       '{"outcome":"' || CASE r.flow WHEN 'ineligible' THEN 'ineligible' WHEN 'review' THEN 'needs_review' WHEN 'staff_approved' THEN 'needs_review'
                                      WHEN 'staff_denied' THEN 'needs_review' ELSE 'eligible' END
           || '","rule_set_version":1,"decided_on":"' || to_char(r.created_at AT TIME ZONE 'America/Chicago', 'YYYY-MM-DD') || '","rules":['
           || '{"rule":"income_at_most_200_percent","passed":' || CASE WHEN r.flow = 'ineligible' AND r.n % 3 <> 2 THEN 'false' ELSE 'true' END
           || CASE WHEN r.flow IN ('review', 'staff_approved', 'staff_denied') THEN ',"unknown":true' ELSE '' END || ',"reason":"income"},'
           || '{"rule":"max_open_same_kind_per_client","passed":' || CASE WHEN r.flow = 'ineligible' AND r.n % 3 <> 0 THEN 'false' ELSE 'true' END
           || ',"reason":"open loans"},{"rule":"resident","passed":true,"reason":"resident"}]}',
       r.n % 7, '[]', r.loan_id, 4 + r.n % 200, r.created_at,
       coalesce(r.ended_at, r.created_at + CASE WHEN r.flow IN ('staff_approved', 'staff_denied') THEN INTERVAL '3 days' ELSE INTERVAL '0' END),
       CASE WHEN r.flow IN ('waiting', 'cancelled', 'staff_approved') OR (r.flow = 'fulfilled' AND r.n % 18 = 0)
            THEN r.created_at + CASE WHEN r.flow = 'staff_approved' THEN INTERVAL '3 days' ELSE INTERVAL '0' END END
FROM seed_request_ids r ORDER BY r.id;

-- The audit trail: each request's transitions as eligibility/requests.go
-- records them, renewals, and the devices' and loans' own events.
CREATE TEMPORARY TABLE seed_events AS
SELECT r.created_at AS occurred_at, 'request.filed' AS action, 'device_request' AS subject_type, r.id AS subject_id,
       r.client_id, NULL::bigint AS device_id, NULL::bigint AS loan_id,
       '{"device_kind":"' || r.kind || '","outcome":"' || CASE r.flow WHEN 'ineligible' THEN 'ineligible'
           WHEN 'review' THEN 'needs_review' WHEN 'staff_approved' THEN 'needs_review' WHEN 'staff_denied' THEN 'needs_review'
           ELSE 'eligible' END || '","rule_set_version":1,"status":"' || CASE r.flow WHEN 'ineligible' THEN 'denied'
           WHEN 'review' THEN 'needs_review' WHEN 'staff_approved' THEN 'needs_review' WHEN 'staff_denied' THEN 'needs_review'
           ELSE 'approved' END || '","urgency":"normal"}' AS changes, 0 AS step
FROM seed_request_ids r
UNION ALL
-- Approved at filing: waitlisted, or ready at once.
SELECT r.created_at, CASE WHEN r.flow IN ('waiting', 'cancelled') OR r.n % 18 = 0 THEN 'request.waitlisted' ELSE 'request.ready' END,
       'device_request', r.id, r.client_id, NULL, NULL,
       '{"status":{"from":"approved","to":"' || CASE WHEN r.flow IN ('waiting', 'cancelled') OR r.n % 18 = 0 THEN 'waitlisted' ELSE 'ready' END || '"}}', 1
FROM seed_request_ids r WHERE r.flow IN ('fulfilled', 'waiting', 'cancelled')
UNION ALL
-- Off the waitlist a day before the device is lent.
SELECT r.ended_at - INTERVAL '1 day', 'request.ready', 'device_request', r.id, r.client_id, NULL, NULL,
       '{"status":{"from":"waitlisted","to":"ready"}}', 2
FROM seed_request_ids r WHERE r.flow = 'fulfilled' AND r.n % 18 = 0
UNION ALL
SELECT r.ended_at, 'request.fulfilled', 'device_request', r.id, r.client_id, NULL, r.loan_id,
       '{"status":{"from":"ready","to":"fulfilled"}}', 3
FROM seed_request_ids r WHERE r.flow = 'fulfilled'
UNION ALL
SELECT r.ended_at, 'request.cancelled', 'device_request', r.id, r.client_id, NULL, NULL,
       '{"status":{"from":"waitlisted","to":"cancelled"}}', 3
FROM seed_request_ids r WHERE r.flow = 'cancelled'
UNION ALL
SELECT r.created_at + INTERVAL '3 days', CASE r.flow WHEN 'staff_approved' THEN 'request.approved' ELSE 'request.denied' END,
       'device_request', r.id, r.client_id, NULL, NULL,
       '{"justification":"reviewed","status":{"from":"needs_review","to":"' || CASE r.flow WHEN 'staff_approved' THEN 'approved' ELSE 'denied' END || '"}}', 1
FROM seed_request_ids r WHERE r.flow IN ('staff_approved', 'staff_denied')
UNION ALL
SELECT r.created_at + INTERVAL '3 days', 'request.waitlisted', 'device_request', r.id, r.client_id, NULL, NULL,
       '{"status":{"from":"approved","to":"waitlisted"}}', 2
FROM seed_request_ids r WHERE r.flow = 'staff_approved'
UNION ALL
SELECT r.created_at + INTERVAL '40 days', 'request.cancelled', 'device_request', r.id, r.client_id, NULL, NULL,
       '{"status":{"from":"waitlisted","to":"cancelled"}}', 3
FROM seed_request_ids r WHERE r.flow = 'staff_approved'
UNION ALL
SELECT d.created_at, 'device.created', 'device', d.i, NULL, d.i, NULL, '{"kind":"' || d.kind || '","status":"available"}', 0
FROM seed_devices d
UNION ALL
SELECT l.issued_at, 'loan.issued', 'loan', li.id, l.client_id, l.device_id, li.id,
       '{"due_on":"' || l.first_due || '"}', 0
FROM seed_loans l JOIN seed_loan_ids li ON li.seq = l.seq
UNION ALL
SELECT l.issued_at + (coalesce(l.returned_at, l.lost_at, p.t_end) - l.issued_at) / 2, 'loan.renewed', 'loan', li.id, l.client_id,
       l.device_id, li.id, '{"due_on":{"from":"' || l.first_due || '","to":"' || (l.first_due + 28) || '"},"renewals":{"from":0,"to":1}}', 1
FROM seed_loans l JOIN seed_loan_ids li ON li.seq = l.seq, seed_params p
WHERE l.renewed
UNION ALL
SELECT coalesce(l.returned_at, l.lost_at), CASE WHEN l.returned_at IS NOT NULL THEN 'loan.returned' ELSE 'loan.lost' END, 'loan', li.id,
       l.client_id, l.device_id, li.id, '{"status":{"from":"open","to":"' || l.status || '"}}', 2
FROM seed_loans l JOIN seed_loan_ids li ON li.seq = l.seq
WHERE l.status <> 'open';

INSERT INTO audit_events (occurred_at, actor_id, action, subject_type, subject_id, client_id, device_id, loan_id, changes)
SELECT e.occurred_at, 4 + e.subject_id % 200, e.action, e.subject_type, e.subject_id, e.client_id, e.device_id, e.loan_id, e.changes
FROM seed_events e ORDER BY e.occurred_at, e.subject_type, e.subject_id, e.step;

-- Two sessions a day over the three years.
INSERT INTO training_sessions (id, title, topic, language, location, starts_at, ends_at, capacity, enrolled_count,
                               instructor, status, created_by, created_at, updated_at)
SELECT s,
       'Device basics ' || s, 'device_basics', CASE WHEN s % 4 = 0 THEN 'es' ELSE 'en' END, 'Library room ' || (s % 5),
       p.t0 + ((s - 1) / 2) * INTERVAL '1 day' + INTERVAL '15 hours' + (s % 2) * INTERVAL '3 hours',
       p.t0 + ((s - 1) / 2) * INTERVAL '1 day' + INTERVAL '16 hours 30 minutes' + (s % 2) * INTERVAL '3 hours',
       12, 9, 'Instructor ' || (s % 7),
       CASE WHEN s % 25 = 0 THEN 'cancelled' ELSE 'scheduled' END,
       1, p.t0 - INTERVAL '30 days', p.t0 - INTERVAL '30 days'
FROM seed_params p, generate_series(1, 2 * 1096) AS g(s);

INSERT INTO training_enrollments (session_id, client_id, status, attendance, credited_minutes, module_completed,
                                  created_by, created_at, updated_at)
SELECT s, (s * 10 + k) * 7 % p.clients + 1,
       CASE WHEN k = 9 THEN 'withdrawn' ELSE 'enrolled' END,
       CASE WHEN k = 9 THEN '' WHEN (s + k) % 10 < 7 THEN 'present' WHEN (s + k) % 10 = 7 THEN 'late' ELSE 'absent' END,
       CASE WHEN k <> 9 AND (s + k) % 10 < 8 THEN 90 ELSE 0 END,
       k <> 9 AND (s + k) % 10 < 7 AND (s * k) % 5 < 3,
       1, p.t0 - INTERVAL '30 days', p.t0 - INTERVAL '30 days'
FROM seed_params p, generate_series(1, 2 * 1096) AS g(s), generate_series(0, 9) AS h(k);

-- The rows above were given their ids: move the sequences past them.
-- Each client's first loan, as inventory keeps it when it lends.
UPDATE clients c SET first_loan_at = f.first_issued
FROM (SELECT client_id, MIN(issued_at) AS first_issued FROM loans GROUP BY client_id) f
WHERE f.client_id = c.id;

SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
SELECT setval(pg_get_serial_sequence('households', 'id'), (SELECT max(id) FROM households));
SELECT setval(pg_get_serial_sequence('clients', 'id'), (SELECT max(id) FROM clients));
SELECT setval(pg_get_serial_sequence('devices', 'id'), (SELECT max(id) FROM devices));
SELECT setval(pg_get_serial_sequence('data_plans', 'id'), (SELECT max(id) FROM data_plans));
SELECT setval(pg_get_serial_sequence('loans', 'id'), (SELECT max(id) FROM loans));
SELECT setval(pg_get_serial_sequence('device_requests', 'id'), (SELECT max(id) FROM device_requests));
SELECT setval(pg_get_serial_sequence('training_sessions', 'id'), (SELECT max(id) FROM training_sessions));

DROP TABLE seed_params, seed_devices, seed_plans, seed_loans, seed_loan_ids, seed_requests, seed_request_ids, seed_events;
