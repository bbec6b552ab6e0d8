-- Digital-literacy training: sessions, enrollment with a waitlist, attendance.

CREATE TABLE training_sessions (
    id              INTEGER PRIMARY KEY,
    title           TEXT        NOT NULL,
    topic           TEXT        NOT NULL,
    language        TEXT        NOT NULL DEFAULT 'en',
    location        TEXT        NOT NULL DEFAULT '',
    starts_at       TIMESTAMP NOT NULL,
    ends_at         TIMESTAMP NOT NULL,
    capacity        INTEGER     NOT NULL CHECK (capacity >= 1),
    -- Seats taken, kept with the session so that a conditional update can
    -- guard the capacity under concurrent enrollment.
    enrolled_count  INTEGER     NOT NULL DEFAULT 0 CHECK (enrolled_count >= 0 AND enrolled_count <= capacity),
    instructor      TEXT        NOT NULL DEFAULT '',
    notes           TEXT        NOT NULL DEFAULT '',
    status          TEXT        NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    created_by      BIGINT      NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX training_sessions_starts_at_idx ON training_sessions (starts_at);

CREATE TABLE training_enrollments (
    id               INTEGER PRIMARY KEY,
    session_id       BIGINT      NOT NULL REFERENCES training_sessions (id),
    client_id        BIGINT      NOT NULL REFERENCES clients (id),
    status           TEXT        NOT NULL CHECK (status IN ('enrolled', 'waitlisted', 'withdrawn', 'cancelled')),
    attendance       TEXT        NOT NULL DEFAULT '' CHECK (attendance IN ('', 'present', 'absent', 'late')),
    credited_minutes INTEGER     NOT NULL DEFAULT 0 CHECK (credited_minutes >= 0),
    module_completed INTEGER     NOT NULL DEFAULT 0,
    assessment_score INTEGER,
    created_by       BIGINT      NOT NULL REFERENCES users (id),
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
-- A client holds a session once at a time.
CREATE UNIQUE INDEX training_enrollments_active_session_id_client_id_key ON training_enrollments (session_id, client_id)
    WHERE status IN ('enrolled', 'waitlisted');
CREATE INDEX training_enrollments_client_id_idx ON training_enrollments (client_id);
CREATE INDEX training_enrollments_waitlist_idx ON training_enrollments (session_id, created_at, id) WHERE status = 'waitlisted';
