package notifications

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/storage"
)

// The sweep turns loans, sessions and data plans into outbox rows. Each
// policy step is one INSERT … SELECT … ON CONFLICT (dedup_key) DO NOTHING
// over a window of a few days of due dates, so the work is done by the
// database with its indexes (loans (status, due_on), training_sessions
// (starts_at), data_plans (ends_on)) whatever the number of open loans,
// and a second sweep, or a second instance, creates nothing twice.
//
// Rows are created without a body: the dispatcher writes it just before
// sending, from the facts of that moment, and cancels a reminder whose
// facts have moved (a renewed loan, a rescheduled session).

// SweepResult counts what one sweep created.
type SweepResult struct {
	Created int
	// Skipped: another instance was sweeping, so this one did nothing.
	Skipped bool
}

// SweepLock names the database lock a sweep holds (storage.TryLockName).
const SweepLock = "notifications.sweep"

// target is one policy step: which rows it selects and what the reminders
// it makes are about. Every field but kind and the expressions is a query
// argument.
type target struct {
	kind Kind
	// key is the SQL expression of the dedup key, without the recipient.
	key string
	// from is the FROM clause, which must alias clients as c; where
	// selects its rows, with args.
	from, where string
	args        []any
	// Columns the reminder refers to, as SQL expressions ("NULL" if none).
	loanID, sessionID, dataPlanID, aboutDate, aboutTime, expiresAt string
	scheduled                                                      time.Time
}

// reachableSQL selects the clients (c) who may be reached on their
// preferred channel: it has an address, they have not opted out, and the
// service delivers on it.
func (s *Service) reachableSQL() string {
	var ways []string
	if s.delivers("sms") {
		ways = append(ways, "(c.preferred_channel = 'sms' AND c.phone_index IS NOT NULL AND NOT c.sms_opted_out)")
	}
	if s.delivers("email") {
		ways = append(ways, "(c.preferred_channel = 'email' AND c.email_index IS NOT NULL AND NOT c.email_opted_out)")
	}
	if len(ways) == 0 {
		return "(1 = 0)"
	}
	return "(" + strings.Join(ways, " OR ") + ")"
}

// languageSQL picks the shipped language for a client's preferred one, as
// LanguageFor does: by its base language, English when none ships.
func languageSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, l := range Languages {
		if l == "en" {
			continue
		}
		fmt.Fprintf(&b, " WHEN lower(%[1]s) = '%[2]s' OR lower(%[1]s) LIKE '%[2]s-%%' THEN '%[2]s'", col, l)
	}
	b.WriteString(" ELSE 'en' END")
	return b.String()
}

// sweeper builds and runs a sweep's statements.
type sweeper struct {
	db        bun.IDB
	pg        bool
	now       time.Time
	reachable string // reachableSQL
	created   int
}

// typed casts a value for a column of type: PostgreSQL needs it inside a
// UNION, where a bare literal or NULL would be taken as text; SQLite must
// not get it, since its CAST to TIMESTAMP would turn text into a number.
func (w *sweeper) typed(expr, pgType string) string {
	if !w.pg {
		return expr
	}
	return "CAST(" + expr + " AS " + pgType + ")"
}

// reach creates one step's reminders in one statement: the step's rows
// (its window of loans, sessions or plans, with their clients) are read
// once into w, and every audience's reminders are inserted from there.
// Clients who cannot be reached have their social worker told instead.
func (w *sweeper) reach(ctx context.Context, t target, audience []Audience) error {
	window := fmt.Sprintf(`WITH w AS MATERIALIZED (SELECT %s AS k, c.id AS client_id, %s AS loan_id, %s AS session_id,
		%s AS data_plan_id, %s AS about_date, %s AS about_time, %s AS expires_at,
		CASE WHEN c.preferred_channel = 'sms' THEN 'sms' ELSE 'email' END AS channel,
		%s AS language, %s AS reachable, c.caseworker_id
		%s WHERE %s) `,
		t.key, w.typed(t.loanID, "BIGINT"), w.typed(t.sessionID, "BIGINT"), w.typed(t.dataPlanID, "BIGINT"),
		w.typed(t.aboutDate, "DATE"), w.typed(t.aboutTime, "TIMESTAMPTZ"), w.typed(t.expiresAt, "TIMESTAMPTZ"),
		languageSQL("c.preferred_language"), w.reachable, t.from, t.where)
	args := append([]any{}, t.args...)
	// arm selects one audience's reminders from w; staff arms join users u.
	var arms []string
	arm := func(recipient, key, userID, channel, address, language, join, where string) {
		arms = append(arms, fmt.Sprintf(`SELECT %s, w.k || %s, '%s', w.client_id, w.loan_id, %s, w.session_id, w.data_plan_id,
			%s, %s, %s, '', CAST(NULL AS BIGINT), 'pending', %s, %s, 0, '', w.about_date, w.about_time, w.expires_at, %s, %s
			FROM w %s WHERE %s`,
			w.typed("?", "TEXT"), key, recipient, userID, channel, address, language,
			w.typed("?", "TIMESTAMPTZ"), w.typed("?", "TIMESTAMPTZ"), w.typed("?", "TIMESTAMPTZ"), w.typed("?", "TIMESTAMPTZ"),
			join, where))
		args = append(args, t.kind, t.scheduled.UTC(), t.scheduled.UTC(), w.now, w.now)
	}
	if slices.Contains(audience, ToClient) {
		// No address: the client's is sealed; the outbox reads it just
		// before sending.
		arm("client", "':client'", w.typed("NULL", "BIGINT"), "w.channel", "''", "w.language", "", "w.reachable")
	}
	// The worker's id is in the key: a client reassigned to another worker
	// gets that worker a copy of their own.
	switch {
	case slices.Contains(audience, ToSocialWorker):
		arm("social_worker", "':social_worker:' || CAST(u.id AS TEXT)", "u.id", "'email'", "u.email", "'en'",
			"JOIN users u ON u.id = w.caseworker_id", "u.active")
	case slices.Contains(audience, ToClient):
		arm("social_worker", "':social_worker:' || CAST(u.id AS TEXT)", "u.id", "'email'", "u.email", "'en'",
			"JOIN users u ON u.id = w.caseworker_id", "u.active AND NOT w.reachable")
	}
	if slices.Contains(audience, ToCoordinators) {
		arm("coordinator", "':coordinator:' || CAST(u.id AS TEXT)", "u.id", "'email'", "u.email", "'en'",
			"CROSS JOIN users u", "u.active AND u.role = 'coordinator'")
	}
	if len(arms) == 0 {
		return nil
	}
	q := window + insertColumns + strings.Join(arms, " UNION ALL ") + " ON CONFLICT (dedup_key) DO NOTHING"
	res, err := w.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sweep %s: %w", t.kind, err)
	}
	n, _ := res.RowsAffected()
	w.created += int(n)
	return nil
}

const insertColumns = `INSERT INTO notifications (kind, dedup_key, recipient, client_id, loan_id, user_id, session_id,
	data_plan_id, channel, address, language, body, sealed_key, status, scheduled_at, next_attempt_at, attempts, last_error,
	about_date, about_time, expires_at, created_at, updated_at) `

// newSweeper prepares statements on db at the service's clock.
func (s *Service) newSweeper(db bun.IDB) *sweeper {
	return &sweeper{db: db, pg: db.Dialect().Name() == dialect.PG, now: s.Now().UTC(), reachable: s.reachableSQL()}
}

// Sweep creates the reminders that are due by the policy at the service's
// clock, in one transaction that holds the sweep's database lock: one
// instance sweeps at a time, and another that comes while it does skips
// its turn (PostgreSQL); on SQLite the transaction's write lock makes it
// wait, then find nothing left to create. The dedup keys would keep two
// sweeps from creating a reminder twice anyway; the lock keeps them from
// doing the same work twice. A sweep stopped midway creates nothing, and
// the next does it all.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	p, err := s.Policy(ctx)
	if err != nil {
		return SweepResult{}, err
	}
	var res SweepResult
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		ok, err := storage.TryLockName(ctx, tx, SweepLock)
		if err != nil || !ok {
			res.Skipped = !ok
			return err
		}
		w := s.newSweeper(tx)
		for _, t := range s.targets(p, w.now) {
			if err := w.reach(ctx, t.target, t.audience); err != nil {
				return err
			}
		}
		res.Created = w.created
		return nil
	})
	if err != nil {
		return SweepResult{}, err
	}
	return res, nil
}

type audienceTarget struct {
	target
	audience []Audience
}

// targets lists the steps of p that apply at now.
func (s *Service) targets(p Policy, now time.Time) []audienceTarget {
	loc := calendar.Zone(s.Location)
	today := calendar.Today(now, loc)
	startOfToday := at(now, "00:00", loc).UTC()
	sendAt := at(now, p.SendAt, loc).UTC()
	pg := s.DB.Dialect().Name() == dialect.PG
	dateKey := func(col string) string {
		if pg {
			return "to_char(" + col + ", 'YYYY-MM-DD')"
		}
		return col
	}
	epochKey := func(col string) string {
		if pg {
			return "CAST(CAST(EXTRACT(EPOCH FROM " + col + ") AS BIGINT) AS TEXT)"
		}
		return "CAST(CAST(strftime('%s', " + col + ") AS INTEGER) AS TEXT)"
	}
	client := []Audience{ToClient}
	var out []audienceTarget
	loan := func(kind Kind, step string, lo, hi calendar.Date, expires string, extra string, extraArgs ...any) target {
		return target{kind: kind,
			key:    "'loan:' || CAST(l.id AS TEXT) || ':" + string(kind) + ":" + step + ":' || " + dateKey("l.due_on"),
			from:   "FROM loans l JOIN clients c ON c.id = l.client_id",
			where:  "l.status = 'open' AND l.due_on BETWEEN ? AND ?" + extra,
			args:   append([]any{lo, hi}, extraArgs...),
			loanID: "l.id", sessionID: "NULL", dataPlanID: "NULL", aboutDate: "l.due_on", aboutTime: "NULL",
			expiresAt: expires, scheduled: sendAt}
	}
	// Due soon: step N covers the days left from N back to the next step or
	// the catch-up. A loan issued today is not reminded at once.
	for i, n := range p.DueSoonDays {
		lo, hi := daysAhead(p.DueSoonDays, i, 0, p.CatchUpDays)
		out = append(out, audienceTarget{loan(LoanDueSoon, fmt.Sprint(n), today.AddDays(lo), today.AddDays(hi), "NULL",
			" AND l.issued_at < ?", startOfToday), client})
	}
	if p.DueToday {
		// "Due today" is pointless tomorrow.
		t := loan(LoanDueToday, "0", today, today, "NULL", "")
		t.expiresAt = quoteTime(at(now.In(loc).AddDate(0, 0, 1), "00:00", loc))
		out = append(out, audienceTarget{t, client})
	}
	// Overdue: step N covers the days overdue in [N, min(next step, N+catch-up)).
	for i, st := range p.Overdue {
		end := st.Days + p.CatchUpDays
		if i+1 < len(p.Overdue) {
			end = min(end, p.Overdue[i+1].Days)
		}
		out = append(out, audienceTarget{loan(LoanOverdue, fmt.Sprint(st.Days), today.AddDays(-end+1), today.AddDays(-st.Days), "NULL", ""), st.Notify})
	}
	// Data plans: like due soon, down to the day a plan ends.
	for i, n := range p.DataPlanEndingDays {
		lo, hi := daysAhead(p.DataPlanEndingDays, i, -1, p.CatchUpDays)
		out = append(out, audienceTarget{target{kind: DataPlanEnding,
			key:    "'loan:' || CAST(l.id AS TEXT) || ':data_plan_ending:" + fmt.Sprint(n) + ":' || CAST(p.id AS TEXT) || ':' || " + dateKey("p.ends_on"),
			from:   "FROM data_plans p JOIN loans l ON l.data_plan_id = p.id AND l.status = 'open' JOIN clients c ON c.id = l.client_id",
			where:  "p.ends_on BETWEEN ? AND ?",
			args:   []any{today.AddDays(lo), today.AddDays(hi)},
			loanID: "l.id", sessionID: "NULL", dataPlanID: "p.id", aboutDate: "p.ends_on", aboutTime: "NULL", expiresAt: "NULL",
			scheduled: sendAt}, client})
	}
	session := func(step string, from, to time.Time, scheduled time.Time) target {
		return target{kind: TrainingUpcoming,
			key:    "'enrollment:' || CAST(e.id AS TEXT) || ':training_upcoming:" + step + ":' || " + epochKey("ts.starts_at"),
			from:   "FROM training_enrollments e JOIN training_sessions ts ON ts.id = e.session_id JOIN clients c ON c.id = e.client_id",
			where:  "e.status = 'enrolled' AND ts.status = 'scheduled' AND ts.starts_at >= ? AND ts.starts_at < ?",
			args:   []any{from.UTC(), to.UTC()},
			loanID: "NULL", sessionID: "ts.id", dataPlanID: "NULL", aboutDate: "NULL", aboutTime: "ts.starts_at",
			expiresAt: "ts.starts_at", scheduled: scheduled}
	}
	if p.TrainingDayBefore {
		tomorrow := at(now.In(loc).AddDate(0, 0, 1), "00:00", loc)
		out = append(out, audienceTarget{session("day_before", tomorrow, at(tomorrow.AddDate(0, 0, 1), "00:00", loc), sendAt), client})
	}
	if p.TrainingHoursBefore > 0 {
		// Sessions starting in the next h hours, h itself included.
		h := time.Duration(p.TrainingHoursBefore) * time.Hour
		out = append(out, audienceTarget{session(fmt.Sprintf("hours_before_%d", p.TrainingHoursBefore), now, now.Add(h+time.Microsecond), now), client})
	}
	return out
}

// daysAhead is the window, in days ahead [lo, hi], of step i of steps
// (largest first): the step's own day, back to the day after the next
// step (after floor for the last one) or as many days as catch-up allows.
func daysAhead(steps []int, i, floor, catchUpDays int) (lo, hi int) {
	next := floor
	if i+1 < len(steps) {
		next = steps[i+1]
	}
	return max(next+1, steps[i]-catchUpDays+1), steps[i]
}

// quoteTime writes t as a literal in the form both databases store.
func quoteTime(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02 15:04:05.999999-07:00") + "'"
}

// Digest enqueues the daily summary for each active coordinator, when there
// is something to report: devices waiting for inspection, loans overdue,
// open loans whose agreement is not signed.
// Its dedup key holds the agency date, so it goes once a day however many
// instances run it.
func (s *Service) Digest(ctx context.Context) (SweepResult, error) {
	p, err := s.Policy(ctx)
	if err != nil || !p.CoordinatorDigest {
		return SweepResult{}, err
	}
	counts, err := s.digestCounts(ctx)
	if err != nil {
		return SweepResult{}, err
	}
	if counts == (DigestCounts{}) {
		return SweepResult{}, nil
	}
	now := s.Now().UTC()
	day := calendar.Today(now, s.Location)
	res, err := s.DB.ExecContext(ctx, insertColumns+`SELECT ?, 'coordinator_digest:' || ? || ':user:' || CAST(u.id AS TEXT),
		'coordinator', NULL, NULL, u.id, NULL, NULL, 'email', u.email, 'en', '', NULL, 'pending', ?, ?, 0, '', ?, NULL, NULL, ?, ?
		FROM users u WHERE u.active AND u.role = 'coordinator'
		ON CONFLICT (dedup_key) DO NOTHING`, CoordinatorDigest, day.String(), now, now, day, now, now)
	if err != nil {
		return SweepResult{}, storage.Err(err, "digest")
	}
	n, _ := res.RowsAffected()
	return SweepResult{Created: int(n)}, nil
}

// DigestCounts is what the coordinators' digest reports.
type DigestCounts struct{ Inspection, Overdue, Unsigned int }

func (s *Service) digestCounts(ctx context.Context) (DigestCounts, error) {
	inspection, err := s.DB.NewSelect().Table("devices").Where("status = 'inspection'").Count(ctx)
	if err != nil {
		return DigestCounts{}, storage.Err(err, "devices")
	}
	today := calendar.Today(s.Now(), s.Location)
	overdue, err := s.DB.NewSelect().Table("loans").Where("status = 'open' AND due_on < ?", today).Count(ctx)
	if err != nil {
		return DigestCounts{}, storage.Err(err, "loans")
	}
	unsigned, err := s.DB.NewSelect().Table("loans").Where("status = 'open'").
		Where("NOT EXISTS (SELECT 1 FROM loan_agreements la WHERE la.loan_id = loans.id)").Count(ctx)
	if err != nil {
		return DigestCounts{}, storage.Err(err, "loans")
	}
	return DigestCounts{Inspection: int(inspection), Overdue: int(overdue), Unsigned: int(unsigned)}, nil
}
