-- Every status a device has been in, and from when: what a report needs to
-- say how the pool stood at the end of a period and how many device-days it
-- was in service and on loan. Each transition writes its row in the same
-- transaction as the device's new status.
CREATE TABLE device_status_changes (
    id         BIGSERIAL PRIMARY KEY,
    device_id  BIGINT    NOT NULL REFERENCES devices (id),
    status     TEXT      NOT NULL CHECK (status IN ('available', 'on_loan', 'inspection', 'repair', 'lost', 'retired')),
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX device_status_changes_device_idx ON device_status_changes (device_id, changed_at, id);
CREATE INDEX device_status_changes_changed_at_idx ON device_status_changes (changed_at);

-- The history so far, from the audit trail: each device's creation, each
-- loan's issue, return, loss and recovery, and each inspection's outcome,
-- in the order they happened.
INSERT INTO device_status_changes (device_id, status, changed_at)
SELECT device_id, status, occurred_at FROM (
    SELECT e.device_id, e.occurred_at, e.id,
           CASE e.action
               WHEN 'device.created' THEN 'available'
               WHEN 'loan.issued'    THEN 'on_loan'
               WHEN 'loan.returned'  THEN 'inspection'
               WHEN 'loan.lost'      THEN 'lost'
               WHEN 'loan.recovered' THEN 'inspection'
               ELSE (e.changes::jsonb -> 'status' ->> 'to')
           END AS status
    FROM audit_events e
    JOIN devices d ON d.id = e.device_id
    WHERE e.action IN ('device.created', 'loan.issued', 'loan.returned', 'loan.lost', 'loan.recovered', 'device.inspected')
) history
WHERE status IN ('available', 'on_loan', 'inspection', 'repair', 'lost', 'retired')
ORDER BY occurred_at, id;

-- A device the audit trail has no creation of starts when its row does.
INSERT INTO device_status_changes (device_id, status, changed_at)
SELECT d.id, 'available', d.created_at FROM devices d
WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.device_id = d.id AND e.action = 'device.created');
