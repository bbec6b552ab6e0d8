package notifications

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/locale"
	"github.com/devicebank/devicebank/storage"
)

// facts are what a notification is about, read just before it is sent.
type facts struct {
	// The client.
	FirstName    string
	Contact      contact
	CaseworkerID int64
	// The loan and its device.
	LoanStatus   string
	DueOn        calendar.Date
	LoanPlanID   *int64
	DeviceKind   string
	AssetTag     string
	PlanEndsOn   calendar.Date
	SessionTitle string
	Location     string
	Session      string // scheduled or cancelled
	StartsAt     time.Time
	Enrolled     bool
	// The staff recipient.
	UserEmail  string
	UserName   string
	UserRole   string
	UserActive bool
}

func (s *Service) facts(ctx context.Context, n *Notification) (*facts, error) {
	f := &facts{}
	db := s.DB
	if n.ClientID != nil {
		c, err := s.Clients.Record(ctx, db, *n.ClientID)
		if err != nil {
			return nil, err
		}
		f.FirstName, f.Contact, f.CaseworkerID = c.FirstName, contactOf(c), c.CaseworkerID
	}
	if n.LoanID != nil {
		if err := db.NewSelect().TableExpr("loans AS l").Join("JOIN devices AS d ON d.id = l.device_id").
			ColumnExpr("l.status, l.due_on, l.data_plan_id, d.kind, d.asset_tag").Where("l.id = ?", *n.LoanID).
			Scan(ctx, &f.LoanStatus, &f.DueOn, &f.LoanPlanID, &f.DeviceKind, &f.AssetTag); err != nil {
			return nil, storage.Err(err, "loan")
		}
	}
	if n.DataPlanID != nil {
		if err := db.NewSelect().Table("data_plans").Column("ends_on").Where("id = ?", *n.DataPlanID).
			Scan(ctx, &f.PlanEndsOn); err != nil {
			return nil, storage.Err(err, "data plan")
		}
	}
	if n.SessionID != nil {
		if err := db.NewSelect().Table("training_sessions").Column("title", "location", "status", "starts_at").
			Where("id = ?", *n.SessionID).Scan(ctx, &f.SessionTitle, &f.Location, &f.Session, &f.StartsAt); err != nil {
			return nil, storage.Err(err, "session")
		}
		if n.ClientID != nil {
			ok, err := db.NewSelect().Table("training_enrollments").
				Where("session_id = ? AND client_id = ? AND status = 'enrolled'", *n.SessionID, *n.ClientID).Exists(ctx)
			if err != nil {
				return nil, storage.Err(err, "enrollment")
			}
			f.Enrolled = ok
		}
	}
	if n.UserID != nil {
		if err := db.NewSelect().Table("users").Column("email", "name", "role", "active").Where("id = ?", *n.UserID).
			Scan(ctx, &f.UserEmail, &f.UserName, &f.UserRole, &f.UserActive); err != nil {
			return nil, storage.Err(err, "user")
		}
	}
	return f, nil
}

// stale says why n no longer applies, or "".
func stale(n *Notification, f *facts) string {
	loanClosed := n.LoanID != nil && f.LoanStatus != "open"
	switch n.Kind {
	case LoanDueSoon, LoanDueToday, LoanOverdue:
		if loanClosed {
			return "the loan was closed"
		}
		if f.DueOn != n.AboutDate {
			return "the due date moved"
		}
	case Manual:
		if loanClosed {
			return "the loan was closed"
		}
	case DataPlanEnding:
		switch {
		case loanClosed:
			return "the loan was closed"
		case f.LoanPlanID == nil || n.DataPlanID == nil || *f.LoanPlanID != *n.DataPlanID:
			return "the loan's data plan changed"
		case f.PlanEndsOn != n.AboutDate:
			return "the plan's end date moved"
		}
	case TrainingUpcoming:
		if f.Session != "scheduled" || n.AboutTime == nil || !f.StartsAt.Equal(*n.AboutTime) || !f.Enrolled {
			return "the session moved or was cancelled, or the place ended"
		}
	case FunderReport:
		// Another role would see other figures (all of them, for an admin).
		if n.UserID == nil || f.UserRole != string(accounts.Funder) {
			return "the user is no longer a funder"
		}
		if f.UserEmail == "" {
			return "the funder has no email address"
		}
	}
	if n.UserID != nil && !f.UserActive {
		return "the staff member was deactivated"
	}
	if n.Recipient == SocialWorkerRecipient && n.ClientID != nil && n.UserID != nil && *n.UserID != f.CaseworkerID {
		return "the client has another social worker now"
	}
	return ""
}

// prepare is the outbox's last look before sending: it cancels what no
// longer applies, holds client messages during quiet hours, follows a
// client's current channel and address, and writes the message.
func (s *Service) prepare(ctx context.Context, n *Notification) (Verdict, error) {
	now := s.Now().UTC()
	if n.ExpiresAt != nil && !now.Before(*n.ExpiresAt) {
		return Verdict{Cancel: "too late: what it was about has passed"}, nil
	}
	f, err := s.facts(ctx, n)
	if err != nil {
		return Verdict{}, err
	}
	if why := stale(n, f); why != "" {
		return Verdict{Cancel: why}, nil
	}
	if n.Kind == FunderReport {
		return Verdict{}, s.composeFunderReport(ctx, n, f)
	}
	loc := s.Location
	today := calendar.Today(now, loc)
	if n.Recipient != ClientRecipient {
		return Verdict{}, s.composeStaff(ctx, n, f, today)
	}
	c := f.Contact
	if (c.Channel == "sms" && c.SMSOptedOut) || (c.Channel == "email" && c.EmailOptedOut) {
		return Verdict{Cancel: "the client opted out of " + c.Channel}, nil
	}
	if n.Channel, n.Address = s.channelFor(c); n.Channel == "" {
		return Verdict{Cancel: "the client cannot be reached now (no channel, no address, or a channel not configured)"}, nil
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return Verdict{}, err
	}
	if until, quiet := p.QuietHours.QuietUntil(now, loc); quiet && !urgentNow(n, until) {
		return Verdict{Defer: until}, nil
	}
	lang := n.Language
	ag := s.agency(ctx)
	m := Message{FirstName: f.FirstName, Agency: ag.Name, AgencyPhone: ag.Phone,
		DeviceKind: locale.DeviceKind(f.DeviceKind, lang), AssetTag: f.AssetTag, Note: n.Note,
		SessionTitle: f.SessionTitle, Location: f.Location}
	if !f.DueOn.IsZero() {
		m.DueOn = locale.FormatDate(f.DueOn.Time(), lang, false)
		m.DaysLeft = int(f.DueOn.Time().Sub(today.Time()).Hours() / 24)
		m.DaysOverdue = -m.DaysLeft
	}
	if !f.PlanEndsOn.IsZero() {
		m.PlanEndsOn = locale.FormatDate(f.PlanEndsOn.Time(), lang, false)
	}
	if !f.StartsAt.IsZero() {
		m.SessionWhen = locale.FormatDate(f.StartsAt.In(loc), lang, true)
	}
	body, err := Render(n.Kind, lang, m)
	if err != nil {
		return Verdict{}, err
	}
	n.Body, n.Subject = body, Subject(n.Kind, lang)
	return Verdict{}, nil
}

// urgentNow: a session's cancellation goes out even in quiet hours when
// waiting for their end would reach the session's start, so that nobody
// travels to a class that is off. Other reminders wait (and a reminder
// about a session that starts before the quiet hours end expires).
func urgentNow(n *Notification, quietUntil time.Time) bool {
	return n.Kind == TrainingCancelled && n.AboutTime != nil && !quietUntil.Before(*n.AboutTime)
}

// composeStaff writes a note to a social worker or coordinator.
func (s *Service) composeStaff(ctx context.Context, n *Notification, f *facts, today calendar.Date) error {
	n.Address = f.UserEmail
	m := StaffMessage{Agency: s.agency(ctx).Name, DeviceKind: f.DeviceKind, AssetTag: f.AssetTag, Note: n.Note,
		SessionTitle: f.SessionTitle}
	if n.ClientID != nil {
		ch, _ := s.channelFor(f.Contact)
		m.Unreachable = ch == ""
		// Whether the client was sent this reminder too: their row shares
		// the key up to the recipient.
		if !m.Unreachable {
			prefix, _, _ := strings.Cut(n.DedupKey, ":"+string(n.Recipient))
			ok, err := s.DB.NewSelect().Model((*Notification)(nil)).Where("dedup_key = ?", prefix+":client").Exists(ctx)
			if err != nil {
				return storage.Err(err, "notification")
			}
			m.ClientReminded = ok
		}
	}
	if n.LoanID != nil {
		m.LoanID = *n.LoanID
	}
	if n.ClientID != nil {
		m.ClientID = *n.ClientID
	}
	if n.SessionID != nil {
		m.SessionID = *n.SessionID
		m.SessionWhen = locale.FormatDate(f.StartsAt.In(s.Location), "en", true)
	}
	if !f.DueOn.IsZero() {
		m.DueOn = locale.FormatDate(f.DueOn.Time(), "en", false)
		m.DaysOverdue = int(today.Time().Sub(f.DueOn.Time()).Hours() / 24)
	}
	if !f.PlanEndsOn.IsZero() {
		m.PlanEndsOn = locale.FormatDate(f.PlanEndsOn.Time(), "en", false)
	}
	if n.Kind == CoordinatorDigest {
		counts, err := s.digestCounts(ctx)
		if err != nil {
			return err
		}
		m.Inspection, m.Overdue, m.Unsigned = counts.Inspection, counts.Overdue, counts.Unsigned
	}
	subject, body, err := RenderStaff(n.Kind, m)
	if err != nil {
		return fmt.Errorf("compose %s: %w", n.Kind, err)
	}
	n.Subject, n.Body = subject, body
	return nil
}
