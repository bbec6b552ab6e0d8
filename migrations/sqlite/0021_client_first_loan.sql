-- When each client's first loan was issued: the utilization report counts
-- the clients it serves as new or returning by it (reports/compute.go),
-- which otherwise means reading every loan ever issued for each report, a
-- cost that grows with the years. Kept by inventory when a loan is issued.
-- A date of the agency's own use, not a personal detail.
ALTER TABLE clients ADD COLUMN first_loan_at TIMESTAMP;
UPDATE clients SET first_loan_at = (SELECT MIN(l.issued_at) FROM loans l WHERE l.client_id = clients.id);

-- Devices taken in before a moment or in each month of a period: the
-- report's device-days in service read them by this index.
CREATE INDEX devices_created_at_idx ON devices (created_at);
