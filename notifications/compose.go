package notifications

import (
	"context"
	"fmt"
	"time"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/storage"
)

// facts are what a notification is about, read just before it is sent.
type facts struct {
	// The client.
	FirstName, PreferredChannel, Phone, Email string
	SMSOptedOut, EmailOptedOut                bool
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
	UserActive bool
}

func (f *facts) reachable() bool {
	switch f.PreferredChannel {
	case "sms":
		return f.Phone != "" && !f.SMSOptedOut
	case "email":
		return f.Email != "" && !f.EmailOptedOut
	}
	return false
}

func (s *Service) facts(ctx context.Context, n *Notification) (*facts, error) {
	f := &facts{}
	db := s.DB
	if n.ClientID != nil {
		if err := db.NewSelect().TableExpr("clients AS c").
			ColumnExpr("c.first_name, c.preferred_channel, c.phone, c.email, c.sms_opted_out, c.email_opted_out").
			Where("c.id = ?", *n.ClientID).
			Scan(ctx, &f.FirstName, &f.PreferredChannel, &f.Phone, &f.Email, &f.SMSOptedOut, &f.EmailOptedOut); err != nil {
			return nil, storage.Err(err, "client")
		}
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
		if err := db.NewSelect().Table("users").Column("email", "active").Where("id = ?", *n.UserID).
			Scan(ctx, &f.UserEmail, &f.UserActive); err != nil {
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
	}
	if n.UserID != nil && !f.UserActive {
		return "the staff member was deactivated"
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
	loc := s.Location
	today := calendar.Today(now, loc)
	if n.Recipient != ClientRecipient {
		return Verdict{}, s.composeStaff(ctx, n, f, today)
	}
	switch {
	case f.PreferredChannel == "sms" && f.Phone != "":
		n.Channel, n.Address = "sms", f.Phone
	case f.PreferredChannel == "email" && f.Email != "":
		n.Channel, n.Address = "email", f.Email
	default:
		return Verdict{Cancel: "the client has no reminder channel now"}, nil
	}
	if (n.Channel == "sms" && f.SMSOptedOut) || (n.Channel == "email" && f.EmailOptedOut) {
		return Verdict{Cancel: "the client opted out of " + n.Channel}, nil
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return Verdict{}, err
	}
	if until, quiet := p.QuietHours.QuietUntil(now, loc); quiet {
		return Verdict{Defer: until}, nil
	}
	lang := n.Language
	m := Message{FirstName: f.FirstName, Agency: s.Agency.Name, AgencyPhone: s.Agency.Phone,
		DeviceKind: DeviceKindIn(f.DeviceKind, lang), AssetTag: f.AssetTag, Note: n.Note,
		SessionTitle: f.SessionTitle, Location: f.Location}
	if !f.DueOn.IsZero() {
		m.DueOn = FormatDate(f.DueOn.Time(), lang, false)
		m.DaysLeft = int(f.DueOn.Time().Sub(today.Time()).Hours() / 24)
		m.DaysOverdue = -m.DaysLeft
	}
	if !f.PlanEndsOn.IsZero() {
		m.PlanEndsOn = FormatDate(f.PlanEndsOn.Time(), lang, false)
	}
	if !f.StartsAt.IsZero() {
		m.SessionWhen = FormatDate(f.StartsAt.In(loc), lang, true)
	}
	body, err := Render(n.Kind, lang, m)
	if err != nil {
		return Verdict{}, err
	}
	n.Body, n.Subject = body, Subject(n.Kind, lang)
	return Verdict{}, nil
}

// composeStaff writes a note to a social worker or coordinator.
func (s *Service) composeStaff(ctx context.Context, n *Notification, f *facts, today calendar.Date) error {
	n.Address = f.UserEmail
	m := StaffMessage{Agency: s.Agency.Name, DeviceKind: f.DeviceKind, AssetTag: f.AssetTag, Note: n.Note,
		SessionTitle: f.SessionTitle, Unreachable: n.ClientID != nil && !f.reachable()}
	if n.LoanID != nil {
		m.LoanID = *n.LoanID
	}
	if n.ClientID != nil {
		m.ClientID = *n.ClientID
	}
	if n.SessionID != nil {
		m.SessionID = *n.SessionID
		m.SessionWhen = FormatDate(f.StartsAt.In(s.Location), "en", true)
	}
	if !f.DueOn.IsZero() {
		m.DueOn = FormatDate(f.DueOn.Time(), "en", false)
		m.DaysOverdue = int(today.Time().Sub(f.DueOn.Time()).Hours() / 24)
	}
	if !f.PlanEndsOn.IsZero() {
		m.PlanEndsOn = FormatDate(f.PlanEndsOn.Time(), "en", false)
	}
	if n.Kind == CoordinatorDigest {
		counts, err := s.digestCounts(ctx)
		if err != nil {
			return err
		}
		m.Inspection, m.Overdue = counts.Inspection, counts.Overdue
	}
	subject, body, err := RenderStaff(n.Kind, m)
	if err != nil {
		return fmt.Errorf("compose %s: %w", n.Kind, err)
	}
	n.Subject, n.Body = subject, body
	return nil
}
