-- Referrals: a coordinator sees a client only when a social worker (or an
-- admin) handed them to the program, by filing a device request or booking
-- a training place for them. Each request and place records whether it was
-- such a referral, decided by its creator's role when it was made, so that
-- a later change of role does not move what anyone sees.

ALTER TABLE device_requests ADD COLUMN referral INTEGER NOT NULL DEFAULT 0;
ALTER TABLE training_enrollments ADD COLUMN referral INTEGER NOT NULL DEFAULT 0;

-- Only social workers and admins have ever been able to file requests, so
-- every existing one is a referral. Places could be booked by coordinators
-- too: those booked by someone who is a social worker or an admin now are
-- the best record there is of who booked them as one.
UPDATE device_requests SET referral = 1;
UPDATE training_enrollments SET referral = 1
    WHERE created_by IN (SELECT id FROM users WHERE role IN ('social_worker', 'admin'));

-- The clients a coordinator may see: live referrals (a cancelled request or
-- a withdrawn place no longer counts).
CREATE INDEX device_requests_referral_idx ON device_requests (client_id)
    WHERE referral = 1 AND status <> 'cancelled';
CREATE INDEX training_enrollments_referral_idx ON training_enrollments (client_id)
    WHERE referral = 1 AND status <> 'withdrawn';
