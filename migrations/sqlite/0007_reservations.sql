-- Reservations: a ready device request holds one real device, which
-- nothing else may lend; and a client has at most one open loan of each
-- kind of device.

-- The ready request an available device is held for. One column on the
-- device, so a device is held for at most one request; a unique index, so a
-- request holds at most one device; and only an available device can be
-- held (a device that goes on loan, to repair or out of service is released
-- in the same statement).
ALTER TABLE devices ADD COLUMN reserved_for_request_id BIGINT REFERENCES device_requests (id)
    CHECK (reserved_for_request_id IS NULL OR status = 'available');
CREATE UNIQUE INDEX devices_reserved_for_request_id_key ON devices (reserved_for_request_id)
    WHERE reserved_for_request_id IS NOT NULL;

-- Requests that were ready before reservations existed take the free
-- devices of their kind, the longest ready first.
WITH ready AS (
    SELECT id, device_kind,
           ROW_NUMBER() OVER (PARTITION BY device_kind ORDER BY updated_at, id) AS n
    FROM device_requests WHERE status = 'ready'
), free AS (
    SELECT id, kind, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY id) AS n
    FROM devices WHERE status = 'available'
)
UPDATE devices SET reserved_for_request_id = (
    SELECT ready.id FROM ready JOIN free ON free.kind = ready.device_kind AND free.n = ready.n
    WHERE free.id = devices.id)
WHERE status = 'available';
INSERT INTO audit_events (occurred_at, actor_id, action, subject_type, subject_id, device_id, changes)
SELECT strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), NULL, 'device.reserved', 'device', d.id, d.id,
       '{"request_id":' || d.reserved_for_request_id || '}'
FROM devices AS d WHERE d.reserved_for_request_id IS NOT NULL;

-- A ready request left without a device (its device went to someone else)
-- goes back to the waitlist, at the place it had: the time it joined the
-- line, or the time it became ready if it never waited. Recorded in the
-- client's history.
INSERT INTO audit_events (occurred_at, actor_id, action, subject_type, subject_id, client_id, changes)
SELECT strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), NULL, 'request.waitlisted', 'device_request', r.id, r.client_id,
       '{"status":{"from":"ready","to":"waitlisted"},"reason":"no free device of its kind could be held for it"}'
FROM device_requests AS r
WHERE r.status = 'ready' AND NOT EXISTS (SELECT 1 FROM devices AS d WHERE d.reserved_for_request_id = r.id);
UPDATE device_requests SET status = 'waitlisted', waitlisted_at = COALESCE(waitlisted_at, updated_at),
    updated_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
WHERE status = 'ready' AND NOT EXISTS (SELECT 1 FROM devices AS d WHERE d.reserved_for_request_id = device_requests.id);

-- The kind of device a loan lent, for the rule "one open loan of each kind
-- per client".
ALTER TABLE loans ADD COLUMN device_kind TEXT NOT NULL DEFAULT '';
UPDATE loans SET device_kind = (SELECT d.kind FROM devices AS d WHERE d.id = loans.device_id);
-- Open loans that already broke the rule when it came in (the second laptop
-- of one client, say) stay open and are marked, so that the rule can hold
-- for every loan from now on; the earliest open loan of each kind is not.
ALTER TABLE loans ADD COLUMN predates_kind_limit INTEGER NOT NULL DEFAULT 0;
UPDATE loans SET predates_kind_limit = 1
WHERE status = 'open' AND EXISTS (
    SELECT 1 FROM loans AS o
    WHERE o.status = 'open' AND o.client_id = loans.client_id AND o.device_kind = loans.device_kind AND o.id < loans.id);
CREATE UNIQUE INDEX loans_open_client_id_device_kind_key ON loans (client_id, device_kind)
    WHERE status = 'open' AND predates_kind_limit = 0;
