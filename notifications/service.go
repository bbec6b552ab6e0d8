package notifications

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/phone"
	"github.com/devicebank/devicebank/storage"
)

// Agency is who reminders come from.
type Agency struct {
	Name  string
	Phone string
}

// Clients is what reminders need to know of client visibility.
type Clients interface {
	// VisibleAmong returns which of ids the actor may see.
	VisibleAmong(ctx context.Context, actor *accounts.Actor, ids []int64) (map[int64]bool, error)
	// VisibleIDs selects the ids of the clients actor may see.
	VisibleIDs(db bun.IDB, actor *accounts.Actor) *bun.SelectQuery
	// Record returns a client's record, opened, checking and recording
	// nothing: what a reminder is addressed and written with.
	Record(ctx context.Context, db bun.IDB, id int64) (*clients.Client, error)
	// PhoneIndex is the digest a client's phone number (E.164) is found by.
	PhoneIndex(e164 string) string
}

// Loans finds a loan the actor may see.
type Loans interface {
	Loan(ctx context.Context, actor *accounts.Actor, id int64) (*inventory.Loan, error)
}

// Service creates reminders (the sweep, the digest, "remind now"), keeps
// the reminder policy and lists the outbox.
type Service struct {
	DB       *storage.DB
	Now      func() time.Time
	Location *time.Location
	Agency   Agency
	// AgencyOf, when set, is who reminders come from at use time (an admin
	// may change it); Agency is then unused.
	AgencyOf func(context.Context) Agency
	Outbox   *Outbox
	Clients  Clients
	Loans    Loans
	// Reports draws the report funders are emailed each month.
	Reports Reports
	// Default is the policy until an admin sets one; nil means
	// DefaultPolicy().
	Default *Policy
	// RemindNowInterval is how long after a manual reminder about a loan
	// ("remind now") the next may be sent; 0 means no limit.
	RemindNowInterval time.Duration
	// Observer, when set, is told of each scheduled job run and each
	// notification dispatched (the metrics); set it before the scheduler
	// starts.
	Observer Observer
}

// DefaultRemindNowInterval: one manual reminder per loan every ten minutes.
const DefaultRemindNowInterval = 10 * time.Minute

// NewService builds the service and its outbox, delivering through
// channels ("sms", "email").
func NewService(db *storage.DB, now func() time.Time, loc *time.Location, agency Agency, channels map[string]Channel) *Service {
	s := &Service{DB: db, Now: now, Location: calendar.Zone(loc), Agency: agency}
	s.Outbox = &Outbox{DB: db, Now: now, Channels: channels, Prepare: s.prepare, OptedOut: s.providerOptOut, delivered: s.delivered}
	return s
}

// delivers reports whether the service sends on channel.
func (s *Service) delivers(channel string) bool {
	_, ok := s.Outbox.Channels[channel]
	return ok
}

// contact is how a client may be reached.
type contact struct {
	Channel, Phone, Email      string
	SMSOptedOut, EmailOptedOut bool
}

func contactOf(c *clients.Client) contact {
	return contact{Channel: string(c.PreferredChannel), Phone: c.Phone, Email: c.Email,
		SMSOptedOut: c.SMSOptedOut, EmailOptedOut: c.EmailOptedOut}
}

// channelFor is the channel and address to reach a client on, or "" when
// they cannot be: their preferred channel is none, lacks an address, was
// opted out of, or is not one the service delivers on. reachableSQL says
// the same in SQL.
func (s *Service) channelFor(c contact) (channel, address string) {
	switch {
	case c.Channel == "sms" && c.Phone != "" && !c.SMSOptedOut && s.delivers("sms"):
		return "sms", c.Phone
	case c.Channel == "email" && c.Email != "" && !c.EmailOptedOut && s.delivers("email"):
		return "email", c.Email
	}
	return "", ""
}

// policyRow is the admin's policy, stored as JSON.
type policyRow struct {
	bun.BaseModel `bun:"table:reminder_policy"`

	ID        int64     `bun:"id,pk"`
	Policy    string    `bun:"policy"`
	UpdatedBy *int64    `bun:"updated_by"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Policy returns the policy in force.
func (s *Service) Policy(ctx context.Context) (Policy, error) {
	return s.policyOn(ctx, s.DB)
}

// policyOn reads the policy through db: inside a transaction, through the
// transaction, which holds a connection already (a read through the pool
// could wait for a second one, and with every connection held by such
// transactions, wait for ever).
func (s *Service) policyOn(ctx context.Context, db bun.IDB) (Policy, error) {
	var row policyRow
	err := db.NewSelect().Model(&row).Where("id = 1").Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if s.Default != nil {
			return *s.Default, nil
		}
		return DefaultPolicy(), nil
	case err != nil:
		return Policy{}, storage.Err(err, "reminder policy")
	}
	var p Policy
	if err := json.Unmarshal([]byte(row.Policy), &p); err != nil {
		return Policy{}, fmt.Errorf("stored reminder policy: %w", err)
	}
	return p, nil
}

// SetPolicy replaces the policy (admins).
func (s *Service) SetPolicy(ctx context.Context, actor *accounts.Actor, p Policy) (Policy, error) {
	if !actor.Can(accounts.ManageReminders) {
		return Policy{}, apperr.New(apperr.Forbidden, "only an admin may change the reminder policy")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	before, err := s.Policy(ctx)
	if err != nil {
		return Policy{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Policy{}, err
	}
	now := s.Now().UTC()
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		row := &policyRow{ID: 1, Policy: string(b), UpdatedBy: actor.IDPtr(), UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
			Set("policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at").Exec(ctx); err != nil {
			return storage.Err(err, "reminder policy")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "reminders.policy_changed",
			SubjectType: "reminder_policy", SubjectID: 1}, audit.Change{From: before, To: p})
	})
	return p, err
}

// cancelPending cancels the pending notifications where selects, saying
// why: where takes its arguments (args) from param. h keeps the statement
// prepared, one HotQuery per where; nil when its shape varies.
func (s *Service) cancelPending(ctx context.Context, db bun.IDB, h *storage.HotQuery, why string,
	where func(q *bun.UpdateQuery, param storage.Param) *bun.UpdateQuery, args ...any) error {
	_, err := h.Exec(ctx, db, func(p storage.Param) storage.Query {
		q := db.NewUpdate().Model((*Notification)(nil)).Set("status = ?", p(0)).Set("last_error = ?", p(1)).
			Set("updated_at = ?", p(2)).Where("status = ?", p(3))
		return where(q, p.From(4))
	}, append([]any{Cancelled, why, s.Now().UTC(), Pending}, args...)...)
	return storage.Err(err, "notifications")
}

// The cancellations kept prepared (cancelPending).
var cancelForClosedLoan, cancelForRenewedLoan, cancelForSession, cancelForPlace storage.HotQuery

var dueKinds = []Kind{LoanDueSoon, LoanDueToday, LoanOverdue}

// LoanChanged is told, in the transaction that changed it, of a loan's new
// state: a closed loan (returned, lost) has its pending reminders
// cancelled, a renewed one those about its old due date. The sweep then
// creates the new due date's reminders.
func (s *Service) LoanChanged(ctx context.Context, tx bun.IDB, loanID int64, open bool, dueOn calendar.Date) error {
	if !open {
		return s.cancelPending(ctx, tx, &cancelForClosedLoan, "the loan was closed", func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
			return q.Where("loan_id = ?", p(0))
		}, loanID)
	}
	return s.cancelPending(ctx, tx, &cancelForRenewedLoan, "the loan was renewed", func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
		return q.Where("loan_id = ? AND kind IN (?) AND about_date <> ?", p(0), bun.In(dueKinds), p(1))
	}, loanID, dueOn)
}

// SessionCancelled is told, in the transaction that cancels it and before
// the places are cancelled, that a session is off: its pending reminders
// are cancelled and, if the policy says so and the session was still to
// come, every client enrolled in it is told (not those on its waitlist,
// who were never promised a seat).
func (s *Service) SessionCancelled(ctx context.Context, tx bun.IDB, sessionID int64) error {
	if err := s.cancelPending(ctx, tx, &cancelForSession, "the session was cancelled", func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
		return q.Where("session_id = ? AND kind = ?", p(0), p(1))
	}, sessionID, TrainingUpcoming); err != nil {
		return err
	}
	p, err := s.policyOn(ctx, tx)
	if err != nil || !p.TrainingCancelled {
		return err
	}
	w := s.newSweeper(tx)
	now := w.now
	t := target{kind: TrainingCancelled,
		key:    "'enrollment:' || CAST(e.id AS TEXT) || ':training_cancelled'",
		from:   "FROM training_enrollments e JOIN training_sessions ts ON ts.id = e.session_id JOIN clients c ON c.id = e.client_id",
		where:  "e.session_id = ? AND e.status = 'enrolled' AND ts.starts_at > ?",
		args:   []any{sessionID, now},
		loanID: "NULL", sessionID: "ts.id", dataPlanID: "NULL", aboutDate: "NULL", aboutTime: "ts.starts_at",
		expiresAt: "ts.starts_at", scheduled: now}
	return w.reach(ctx, t, []Audience{ToClient})
}

// PlaceEnded is told that a client's place in a session ended (withdrawn):
// their pending reminders for it are cancelled.
func (s *Service) PlaceEnded(ctx context.Context, tx bun.IDB, sessionID, clientID int64) error {
	return s.cancelPending(ctx, tx, &cancelForPlace, "the place was withdrawn", func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
		return q.Where("session_id = ? AND client_id = ? AND kind = ?", p(0), p(1), p(2))
	}, sessionID, clientID, TrainingUpcoming)
}

// MaxNoteLength bounds a manual reminder's note: it must fit in an SMS.
const MaxNoteLength = 160

// RemindInput is a coordinator's "remind now".
type RemindInput struct {
	Note string `json:"note"`
}

// SendNow sends a reminder about an open loan at once (coordinators),
// recorded like the others: to the client on their channel, or to their
// social worker when the client cannot be reached. Quiet hours still hold:
// then it waits for their end. At most one is sent per loan in
// RemindNowInterval, whoever asks and through whichever instance; more is
// refused as rate_limited, saying when the next may go.
func (s *Service) SendNow(ctx context.Context, actor *accounts.Actor, loanID int64, in RemindInput) (*Notification, error) {
	if !actor.Can(accounts.SendReminders) {
		return nil, apperr.New(apperr.Forbidden, "only a coordinator may send a reminder")
	}
	in.Note = strings.Join(strings.Fields(in.Note), " ")
	var bad apperr.Fields
	bad.MaxLength("note", in.Note, MaxNoteLength)
	bad.Check(strings.ContainsFunc(in.Note, unicode.IsControl), "note", "must not contain control characters")
	if err := bad.Err(); err != nil {
		return nil, err
	}
	loan, err := s.Loans.Loan(ctx, actor, loanID)
	if err != nil {
		return nil, err
	}
	if loan.Status != inventory.LoanOpen {
		return nil, apperr.New(apperr.Conflict, "loan %d is %s; reminders are for open loans", loan.ID, loan.Status)
	}
	var id int64
	now := s.Now().UTC()
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.takeRemindSlot(ctx, tx, loan.ID); err != nil {
			return err
		}
		c, err := s.Clients.Record(ctx, tx, loan.ClientID)
		if err != nil {
			return err
		}
		var workerEmail string
		if err := tx.NewSelect().Table("users").Column("email").Where("id = ?", c.CaseworkerID).Scan(ctx, &workerEmail); err != nil {
			return storage.Err(err, "social worker")
		}
		n := &Notification{Kind: Manual, Recipient: ClientRecipient, ClientID: &loan.ClientID, LoanID: &loan.ID,
			Language: LanguageFor(c.PreferredLanguage), Note: in.Note, CreatedBy: actor.IDPtr(), ScheduledAt: now, AboutDate: loan.DueOn}
		// The client's address is not kept on the reminder: the outbox
		// reads it from their sealed record just before sending.
		if n.Channel, _ = s.channelFor(contactOf(c)); n.Channel == "" {
			n.Recipient, n.UserID, n.Channel, n.Address, n.Language = SocialWorkerRecipient, &c.CaseworkerID, "email", workerEmail, "en"
		}
		n.DedupKey = fmt.Sprintf("manual:loan:%d:%s:%s", loan.ID, randomHex(), n.Recipient)
		if _, err := s.Outbox.Enqueue(ctx, tx, n); err != nil {
			return err
		}
		id = n.ID
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "loan.reminder_sent",
			SubjectType: "loan", SubjectID: loan.ID, LoanID: &loan.ID, ClientID: &loan.ClientID, DeviceID: &loan.DeviceID},
			map[string]any{"notification_id": n.ID, "recipient": n.Recipient, "channel": n.Channel})
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.Outbox.DispatchOne(ctx, id); err != nil {
		return nil, err
	}
	var n Notification
	if err := s.DB.NewSelect().Model(&n).Where("n.id = ?", id).Scan(ctx); err != nil {
		return nil, storage.Err(err, "notification")
	}
	// A coordinator reminds the borrower of any open loan, but sees what
	// was sent only to a client they may see.
	shown := []Notification{n}
	s.Outbox.openAll(shown)
	if err := s.hideBodies(ctx, actor, shown); err != nil {
		return nil, err
	}
	return &shown[0], nil
}

// takeRemindSlot records, in tx, that a manual reminder about loanID goes
// now, unless one went less than RemindNowInterval ago: then it returns a
// rate_limited error carrying the wait. The window is the database's clock
// and the check one conditional upsert, so simultaneous requests, to one
// instance or several, get one slot between them (the second waits on the
// first's row, then finds it taken). A failed send keeps the slot only if
// its transaction commits.
func (s *Service) takeRemindSlot(ctx context.Context, tx bun.Tx, loanID int64) error {
	window := s.RemindNowInterval
	if window <= 0 {
		return nil
	}
	now, err := s.Outbox.dbNow(ctx, tx)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO remind_now_slots (loan_id, sent_at) VALUES (?, ?)
		ON CONFLICT (loan_id) DO UPDATE SET sent_at = EXCLUDED.sent_at WHERE remind_now_slots.sent_at <= ?`,
		loanID, now, now.Add(-window))
	if err != nil {
		return storage.Err(err, "reminder")
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var last time.Time
	if err := tx.NewSelect().Table("remind_now_slots").Column("sent_at").Where("loan_id = ?", loanID).Scan(ctx, &last); err != nil {
		return storage.Err(err, "reminder")
	}
	// In whole seconds, rounded up, as Retry-After gives it.
	wait := max(time.Second, (last.Add(window).Sub(now) + time.Second - 1).Truncate(time.Second))
	return &apperr.Error{Code: apperr.RateLimited, RetryAfter: wait,
		Message: fmt.Sprintf("a reminder about loan %d was sent less than %s ago; the next may be sent in %s", loanID,
			window, wait)}
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Filter narrows the outbox list.
type Filter struct {
	Status   Status
	Kind     Kind
	LoanID   int64
	ClientID int64
	// ID picks one notification (for Notification).
	ID int64
}

// Statuses are the values of the status filter.
var Statuses = []Status{Pending, Sending, Sent, Failed, Cancelled}

// Kinds are every kind of notification.
var Kinds = append(append([]Kind{}, ClientKinds...), CoordinatorDigest, FunderReport)

// Validate checks the filter's values.
func (f Filter) Validate() error {
	var bad apperr.Fields
	bad.Check(f.Status != "" && !slices.Contains(Statuses, f.Status), "status", "must be one of pending, sending, sent, failed, cancelled")
	bad.Check(f.Kind != "" && !slices.Contains(Kinds, f.Kind), "kind", "must be one of "+joinKinds(Kinds))
	bad.Check(f.LoanID < 0, "loan_id", "must be a positive number")
	bad.Check(f.ClientID < 0, "client_id", "must be a positive number")
	return bad.Err()
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// List returns the outbox rows the actor may see, newest first: all of
// them for admins and coordinators; for a social worker those about their
// own clients or addressed to them. A row's body is shown only to those
// who may see its client.
func (s *Service) List(ctx context.Context, actor *accounts.Actor, f Filter, page storage.Page) ([]Notification, int, error) {
	if !actor.Can(accounts.ReadNotifications) {
		return nil, 0, apperr.New(apperr.Forbidden, "you may not read notifications")
	}
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	out := []Notification{}
	q := s.filter(page.Apply(s.DB.NewSelect().Model(&out).OrderExpr("n.id DESC")), actor, f)
	total, err := q.ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "notifications")
	}
	s.Outbox.openAll(out)
	if err := s.hideBodies(ctx, actor, out); err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}

// Count counts the outbox rows List would list, without reading them.
func (s *Service) Count(ctx context.Context, actor *accounts.Actor, f Filter) (int, error) {
	if !actor.Can(accounts.ReadNotifications) {
		return 0, apperr.New(apperr.Forbidden, "you may not read notifications")
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	n, err := s.filter(s.DB.NewSelect().Model((*Notification)(nil)), actor, f).Count(ctx)
	return int(n), storage.Err(err, "notifications")
}

// filter narrows q (over the outbox AS n) to the rows the actor may see
// that match f.
func (s *Service) filter(q *bun.SelectQuery, actor *accounts.Actor, f Filter) *bun.SelectQuery {
	if !actor.Can(accounts.SendReminders) {
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("n.client_id IN (SELECT id FROM clients WHERE caseworker_id = ? AND anonymised_at IS NULL)", actor.ID).WhereOr("n.user_id = ?", actor.ID)
		})
	}
	if f.Status != "" {
		q.Where("n.status = ?", f.Status)
	}
	if f.Kind != "" {
		q.Where("n.kind = ?", f.Kind)
	}
	if f.LoanID != 0 {
		q.Where("n.loan_id = ?", f.LoanID)
	}
	if f.ClientID != 0 {
		// Asking about a client one may not see finds nothing, as for a
		// client that does not exist.
		q.Where("n.client_id = ?", f.ClientID).Where("n.client_id IN (?)", s.Clients.VisibleIDs(s.DB, actor))
	}
	if f.ID != 0 {
		q.Where("n.id = ?", f.ID)
	}
	return q
}

// hideBodies blanks the body of each notification about a client the
// actor may not see: it carries the client's name.
func (s *Service) hideBodies(ctx context.Context, actor *accounts.Actor, ns []Notification) error {
	var ids []int64
	for _, n := range ns {
		if n.ClientID != nil {
			ids = append(ids, *n.ClientID)
		}
	}
	visible, err := s.Clients.VisibleAmong(ctx, actor, ids)
	if err != nil {
		return err
	}
	for i := range ns {
		if c := ns[i].ClientID; c != nil && !visible[*c] {
			ns[i].Body = ""
		}
	}
	return nil
}

// Notification returns one outbox row, shown as List shows it: a row the
// actor may not see is not found.
func (s *Service) Notification(ctx context.Context, actor *accounts.Actor, id int64) (*Notification, error) {
	out, _, err := s.List(ctx, actor, Filter{ID: id}, storage.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "notification not found")
	}
	return &out[0], nil
}

// InboundSMS is a text someone sent to the agency's number, as the SMS
// provider's webhook reports it.
type InboundSMS struct {
	// MessageSID is the provider's id of the message (Twilio's
	// MessageSid), unique to it.
	MessageSID string
	// From is the sender's number, in E.164 as the provider sends it.
	From string
	Body string
}

// ReplyOutcome is what RecordReply did.
type ReplyOutcome struct {
	Reply   Reply
	Changed int // clients opted out or back in
	// Repeated: the message was recorded before (the provider retrying, or
	// someone replaying a signed request), so nothing was done again.
	Repeated bool
}

// MaxMessageSIDLength bounds a message id: Twilio's are 34 characters.
const MaxMessageSIDLength = 64

// RecordReply acts on an SMS reply: STOP opts every client whose number
// is exactly the sender's (in E.164) out of SMS and cancels their pending
// SMS; START opts them back in. Each message is acted on once: its id is
// recorded in the same transaction, and a message seen before changes
// nothing and is not recorded twice. A sender that is not an E.164 number
// matches no one.
func (s *Service) RecordReply(ctx context.Context, in InboundSMS) (ReplyOutcome, error) {
	var bad apperr.Fields
	bad.Check(in.MessageSID == "", "MessageSid", "is required: the provider's id of the message")
	bad.MaxLength("MessageSid", in.MessageSID, MaxMessageSIDLength)
	bad.Check(strings.ContainsFunc(in.MessageSID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }),
		"MessageSid", "must not contain spaces or control characters")
	if err := bad.Err(); err != nil {
		return ReplyOutcome{}, err
	}
	out := ReplyOutcome{Reply: ParseReply(in.Body)}
	now := s.Now().UTC()
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO sms_inbound (message_sid, received_at) VALUES (?, ?) ON CONFLICT (message_sid) DO NOTHING",
			in.MessageSID, now)
		if err != nil {
			return storage.Err(err, "message")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			out.Repeated = true
			return nil
		}
		if out.Reply == ReplyOther || !phone.IsE164(in.From) {
			return nil
		}
		out.Changed, err = s.setSMSOptOut(ctx, tx, out.Reply == ReplyStop, "sms_reply", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("c.phone_index = ?", s.Clients.PhoneIndex(in.From))
		})
		return err
	})
	if err != nil {
		return ReplyOutcome{Reply: out.Reply}, err
	}
	return out, nil
}

// providerOptOut records that the SMS provider refused n because its
// recipient opted out with the provider.
func (s *Service) providerOptOut(ctx context.Context, n *Notification) error {
	if n.ClientID == nil || n.Recipient != ClientRecipient {
		return nil
	}
	return storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		_, err := s.setSMSOptOut(ctx, tx, true, "sms_provider", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("c.id = ?", *n.ClientID)
		})
		return err
	})
}

// setSMSOptOut opts the clients where selects (over clients c) out of SMS
// or back in, within tx, records each change, and cancels their pending
// SMS when opting out. It returns how many clients changed.
func (s *Service) setSMSOptOut(ctx context.Context, tx bun.Tx, out bool, source string, where func(*bun.SelectQuery) *bun.SelectQuery) (int, error) {
	now := s.Now().UTC()
	var ids []int64
	q := tx.NewSelect().TableExpr("clients AS c").Column("c.id").Where("c.sms_opted_out = ?", !out)
	if err := storage.Locked(where(q)).Scan(ctx, &ids); err != nil {
		return 0, storage.Err(err, "clients")
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := tx.NewUpdate().Table("clients").Set("sms_opted_out = ?", out).Set("updated_at = ?", now).
		Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return 0, storage.Err(err, "clients")
	}
	if out {
		// Not prepared: the list of ids varies.
		if err := s.cancelPending(ctx, tx, nil, "the client opted out of SMS", func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
			return q.Where("client_id IN (?) AND channel = 'sms' AND recipient = ?", bun.In(ids), p(0))
		}, ClientRecipient); err != nil {
			return 0, err
		}
	}
	for _, id := range ids {
		if err := audit.Record(ctx, tx, audit.Event{OccurredAt: now, Action: "client.updated", SubjectType: "client",
			SubjectID: id, ClientID: &id}, map[string]any{"fields": []string{"sms_opted_out"}, "source": source}); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// OfClient returns every notification about a client (to them, or to staff
// about them), oldest first, with its text unless erased, for a caller that
// has already checked the actor may see everything about the client (a
// client's export). Addresses stay out, as in every list.
func (s *Service) OfClient(ctx context.Context, db bun.IDB, clientID int64) ([]Notification, error) {
	out := []Notification{}
	if err := db.NewSelect().Model(&out).Where("n.client_id = ?", clientID).OrderExpr("n.id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "notifications")
	}
	s.Outbox.openAll(out)
	return out, nil
}
