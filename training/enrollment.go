package training

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
)

func enrollmentEvent(actor *accounts.Actor, at time.Time, action string, e *Enrollment) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "training_session",
		SubjectID: e.SessionID, ClientID: &e.ClientID}
}

// checkClient applies who may enroll whom: the clients the actor may see
// (a social worker their own, a coordinator those referred to the program,
// an admin anyone). Any other id is answered as one that does not exist.
func (s *Service) checkClient(ctx context.Context, db bun.IDB, actor *accounts.Actor, clientID int64) error {
	return s.Clients.CheckReference(ctx, db, actor, "client_id", clientID)
}

// checkPathClient is checkClient for a client named in the URL: one that
// does not exist is not found, rather than an invalid field.
func (s *Service) checkPathClient(ctx context.Context, db bun.IDB, actor *accounts.Actor, clientID int64, what string) error {
	err := s.checkClient(ctx, db, actor, clientID)
	if apperr.Is(err, apperr.Invalid) {
		return apperr.New(apperr.NotFound, "%s not found", what)
	}
	return err
}

// Enroll gives a client a seat in a session, or a place on its waitlist
// when it is full. A client cannot hold two overlapping sessions.
func (s *Service) Enroll(ctx context.Context, actor *accounts.Actor, sessionID, clientID int64) (*Enrollment, error) {
	var e *Enrollment
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.checkClient(ctx, tx, actor, clientID); err != nil {
			return err
		}
		// One enrollment at a time per client, so that two overlapping
		// sessions cannot both be taken by concurrent requests.
		if err := storage.LockName(ctx, tx, "training-client:"+strconv.FormatInt(clientID, 10)); err != nil {
			return err
		}
		ss, err := s.loadSession(ctx, tx, sessionID, false)
		if err != nil {
			return err
		}
		now := s.now()
		switch {
		case ss.Status != "scheduled":
			return apperr.New(apperr.Conflict, "session %d is cancelled", ss.ID)
		case !ss.StartsAt.After(now):
			return apperr.New(apperr.Conflict, "session %d has already started", ss.ID)
		}
		var clash Session
		err = tx.NewSelect().Model(&clash).
			Join("JOIN training_enrollments AS te ON te.session_id = ts.id").
			Where("te.client_id = ? AND te.status IN ('enrolled', 'waitlisted')", clientID).
			Where("ts.status = 'scheduled' AND ts.id <> ?", ss.ID).
			Where("ts.starts_at < ? AND ts.ends_at > ?", ss.EndsAt, ss.StartsAt).
			Limit(1).Scan(ctx)
		if err == nil {
			return apperr.New(apperr.Conflict, "the client already holds session %d (%s), which overlaps this one", clash.ID, clash.Title)
		}
		if !apperr.Is(storage.Err(err, "session"), apperr.NotFound) {
			return storage.Err(err, "sessions")
		}
		e = &Enrollment{SessionID: ss.ID, ClientID: clientID, Status: "waitlisted", Referral: actor.Can(accounts.ReferClients),
			CreatedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(e).Exec(ctx); err != nil {
			if storage.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "the client is already enrolled or waitlisted in session %d", ss.ID)
			}
			return storage.Err(err, "enrollment")
		}
		seated, err := s.takeSeat(ctx, tx, ss.ID)
		if err != nil {
			return err
		}
		if seated {
			if _, err := tx.NewUpdate().Model(e).Set("status = 'enrolled'").WherePK().Exec(ctx); err != nil {
				return storage.Err(err, "enrollment")
			}
			e.Status = "enrolled"
		}
		return audit.Record(ctx, tx, enrollmentEvent(actor, now, "training."+e.Status, e), map[string]any{"session": ss.Title, "starts_at": ss.StartsAt})
	})
	if err != nil {
		return nil, err
	}
	e.finish()
	return e, nil
}

// takeSeat takes one seat if the session has one free. The database checks
// the condition, so concurrent enrollments cannot overfill a session.
func (s *Service) takeSeat(ctx context.Context, tx bun.Tx, sessionID int64) (bool, error) {
	res, err := tx.NewUpdate().Model((*Session)(nil)).Set("enrolled_count = enrolled_count + 1").
		Where("id = ? AND status = 'scheduled' AND enrolled_count < capacity", sessionID).Exec(ctx)
	if err != nil {
		return false, storage.Err(err, "session")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// promote seats people from the waitlist, first come first served, while
// seats are free.
func (s *Service) promote(ctx context.Context, tx bun.Tx, actor *accounts.Actor, sessionID int64) error {
	for {
		head := new(Enrollment)
		err := storage.Locked(tx.NewSelect().Model(head).Where("te.session_id = ? AND te.status = 'waitlisted'", sessionID).
			OrderExpr("te.created_at, te.id").Limit(1)).Scan(ctx)
		if apperr.Is(storage.Err(err, "enrollment"), apperr.NotFound) {
			return nil
		}
		if err != nil {
			return storage.Err(err, "waitlist")
		}
		seated, err := s.takeSeat(ctx, tx, sessionID)
		if err != nil || !seated {
			return err
		}
		now := s.now()
		if _, err := tx.NewUpdate().Model(head).Set("status = 'enrolled'").Set("updated_at = ?", now).WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "enrollment")
		}
		if err := audit.Record(ctx, tx, enrollmentEvent(actor, now, "training.promoted", head), nil); err != nil {
			return err
		}
	}
}

// Place returns a client's latest place in a session (enrolled,
// waitlisted, withdrawn or cancelled, with any attendance). A client the
// actor may not see is not found.
func (s *Service) Place(ctx context.Context, actor *accounts.Actor, sessionID, clientID int64) (*Enrollment, error) {
	var e Enrollment
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.checkPathClient(ctx, tx, actor, clientID, "enrollment"); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&e).Where("te.session_id = ? AND te.client_id = ?", sessionID, clientID).
			OrderExpr("te.id DESC").Limit(1).Scan(ctx); err != nil {
			return storage.Err(err, "enrollment")
		}
		return s.recordTrainingRead(ctx, tx, actor, clientID)
	})
	if err != nil {
		return nil, err
	}
	e.finish()
	return &e, nil
}

// Withdraw takes a client out of a session; a freed seat goes to the
// first on the waitlist.
func (s *Service) Withdraw(ctx context.Context, actor *accounts.Actor, sessionID, clientID int64) (*Enrollment, error) {
	var e Enrollment
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.checkPathClient(ctx, tx, actor, clientID, "enrollment"); err != nil {
			return err
		}
		err := storage.Locked(tx.NewSelect().Model(&e).Where("te.session_id = ? AND te.client_id = ? AND te.status IN ('enrolled', 'waitlisted')",
			sessionID, clientID)).Scan(ctx)
		if err != nil {
			return storage.Err(err, "enrollment")
		}
		now := s.now()
		if _, err := tx.NewUpdate().Model(&e).Set("status = 'withdrawn'").Set("updated_at = ?", now).WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "enrollment")
		}
		was := e.Status
		e.Status, e.UpdatedAt = "withdrawn", now
		if err := audit.Record(ctx, tx, enrollmentEvent(actor, now, "training.withdrawn", &e), map[string]any{"status": audit.Change{From: was, To: "withdrawn"}}); err != nil {
			return err
		}
		if s.Notices != nil {
			if err := s.Notices.PlaceEnded(ctx, tx, sessionID, clientID); err != nil {
				return err
			}
		}
		if was != "enrolled" {
			return nil
		}
		if _, err := tx.NewUpdate().Model((*Session)(nil)).Set("enrolled_count = enrolled_count - 1").
			Where("id = ? AND enrolled_count > 0", sessionID).Exec(ctx); err != nil {
			return storage.Err(err, "session")
		}
		return s.promote(ctx, tx, actor, sessionID)
	})
	if err != nil {
		return nil, err
	}
	e.finish()
	return &e, nil
}

// AttendanceInput is what a trainer records for one client after a session.
type AttendanceInput struct {
	ClientID int64   `json:"client_id"`
	Status   string  `json:"status"` // present, absent, late
	Hours    float64 `json:"hours"`
	// ModuleCompleted marks the session's topic as completed, when the
	// assessment (if any) reaches the pass mark.
	ModuleCompleted bool `json:"module_completed"`
	AssessmentScore *int `json:"assessment_score"`
	PassMark        *int `json:"pass_mark"`
}

// RecordAttendance records (or corrects) a client's attendance. Changes
// after the fact are audited with their old and new values.
func (s *Service) RecordAttendance(ctx context.Context, actor *accounts.Actor, sessionID int64, in AttendanceInput) (*Enrollment, error) {
	var bad apperr.Fields
	bad.Check(in.ClientID <= 0, "client_id", "is required")
	bad.Check(in.Status != "present" && in.Status != "absent" && in.Status != "late", "status", "must be present, absent or late")
	bad.Check(math.IsNaN(in.Hours) || in.Hours < 0, "hours", "must be 0 or more")
	bad.Check(in.Status == "absent" && in.Hours > 0, "hours", "must be 0 for an absent client")
	bad.Check(in.AssessmentScore != nil && (*in.AssessmentScore < 0 || *in.AssessmentScore > 100), "assessment_score", "must be 0 to 100")
	bad.Check(in.PassMark != nil && (*in.PassMark < 0 || *in.PassMark > 100), "pass_mark", "must be 0 to 100")
	bad.Check(in.ModuleCompleted && in.Status == "absent", "module_completed", "an absent client cannot complete the module")
	if err := bad.Err(); err != nil {
		return nil, err
	}
	var e Enrollment
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		ss, err := s.loadSession(ctx, tx, sessionID, false)
		if err != nil {
			return err
		}
		if err := s.checkClient(ctx, tx, actor, in.ClientID); err != nil {
			return err
		}
		if ss.StartsAt.After(s.now()) {
			return apperr.New(apperr.Conflict, "session %d has not started yet; attendance is recorded after it", ss.ID)
		}
		if max := ss.EndsAt.Sub(ss.StartsAt).Hours(); in.Hours > max+1e-9 {
			// Rounded down, so that the figure shown is itself allowed.
			return (apperr.Fields{"hours": "must be at most the session's length (" + eligibility.FormatHours(math.Floor(max*100)/100) + " hours)"}).Err()
		}
		err = storage.Locked(tx.NewSelect().Model(&e).Where("te.session_id = ? AND te.client_id = ? AND te.status = 'enrolled'", sessionID, in.ClientID)).Scan(ctx)
		if err != nil {
			if apperr.Is(storage.Err(err, "enrollment"), apperr.NotFound) {
				return (apperr.Fields{"client_id": "is not enrolled in this session"}).Err()
			}
			return storage.Err(err, "enrollment")
		}
		completed := in.ModuleCompleted && (in.PassMark == nil || (in.AssessmentScore != nil && *in.AssessmentScore >= *in.PassMark))
		minutes := int(math.Round(in.Hours * 60))
		before := map[string]any{"attendance": e.Attendance, "minutes": e.CreditedMinutes, "module_completed": e.ModuleCompleted, "assessment_score": e.AssessmentScore}
		e.Attendance, e.CreditedMinutes, e.ModuleCompleted, e.AssessmentScore = in.Status, minutes, completed, in.AssessmentScore
		after := map[string]any{"attendance": e.Attendance, "minutes": e.CreditedMinutes, "module_completed": e.ModuleCompleted, "assessment_score": e.AssessmentScore}
		changes := audit.Diff(before, after)
		if len(changes) == 0 {
			return nil
		}
		e.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(&e).Column("attendance", "credited_minutes", "module_completed", "assessment_score", "updated_at").
			WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "enrollment")
		}
		return audit.Record(ctx, tx, enrollmentEvent(actor, e.UpdatedAt, "training.attendance_recorded", &e), changes)
	})
	if err != nil {
		return nil, err
	}
	e.finish()
	return &e, nil
}

// RecordEntry is one session on a client's training record.
type RecordEntry struct {
	Session    Session    `json:"session"`
	Enrollment Enrollment `json:"enrollment"`
}

// Record is a client's training record.
type Record struct {
	ClientID         int64         `json:"client_id"`
	Sessions         []RecordEntry `json:"sessions"`
	TotalHours       float64       `json:"total_hours"`
	CompletedModules []string      `json:"completed_modules"`
}

// ClientRecord returns the sessions a client the actor may see took part
// in or is booked for, their credited hours and completed modules.
func (s *Service) ClientRecord(ctx context.Context, actor *accounts.Actor, clientID int64) (*Record, error) {
	var enrollments []Enrollment
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.checkPathClient(ctx, tx, actor, clientID, "client"); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&enrollments).Where("te.client_id = ?", clientID).OrderExpr("te.id").Scan(ctx); err != nil {
			return storage.Err(err, "enrollments")
		}
		return s.recordTrainingRead(ctx, tx, actor, clientID)
	})
	if err != nil {
		return nil, err
	}
	rec := &Record{ClientID: clientID, Sessions: []RecordEntry{}, CompletedModules: []string{}}
	modules := map[string]bool{}
	minutes := 0
	for _, e := range enrollments {
		ss, err := s.loadSession(ctx, s.DB, e.SessionID, false)
		if err != nil {
			return nil, err
		}
		e.finish()
		rec.Sessions = append(rec.Sessions, RecordEntry{Session: *ss, Enrollment: e})
		if e.Status == "enrolled" {
			minutes += e.CreditedMinutes
			if e.ModuleCompleted {
				modules[ss.Topic] = true
			}
		}
	}
	for m := range modules {
		rec.CompletedModules = append(rec.CompletedModules, m)
	}
	sort.Strings(rec.CompletedModules)
	sort.SliceStable(rec.Sessions, func(i, j int) bool { return rec.Sessions[i].Session.StartsAt.Before(rec.Sessions[j].Session.StartsAt) })
	rec.TotalHours = hours(minutes)
	return rec, nil
}

// recordTrainingRead records that actor read a client's training (their
// attendance, hours and assessments), as reading the record is recorded.
func (s *Service) recordTrainingRead(ctx context.Context, tx bun.Tx, actor *accounts.Actor, clientID int64) error {
	return audit.Record(ctx, tx, audit.Event{OccurredAt: s.now(), ActorID: actor.IDPtr(), Action: "client.training_viewed",
		SubjectType: "client", SubjectID: clientID, ClientID: &clientID}, nil)
}

// EligibilityTraining lists the sessions a client attended, as the
// eligibility rules count them: the day (in the agency's zone), credited
// time, topic and whether the module was completed.
func (s *Service) EligibilityTraining(ctx context.Context, db bun.IDB, clientID int64) ([]eligibility.TrainingCredit, error) {
	var rows []struct {
		StartsAt  time.Time `bun:"starts_at"`
		Minutes   int       `bun:"credited_minutes"`
		Topic     string    `bun:"topic"`
		Completed bool      `bun:"module_completed"`
	}
	err := db.NewSelect().TableExpr("training_enrollments AS te").Join("JOIN training_sessions AS ts ON ts.id = te.session_id").
		ColumnExpr("ts.starts_at, te.credited_minutes, ts.topic, te.module_completed").
		Where("te.client_id = ? AND te.status = 'enrolled' AND te.attendance IN ('present', 'late')", clientID).
		Scan(ctx, &rows)
	if err != nil {
		return nil, storage.Err(err, "training")
	}
	out := make([]eligibility.TrainingCredit, len(rows))
	for i, r := range rows {
		out[i] = eligibility.TrainingCredit{On: calendar.In(r.StartsAt, s.Location), Minutes: r.Minutes, Module: r.Topic, Completed: r.Completed}
	}
	return out, nil
}

// Enrollments lists a session's places (enrolled first, then the waitlist
// in order, then withdrawn and cancelled ones).
func (s *Service) Enrollments(ctx context.Context, sessionID int64, page storage.Page) ([]Enrollment, int, error) {
	if _, err := s.loadSession(ctx, s.DB, sessionID, false); err != nil {
		return nil, 0, err
	}
	out := []Enrollment{}
	total, err := page.Apply(s.DB.NewSelect().Model(&out).Where("te.session_id = ?", sessionID).
		OrderExpr("CASE te.status WHEN 'enrolled' THEN 0 WHEN 'waitlisted' THEN 1 ELSE 2 END, te.created_at, te.id")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "enrollments")
	}
	for i := range out {
		out[i].finish()
	}
	return out, int(total), nil
}

// CertificateFor renders the certificate of completion of module for a
// client the actor may see, from the session where they completed it
// (the latest, if more than one). NotFound when they have not.
func (s *Service) CertificateFor(ctx context.Context, actor *accounts.Actor, clientID int64, module string) ([]byte, error) {
	if err := s.checkPathClient(ctx, s.DB, actor, clientID, "client"); err != nil {
		return nil, err
	}
	var row struct {
		StartsAt   time.Time `bun:"starts_at"`
		Minutes    int       `bun:"credited_minutes"`
		Instructor string    `bun:"instructor"`
		Score      *int      `bun:"assessment_score"`
	}
	err := s.DB.NewSelect().TableExpr("training_enrollments AS te").Join("JOIN training_sessions AS ts ON ts.id = te.session_id").
		ColumnExpr("ts.starts_at, te.credited_minutes, ts.instructor, te.assessment_score").
		Where("te.client_id = ? AND te.status = 'enrolled' AND te.module_completed AND ts.topic = ?", clientID, module).
		OrderExpr("ts.starts_at DESC").Limit(1).Scan(ctx, &row)
	if err != nil {
		if apperr.Is(storage.Err(err, "certificate"), apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "the client has not completed the module %q", module)
		}
		return nil, storage.Err(err, "certificate")
	}
	name, err := s.Clients.Name(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	agency := s.Agency
	if s.AgencyOf != nil {
		agency = s.AgencyOf(ctx)
	}
	if agency == "" {
		agency = "DeviceBank"
	}
	pdf, err := Certificate{Agency: agency, ClientName: name, Module: module, CompletedOn: row.StartsAt.In(calendar.Zone(s.Location)),
		Hours: float64(row.Minutes) / 60, Instructor: row.Instructor, Score: row.Score}.PDF()
	if err != nil {
		return nil, apperr.Wrap(err, "render certificate")
	}
	return pdf, nil
}

// Referrals selects the training places by which the client whose id is
// in the column clientID (of the enclosing query) was referred to the
// program: one a social worker or an admin booked, not withdrawn since (a
// place in a session the agency cancelled still counts: the client is
// asked to book another). Coordinators may see the clients referred.
func (s *Service) Referrals(db bun.IDB, clientID bun.Ident) *bun.SelectQuery {
	return db.NewSelect().Table("training_enrollments").ColumnExpr("1").Where("client_id = ?", clientID).Where("referral AND status <> 'withdrawn'")
}

// EnrollmentsOfClient returns every training place booked for a client,
// oldest first, for a caller that has already checked the actor may see
// everything about the client (a client's export).
func (s *Service) EnrollmentsOfClient(ctx context.Context, db bun.IDB, clientID int64) ([]Enrollment, error) {
	out := []Enrollment{}
	if err := db.NewSelect().Model(&out).Where("te.client_id = ?", clientID).OrderExpr("te.id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "enrollments")
	}
	for i := range out {
		out[i].finish()
	}
	return out, nil
}
