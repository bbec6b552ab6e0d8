// Package training keeps the agency's digital-literacy classes: sessions,
// enrollment with a capacity and a waitlist, attendance with credited hours
// and completed modules, and each client's training record.
//
// Capacity holds under concurrent enrollment because a seat is taken by a
// conditional update of the session's seat count (enrolled_count <
// capacity), checked by the database; a client's overlapping sessions are
// refused under a per-client lock.
package training

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/text/language"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
)

// Session is one class.
type Session struct {
	bun.BaseModel `bun:"table:training_sessions,alias:ts"`

	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Title         string    `bun:"title" json:"title"`
	Topic         string    `bun:"topic" json:"topic"`
	Language      string    `bun:"language" json:"language"`
	Location      string    `bun:"location" json:"location"`
	StartsAt      time.Time `bun:"starts_at" json:"starts_at"`
	EndsAt        time.Time `bun:"ends_at" json:"ends_at"`
	Capacity      int       `bun:"capacity" json:"capacity"`
	EnrolledCount int       `bun:"enrolled_count" json:"enrolled_count"`
	Instructor    string    `bun:"instructor" json:"instructor"`
	Notes         string    `bun:"notes" json:"notes"`
	Status        string    `bun:"status" json:"status"` // scheduled or cancelled
	CreatedBy     int64     `bun:"created_by" json:"created_by"`
	CreatedAt     time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
}

// Enrollment is a client's place in a session.
type Enrollment struct {
	bun.BaseModel `bun:"table:training_enrollments,alias:te"`

	ID              int64     `bun:"id,pk,autoincrement" json:"id"`
	SessionID       int64     `bun:"session_id" json:"session_id"`
	ClientID        int64     `bun:"client_id" json:"client_id"`
	Status          string    `bun:"status" json:"status"` // enrolled, waitlisted, withdrawn, cancelled
	Attendance      string    `bun:"attendance" json:"attendance"`
	CreditedMinutes int       `bun:"credited_minutes" json:"-"`
	Hours           float64   `bun:"-" json:"hours"`
	ModuleCompleted bool      `bun:"module_completed" json:"module_completed"`
	AssessmentScore *int      `bun:"assessment_score" json:"assessment_score"`
	CreatedBy       int64     `bun:"created_by" json:"created_by"`
	CreatedAt       time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at" json:"updated_at"`
	// Referral: booked by someone whose role refers clients (a social
	// worker, an admin), so that, until it is withdrawn, coordinators see
	// the client. A coordinator's own bookings refer no one.
	Referral bool `bun:"referral" json:"-"`
}

func (e *Enrollment) finish() { e.Hours = hours(e.CreditedMinutes) }

// hours is minutes as hours with at most two decimals, for the API: 59
// minutes are 0.98 hours, not 0.98333…; the minutes stay exact.
func hours(minutes int) float64 { return math.Round(float64(minutes)/60*100) / 100 }

// Clients is what training needs to know about clients.
type Clients interface {
	// Name returns the full name of a client the actor may see, and
	// records the read.
	Name(ctx context.Context, actor *accounts.Actor, id int64) (string, error)
	// CheckReference reports field invalid unless the actor may see client
	// id, in the same words whether the client exists or not.
	CheckReference(ctx context.Context, db bun.IDB, actor *accounts.Actor, field string, id int64) error
}

// Service schedules sessions and keeps enrollment and attendance.
type Service struct {
	DB      bun.IDB
	Now     func() time.Time
	Clients Clients
	// Location is the agency's time zone, for dates on certificates.
	Location *time.Location
	// Agency is the agency's name, printed on certificates.
	Agency string
	// AgencyOf, when set, is the agency's name at use time (an admin may
	// change it); Agency is then unused.
	AgencyOf func(context.Context) string
	// Notices hears of cancelled sessions and ended places; may be nil.
	Notices Notices
}

// Notices is told, inside the transaction, of changes that reminders
// depend on.
type Notices interface {
	// SessionCancelled: cancel the session's reminders, tell those
	// enrolled. Called before their places are cancelled.
	SessionCancelled(ctx context.Context, tx bun.IDB, sessionID int64) error
	// PlaceEnded: a client withdrew; cancel their reminders for it.
	PlaceEnded(ctx context.Context, tx bun.IDB, sessionID, clientID int64) error
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// SessionInput is a session as entered; for an update, nil fields stay.
type SessionInput struct {
	Title      *string        `json:"title"`
	Topic      *string        `json:"topic"`
	Language   *string        `json:"language"`
	Location   *string        `json:"location"`
	StartsAt   *calendar.Time `json:"starts_at"`
	EndsAt     *calendar.Time `json:"ends_at"`
	Capacity   *int           `json:"capacity"`
	Instructor *string        `json:"instructor"`
	Notes      *string        `json:"notes"`
}

// MaxCapacity bounds a session's seats.
const MaxCapacity = 1000

func (in SessionInput) apply(ss *Session) error {
	for dst, src := range map[*string]*string{&ss.Title: in.Title, &ss.Topic: in.Topic, &ss.Language: in.Language,
		&ss.Location: in.Location, &ss.Instructor: in.Instructor, &ss.Notes: in.Notes} {
		optional.AssignTrimmed(dst, src)
	}
	var bad apperr.Fields
	startsOK := assignTime(&bad, "starts_at", &ss.StartsAt, in.StartsAt)
	endsOK := assignTime(&bad, "ends_at", &ss.EndsAt, in.EndsAt)
	optional.Assign(&ss.Capacity, in.Capacity)
	if ss.Language == "" {
		ss.Language = "en"
	}
	bad.Check(ss.Title == "", "title", "is required")
	bad.MaxLength("title", ss.Title, 200)
	bad.Check(ss.Topic == "", "topic", "is required: the module this session teaches, such as device_basics")
	bad.MaxLength("topic", ss.Topic, 100)
	if tag, err := language.Parse(ss.Language); err != nil || len(ss.Language) > 35 {
		bad.Add("language", "must be a language code such as en, es or fr-CA")
	} else {
		ss.Language = tag.String()
	}
	bad.MaxLength("location", ss.Location, 500)
	bad.MaxLength("instructor", ss.Instructor, 200)
	bad.MaxLength("notes", ss.Notes, 2000)
	bad.Check(startsOK && ss.StartsAt.IsZero(), "starts_at", "is required (RFC 3339, such as 2026-04-02T17:30:00-05:00)")
	bad.Check(endsOK && ss.EndsAt.IsZero(), "ends_at", "is required (RFC 3339)")
	if startsOK && endsOK && !ss.StartsAt.IsZero() && !ss.EndsAt.IsZero() {
		bad.Check(!ss.EndsAt.After(ss.StartsAt), "ends_at", "must be after starts_at")
		bad.Check(ss.EndsAt.Sub(ss.StartsAt) > 12*time.Hour, "ends_at", "a session lasts at most 12 hours")
		bad.Check(ss.StartsAt.Year() < 2000 || ss.StartsAt.Year() > 2200, "starts_at", "must be between 2000 and 2200")
	}
	bad.Check(ss.Capacity < 1 || ss.Capacity > MaxCapacity, "capacity", "must be 1 to "+strconv.Itoa(MaxCapacity))
	return bad.Err()
}

// assignTime sets dst to the time given as src, in UTC, and reports whether
// src was usable: left out, or a time (what else it was is noted in bad).
func assignTime(bad *apperr.Fields, field string, dst *time.Time, src *calendar.Time) bool {
	if src == nil {
		return true
	}
	if !src.Check(bad, field) {
		return false
	}
	*dst = src.Time().UTC()
	return true
}

// CreateSession schedules a session.
func (s *Service) CreateSession(ctx context.Context, actor *accounts.Actor, in SessionInput) (*Session, error) {
	ss := &Session{Status: "scheduled"}
	if err := in.apply(ss); err != nil {
		return nil, err
	}
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		ss.CreatedBy, ss.CreatedAt, ss.UpdatedAt = actor.ID, s.now(), s.now()
		if _, err := tx.NewInsert().Model(ss).Exec(ctx); err != nil {
			return storage.Err(err, "session")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: ss.CreatedAt, ActorID: actor.IDPtr(), Action: "training.session_created",
			SubjectType: "training_session", SubjectID: ss.ID}, map[string]any{"title": ss.Title, "topic": ss.Topic,
			"starts_at": ss.StartsAt, "ends_at": ss.EndsAt, "capacity": ss.Capacity})
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

func (s *Service) loadSession(ctx context.Context, db bun.IDB, id int64, lock bool) (*Session, error) {
	ss := new(Session)
	if err := storage.LockedIf(db.NewSelect().Model(ss).Where("ts.id = ?", id), lock).Scan(ctx); err != nil {
		return nil, storage.Err(err, "session")
	}
	return ss, nil
}

// Session returns one session.
func (s *Service) Session(ctx context.Context, id int64) (*Session, error) {
	return s.loadSession(ctx, s.DB, id, false)
}

// UpdateSession changes a session. Its capacity cannot drop below the seats
// taken; raising it seats people from the waitlist.
func (s *Service) UpdateSession(ctx context.Context, actor *accounts.Actor, id int64, in SessionInput) (*Session, error) {
	var ss *Session
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if ss, err = s.loadSession(ctx, tx, id, true); err != nil {
			return err
		}
		if ss.Status != "scheduled" {
			return apperr.New(apperr.Conflict, "session %d is cancelled", ss.ID)
		}
		before := map[string]any{"title": ss.Title, "topic": ss.Topic, "language": ss.Language, "location": ss.Location,
			"starts_at": ss.StartsAt, "ends_at": ss.EndsAt, "capacity": ss.Capacity, "instructor": ss.Instructor, "notes": ss.Notes}
		if err := in.apply(ss); err != nil {
			return err
		}
		if ss.Capacity < ss.EnrolledCount {
			return (apperr.Fields{"capacity": "must be at least the " + strconv.Itoa(ss.EnrolledCount) + " seats already taken"}).Err()
		}
		after := map[string]any{"title": ss.Title, "topic": ss.Topic, "language": ss.Language, "location": ss.Location,
			"starts_at": ss.StartsAt, "ends_at": ss.EndsAt, "capacity": ss.Capacity, "instructor": ss.Instructor, "notes": ss.Notes}
		changes := audit.Diff(before, after)
		if len(changes) == 0 {
			return nil
		}
		ss.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(ss).ExcludeColumn("id", "created_at", "created_by", "enrolled_count", "status").WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "session")
		}
		if err := audit.Record(ctx, tx, audit.Event{OccurredAt: ss.UpdatedAt, ActorID: actor.IDPtr(), Action: "training.session_updated",
			SubjectType: "training_session", SubjectID: ss.ID}, changes); err != nil {
			return err
		}
		return s.promote(ctx, tx, actor, ss.ID)
	})
	if err != nil {
		return nil, err
	}
	return s.Session(ctx, id)
}

// CancelSession cancels a scheduled session and every place in it; the
// clients who had one are told (Notices).
func (s *Service) CancelSession(ctx context.Context, actor *accounts.Actor, id int64) (*Session, error) {
	var ss *Session
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if ss, err = s.loadSession(ctx, tx, id, true); err != nil {
			return err
		}
		if ss.Status != "scheduled" {
			return apperr.New(apperr.Conflict, "session %d is already cancelled", ss.ID)
		}
		now := s.now()
		if _, err := tx.NewUpdate().Model(ss).Set("status = 'cancelled'").Set("enrolled_count = 0").Set("updated_at = ?", now).WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "session")
		}
		// Notices are told first, while the enrolled are still enrolled.
		if s.Notices != nil {
			if err := s.Notices.SessionCancelled(ctx, tx, ss.ID); err != nil {
				return err
			}
		}
		res, err := tx.NewUpdate().Model((*Enrollment)(nil)).Set("status = 'cancelled'").Set("updated_at = ?", now).
			Where("session_id = ? AND status IN ('enrolled', 'waitlisted')", ss.ID).Exec(ctx)
		if err != nil {
			return storage.Err(err, "enrollments")
		}
		n, _ := res.RowsAffected()
		ss.Status, ss.EnrolledCount, ss.UpdatedAt = "cancelled", 0, now
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "training.session_cancelled",
			SubjectType: "training_session", SubjectID: ss.ID}, map[string]any{"places_cancelled": n})
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

// SessionFilter narrows the list of sessions.
type SessionFilter struct {
	From, To time.Time // starts_at in [From, To); zero: open
	Topic    string
	Language string
	// Cancelled includes cancelled sessions.
	Cancelled bool
	// Newest lists the latest first (past sessions, most recent first).
	Newest bool
}

// Sessions lists sessions by start time.
func (s *Service) Sessions(ctx context.Context, f SessionFilter, page storage.Page) ([]Session, int, error) {
	out := []Session{}
	q := s.DB.NewSelect().Model(&out)
	if !f.From.IsZero() {
		q.Where("ts.starts_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q.Where("ts.starts_at < ?", f.To.UTC())
	}
	if f.Topic != "" {
		q.Where("ts.topic = ?", f.Topic)
	}
	if f.Language != "" {
		q.Where("ts.language = ?", f.Language)
	}
	if !f.Cancelled {
		q.Where("ts.status = 'scheduled'")
	}
	order := "ts.starts_at, ts.id"
	if f.Newest {
		order = "ts.starts_at DESC, ts.id DESC"
	}
	total, err := page.Apply(q.OrderExpr(order)).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "sessions")
	}
	return out, int(total), nil
}
