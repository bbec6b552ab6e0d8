package notifications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// Status is where a notification is in the outbox.
type Status string

const (
	Pending   Status = "pending"
	Sending   Status = "sending" // claimed by a dispatcher until claimed_until
	Sent      Status = "sent"
	Failed    Status = "failed" // gave up after MaxAttempts
	Cancelled Status = "cancelled"
)

// Recipient is who a notification goes to.
type Recipient string

const (
	ClientRecipient       Recipient = "client"
	SocialWorkerRecipient Recipient = "social_worker"
	CoordinatorRecipient  Recipient = "coordinator"
	FunderRecipient       Recipient = "funder"
)

// Notification is one message in the outbox.
type Notification struct {
	bun.BaseModel `bun:"table:notifications,alias:n"`

	ID        int64     `bun:"id,pk,autoincrement" json:"id"`
	Kind      Kind      `bun:"kind" json:"kind"`
	DedupKey  string    `bun:"dedup_key" json:"-"`
	Recipient Recipient `bun:"recipient" json:"recipient"`
	ClientID  *int64    `bun:"client_id" json:"client_id"`
	LoanID    *int64    `bun:"loan_id" json:"loan_id"`
	// UserID is the staff member a social_worker or coordinator
	// notification goes to.
	UserID     *int64 `bun:"user_id" json:"user_id"`
	SessionID  *int64 `bun:"session_id" json:"session_id"`
	DataPlanID *int64 `bun:"data_plan_id" json:"data_plan_id"`
	Channel    string `bun:"channel" json:"channel"`
	Address    string `bun:"address" json:"-"` // a phone number or email: never shown in lists
	Language   string `bun:"language" json:"language"`
	// Body is written just before sending; lists show it only to those
	// who may see the client.
	Body   string `bun:"body" json:"body,omitempty"`
	Status Status `bun:"status" json:"status"`
	// AboutDate and AboutTime are what the reminder refers to (a due date,
	// a plan's end, a session's start); when they have moved the reminder
	// is cancelled rather than sent.
	AboutDate     calendar.Date `bun:"about_date,type:date,nullzero" json:"-"`
	AboutTime     *time.Time    `bun:"about_time" json:"-"`
	ExpiresAt     *time.Time    `bun:"expires_at" json:"-"`
	Note          string        `bun:"note" json:"-"`
	CreatedBy     *int64        `bun:"created_by" json:"created_by"`
	ScheduledAt   time.Time     `bun:"scheduled_at" json:"scheduled_at"`
	NextAttemptAt time.Time     `bun:"next_attempt_at" json:"-"`
	ClaimedUntil  *time.Time    `bun:"claimed_until" json:"-"`
	Attempts      int           `bun:"attempts" json:"attempts"`
	LastError     string        `bun:"last_error" json:"last_error"`
	SentAt        *time.Time    `bun:"sent_at" json:"sent_at"`
	// SealedKey is the data key the body and note are sealed under (nil:
	// both empty).
	SealedKey *int64 `bun:"sealed_key" json:"-"`
	// ErasedAt is when retention erased the body, address, note and last
	// error (package retention).
	ErasedAt  *time.Time `bun:"erased_at" json:"erased_at,omitempty"`
	CreatedAt time.Time  `bun:"created_at" json:"created_at"`
	UpdatedAt time.Time  `bun:"updated_at" json:"updated_at"`

	// Subject is an email's subject line, set with the body.
	Subject string `bun:"-" json:"-"`
	// Attachments go with an email. Like the subject they are made just
	// before sending and never stored: the outbox holds no report.
	Attachments []Attachment `bun:"-" json:"-"`
}

// Attachment is a file sent with an email.
type Attachment struct {
	Name        string // the file name the recipient sees
	ContentType string // such as "application/pdf"
	Data        []byte
}

// Verdict is what Prepare decides about a notification about to be sent:
// send it (both zero), cancel it (it no longer applies), or defer it.
type Verdict struct {
	Cancel string    // why it is no longer sent
	Defer  time.Time // not before then (quiet hours)
}

// Channel delivers messages: SMS, email, or the log. Send uses n.Address,
// n.Body, n.Kind and n.Language; an error wrapped with Permanent is not
// retried.
type Channel interface {
	Send(ctx context.Context, n *Notification) error
}

// permanentError is a delivery failure that retrying cannot fix (an
// address the provider rejects).
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as a failure that retrying cannot fix: the outbox
// marks the notification failed at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// LogChannel stands in for SMS and email when no provider is configured
// (development): it logs that a notification went, by its id, kind and
// channel, and the names and sizes of its attachments. Never its text,
// address or attachments' content: a reminder names the client and may
// carry a coordinator's note, a funder's report is theirs, and logs leave
// the agency's hands. The text is in the outbox (GET /api/v1/notifications),
// for those who may read it.
type LogChannel struct{ Log *slog.Logger }

// Send logs the notification's id, kind and channel.
func (l LogChannel) Send(ctx context.Context, n *Notification) error {
	what := "reminder"
	if n.Kind == FunderReport {
		what = "funder report"
	}
	attrs := []any{"notification_id", n.ID, "kind", string(n.Kind), "channel", n.Channel}
	for _, a := range n.Attachments {
		attrs = append(attrs, "attachment", a.Name, "attachment_bytes", len(a.Data))
	}
	l.Log.InfoContext(ctx, what, attrs...)
	return nil
}

// Outbox stores notifications and dispatches them.
type Outbox struct {
	DB  bun.IDB
	Now func() time.Time
	// Keys seal each notification's body and note (sealed.go).
	Keys *keyring.Ring
	// Channels by name ("sms", "email", "log").
	Channels map[string]Channel
	// Lease is how long a dispatcher may hold a claimed notification; a
	// dispatcher that dies mid-run leaves claims that expire after it.
	Lease time.Duration
	// MaxAttempts before a notification is marked failed.
	MaxAttempts int
	// Prepare, when set, runs just before each send: it writes n's body
	// and subject from the facts of the moment, or decides that n is
	// cancelled or deferred.
	Prepare func(ctx context.Context, n *Notification) (Verdict, error)
	// OptedOut, when set, is told of a delivery the provider refused
	// because the recipient opted out.
	OptedOut func(ctx context.Context, n *Notification) error
	// DatabaseNow reads the database's clock, which times every lease so
	// that instances whose clocks disagree never take a live claim from
	// each other; nil means storage.DatabaseNow. (Now still decides what
	// is due: scheduling is the agency's business, leases are the
	// instances'.)
	DatabaseNow func(ctx context.Context, db bun.IDB) (time.Time, error)
	// delivered, when set, is told each recorded outcome by channel (the
	// service's Observer).
	delivered func(channel, outcome string)
}

// SendTimeout bounds one message's send, which a cancelled dispatch lets
// finish: a shutdown waits at most this long past its deadline for it. It
// covers the slowest channel's own limits: SMTP's default 15 s to connect,
// then 15 s more to send (a report's PDF).
const SendTimeout = 30 * time.Second

// outcomeTimeout bounds the write of a send's outcome, which is made even
// when the dispatch was cancelled (SIGTERM, the job's deadline) after the
// message left: an outcome lost is a message sent twice.
const outcomeTimeout = 10 * time.Second

func (o *Outbox) dbNow(ctx context.Context, db bun.IDB) (time.Time, error) {
	now := storage.DatabaseNow
	if o.DatabaseNow != nil {
		now = o.DatabaseNow
	}
	t, err := now(ctx, db)
	// Both databases keep microseconds; a claim is matched by its exact
	// claimed_until.
	return t.UTC().Truncate(time.Microsecond), err
}

// Backoff is the wait before each retry: 1, 5, 30 minutes, then 2 hours.
func Backoff(attempts int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}
	if attempts < 1 {
		attempts = 1
	}
	if attempts > len(steps) {
		return steps[len(steps)-1]
	}
	return steps[attempts-1]
}

func (o *Outbox) lease() time.Duration {
	if o.Lease <= 0 {
		return 2 * time.Minute
	}
	return o.Lease
}

func (o *Outbox) maxAttempts() int {
	if o.MaxAttempts <= 0 {
		return 5
	}
	return o.MaxAttempts
}

// Enqueue adds n to the outbox inside db (a transaction, usually the one
// that made the reminder due). A notification with the same dedup key is
// left as it is; Enqueue reports whether n was new.
func (o *Outbox) Enqueue(ctx context.Context, db bun.IDB, n *Notification) (bool, error) {
	now := o.Now().UTC()
	n.Status, n.CreatedAt, n.UpdatedAt = Pending, now, now
	if n.Recipient == "" {
		n.Recipient = ClientRecipient
	}
	n.ScheduledAt = n.ScheduledAt.UTC()
	n.NextAttemptAt = n.ScheduledAt
	// The row goes in with its note blank: the id bound into the note's
	// seal is known only after the insert, which then gives it the note.
	row := *n
	row.Body, row.Note, row.SealedKey = "", "", nil
	// The key is written NULL (nothing sealed yet), not left to the
	// column's default (0: stored before texts were sealed).
	res, err := db.NewInsert().Model(&row).Value("sealed_key", "NULL").On("CONFLICT (dedup_key) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, storage.Err(err, "notification")
	}
	if rows, _ := res.RowsAffected(); rows != 1 {
		return false, nil
	}
	n.ID = row.ID
	if n.Body != "" || n.Note != "" {
		if _, err := o.setTexts(db.NewUpdate().Model((*Notification)(nil)).Where("id = ?", n.ID), n).Exec(ctx); err != nil {
			return false, storage.Err(err, "notification")
		}
	}
	return true, nil
}

// DispatchResult counts one dispatch pass.
type DispatchResult struct{ Sent, Retrying, Failed, Cancelled, Deferred int }

// Dispatch sends the notifications that are due, at most batch of them:
// it claims them (several dispatchers never claim the same one), sends
// each through its channel, and records the outcome. A claim whose
// dispatcher died is taken over once its lease expires, by the database's
// clock, so nothing is missed; a message sent just before such a death
// may then go twice, which a channel's own idempotency (where the provider
// has one) absorbs. A cancelled dispatch lets the send in progress finish
// (at most SendTimeout), sends nothing more, records what it sent, and
// hands back the rows it did not reach at once.
func (o *Outbox) Dispatch(ctx context.Context, batch int) (DispatchResult, error) {
	return o.dispatch(ctx, batch, 0)
}

// DispatchOne sends notification id now if it is due (a coordinator's
// "remind now"), as Dispatch would.
func (o *Outbox) DispatchOne(ctx context.Context, id int64) (DispatchResult, error) {
	return o.dispatch(ctx, 1, id)
}

func (o *Outbox) dispatch(ctx context.Context, batch int, only int64) (DispatchResult, error) {
	var res DispatchResult
	claimed, until, err := o.claim(ctx, batch, only)
	if err != nil {
		return res, err
	}
	// One row's trouble (a database error recording it) does not strand
	// the rest of the batch; the first error is reported at the end.
	var first error
	for i := range claimed {
		if ctx.Err() != nil {
			break
		}
		if err := o.deliver(ctx, &claimed[i], until, &res); err != nil && first == nil {
			first = err
		}
	}
	if ctx.Err() != nil {
		// Cancelled: the rows not reached go back to pending for the next
		// run, here or in another instance, rather than wait out the lease.
		// (Rows delivered or renewed no longer carry this claim.)
		o.release(ctx, claimed, until)
		if first == nil {
			first = ctx.Err()
		}
	}
	return res, first
}

// detached is a context for recording what already happened: it outlives
// ctx's cancellation, for at most outcomeTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
}

// release hands claimed rows this dispatcher did not send back to pending,
// if it still holds them (claimed_until is its own).
func (o *Outbox) release(ctx context.Context, rows []Notification, until time.Time) {
	if len(rows) == 0 {
		return
	}
	ids := make([]int64, len(rows))
	for i, n := range rows {
		ids[i] = n.ID
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	// Best effort: a row not released is taken over when its lease ends.
	_, _ = o.DB.NewUpdate().Model((*Notification)(nil)).Set("status = ?", Pending).Set("claimed_until = NULL").
		Where("id IN (?) AND status = ? AND claimed_until = ?", bun.In(ids), Sending, until).Exec(ctx)
}

// deliver prepares and sends one claimed notification and records the
// outcome. Right before sending it renews this dispatcher's claim on the
// row: a batch slower than its lease must not send a row another
// dispatcher has since taken over, and the renewal makes sure that one
// cannot take it over while it is being sent. Cancellation is checked
// after preparing, just before the send; once the message is handed to
// the channel, its outcome is recorded whatever happens to ctx.
func (o *Outbox) deliver(ctx context.Context, n *Notification, until time.Time, res *DispatchResult) error {
	dbNow, err := o.dbNow(ctx, o.DB)
	if err != nil {
		return err
	}
	renewed := dbNow.Add(o.lease())
	r, err := o.DB.NewUpdate().Model((*Notification)(nil)).Set("claimed_until = ?", renewed).
		Where("id = ? AND status = ? AND claimed_until = ?", n.ID, Sending, until).Exec(ctx)
	if err != nil {
		return storage.Err(err, "notification")
	}
	if rows, _ := r.RowsAffected(); rows != 1 {
		return nil // the claim lapsed and another dispatcher has the row
	}
	var verdict Verdict
	// A text that does not open fails the notification (permanently: it
	// would not open on a retry either), its texts left as they are.
	sendErr := o.open(n)
	readable := sendErr == nil
	if !readable {
		sendErr = Permanent(sendErr)
	} else if o.Prepare != nil {
		verdict, sendErr = o.Prepare(ctx, n)
	}
	if ctx.Err() != nil {
		// Nothing was sent: the row goes back, not counted as an attempt.
		o.release(ctx, []Notification{*n}, renewed)
		return nil
	}
	if sendErr == nil && verdict == (Verdict{}) {
		if ch, ok := o.Channels[n.Channel]; !ok {
			sendErr = Permanent(fmt.Errorf("no %s channel is configured", n.Channel))
		} else {
			// Once handed to the channel, a message is not cut off: a send
			// cancelled half-way may still have reached the provider, and
			// its retry would send it twice. It is bounded by SendTimeout
			// instead (the channels' own timeouts are no longer).
			sendCtx, cancelSend := context.WithTimeout(context.WithoutCancel(ctx), SendTimeout)
			sendErr = ch.Send(sendCtx, n)
			cancelSend()
		}
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	now := o.Now().UTC()
	q := o.DB.NewUpdate().Model(n).Set("updated_at = ?", now).Set("claimed_until = NULL").
		WherePK().Where("status = ? AND claimed_until = ?", Sending, renewed)
	var count *int
	var outcome string
	switch {
	case verdict.Cancel != "":
		q.Set("status = ?", Cancelled).Set("last_error = ?", truncate(verdict.Cancel, 500))
		count, outcome = &res.Cancelled, "cancelled"
	case !verdict.Defer.IsZero():
		q.Set("status = ?", Pending).Set("next_attempt_at = ?", verdict.Defer.UTC())
		count, outcome = &res.Deferred, "deferred"
	case sendErr == nil:
		o.setTexts(q.Set("status = ?", Sent).Set("sent_at = ?", now).Set("attempts = attempts + 1").Set("last_error = ''"), n)
		count, outcome = &res.Sent, "sent"
	case n.Attempts+1 >= o.maxAttempts() || IsPermanent(sendErr):
		q.Set("status = ?", Failed).Set("attempts = attempts + 1").Set("last_error = ?", truncate(sendErr.Error(), 500))
		if readable {
			o.setTexts(q, n)
		}
		count, outcome = &res.Failed, "failed"
	default:
		q.Set("status = ?", Pending).Set("attempts = attempts + 1").Set("last_error = ?", truncate(sendErr.Error(), 500)).
			Set("next_attempt_at = ?", now.Add(Backoff(n.Attempts+1)))
		count, outcome = &res.Retrying, "retrying"
	}
	if verdict == (Verdict{}) {
		// Prepare may have followed the client to a new channel or address.
		// A client's address is not kept: it is sealed in their record.
		q.Set("channel = ?", n.Channel)
		if n.Recipient != ClientRecipient {
			q.Set("address = ?", n.Address)
		}
	}
	r, err = q.Exec(ctx)
	if err != nil {
		return storage.Err(err, "notification")
	}
	if rows, _ := r.RowsAffected(); rows == 1 {
		*count++
		if o.delivered != nil {
			channel := n.Channel
			if _, ok := o.Channels[channel]; !ok {
				channel = "none" // whatever the row says, the label stays one of the configured names
			}
			o.delivered(channel, outcome)
		}
	}
	if sendErr != nil && o.OptedOut != nil && IsOptedOut(sendErr) {
		return o.OptedOut(ctx, n)
	}
	return nil
}

// claim marks up to batch due notifications as being sent by this
// dispatcher until the lease ends, and returns them with that end. What is
// due is decided by the service's clock; whether another dispatcher's
// claim has lapsed, and the lease, by the database's. On PostgreSQL rows
// locked by another dispatcher are skipped (FOR UPDATE SKIP LOCKED); on
// SQLite the transaction holds the write lock.
func (o *Outbox) claim(ctx context.Context, batch int, only int64) ([]Notification, time.Time, error) {
	now := o.Now().UTC()
	var claimed []Notification
	var until time.Time
	err := storage.InTx(ctx, o.DB, func(tx bun.Tx) error {
		dbNow, err := o.dbNow(ctx, tx)
		if err != nil {
			return err
		}
		until = dbNow.Add(o.lease())
		due := tx.NewSelect().Model((*Notification)(nil)).Column("id").
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("n.status = ? AND n.next_attempt_at <= ?", Pending, now).
					WhereOr("n.status = ? AND n.claimed_until < ?", Sending, dbNow)
			}).OrderExpr("n.next_attempt_at, n.id").Limit(int64(batch))
		if only != 0 {
			due.Where("n.id = ?", only)
		}
		if tx.Dialect().Name() == dialect.PG {
			due.For("UPDATE SKIP LOCKED")
		}
		var ids []int64
		if err := due.Scan(ctx, &ids); err != nil {
			return storage.Err(err, "notifications")
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.NewUpdate().Model((*Notification)(nil)).Set("status = ?", Sending).Set("claimed_until = ?", until).
			Set("updated_at = ?", now).Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return storage.Err(err, "notifications")
		}
		return storage.Err(tx.NewSelect().Model(&claimed).Where("n.id IN (?)", bun.In(ids)).OrderExpr("n.id").Scan(ctx), "notifications")
	})
	return claimed, until, err
}

// truncate cuts s to at most n bytes without splitting a character
// (PostgreSQL refuses invalid UTF-8).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
