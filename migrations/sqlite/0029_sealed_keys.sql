-- The data key a device request's sealed values (decision, priority
-- reasons, reason, justification) and a notification's (body, note) are
-- sealed under (keyring.SealedTable), as clients.personal_key is for a
-- client's record: after keys rotate-data the rows under an older key are
-- found and sealed again. NULL: nothing sealed. 0: stored before the key
-- was recorded (now, or by a program that does not write it), sealed under
-- any key or still plain; the service seals those (keyring.SealUnrecorded).
ALTER TABLE device_requests ADD COLUMN sealed_key INTEGER DEFAULT 0;
CREATE INDEX device_requests_sealed_key_idx ON device_requests (sealed_key);

-- Notification texts were plain until now; the service seals them at its
-- next start. Most rows hold no text (not yet sent, or erased by
-- retention): NULL, outside the index.
ALTER TABLE notifications ADD COLUMN sealed_key INTEGER DEFAULT 0;
UPDATE notifications SET sealed_key = NULL WHERE body = '' AND note = '';
CREATE INDEX notifications_sealed_key_idx ON notifications (sealed_key) WHERE sealed_key IS NOT NULL;
