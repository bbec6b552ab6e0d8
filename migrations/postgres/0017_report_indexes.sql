-- Indexes for the utilization report (reports/compute.go), so that a
-- year's report reads the period's rows rather than three years of them;
-- measured in docs/PERFORMANCE.md.

-- A device's status at a moment, read from the index alone.
DROP INDEX device_status_changes_device_idx;
CREATE INDEX device_status_changes_device_idx ON device_status_changes (device_id, changed_at, id) INCLUDE (status);

-- Loans issued, returned, lost, and still open, at a moment or in a period;
-- a client's first loan.
DROP INDEX loans_client_id_idx;
CREATE INDEX loans_client_id_idx ON loans (client_id, issued_at);
CREATE INDEX loans_issued_at_idx ON loans (issued_at);
CREATE INDEX loans_returned_at_idx ON loans (returned_at) WHERE returned_at IS NOT NULL;
CREATE INDEX loans_lost_at_idx ON loans (lost_at) WHERE lost_at IS NOT NULL;
CREATE INDEX loans_closed_at_idx ON loans ((COALESCE(returned_at, lost_at)));

-- Renewals: in a period, and a loan's (its due date as it stood).
CREATE INDEX audit_events_loan_renewed_idx ON audit_events (loan_id, occurred_at, id) WHERE action = 'loan.renewed';
CREATE INDEX audit_events_renewed_at_idx ON audit_events (occurred_at) WHERE action = 'loan.renewed';

-- Requests filed in a period.
CREATE INDEX device_requests_created_at_idx ON device_requests (created_at);

-- Requests approved, denied or waitlisted in a period, or before a moment.
CREATE INDEX audit_events_request_action_idx ON audit_events (action, occurred_at, subject_id) WHERE subject_type = 'device_request';

-- Devices retired or lost: in a period, and the intervals out of service.
CREATE INDEX device_status_changes_out_idx ON device_status_changes (status, changed_at) WHERE status IN ('retired', 'lost');

-- A request's events in order, with their action: its status at a moment
-- read from the index alone.
CREATE INDEX audit_events_request_history_idx ON audit_events (subject_id, occurred_at, id) INCLUDE (action) WHERE subject_type = 'device_request';

-- The request a loan fulfilled.
CREATE INDEX device_requests_loan_id_idx ON device_requests (loan_id) WHERE loan_id IS NOT NULL;
