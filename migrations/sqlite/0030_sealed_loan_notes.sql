-- A loan's notes (written when it is issued, returned or reported lost:
-- they may speak of the client) are sealed from now on, as a reminder's
-- texts are (0029); sealed_key names the data key they are under. NULL:
-- no note. 0: stored before, plain; the service seals those at its next
-- start (keyring.SealUnrecorded).
ALTER TABLE loans ADD COLUMN sealed_key INTEGER DEFAULT 0;
UPDATE loans SET sealed_key = NULL WHERE notes = '' AND return_notes = '' AND lost_notes = '';
CREATE INDEX loans_sealed_key_idx ON loans (sealed_key) WHERE sealed_key IS NOT NULL;
