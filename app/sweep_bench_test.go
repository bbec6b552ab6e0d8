package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The agency day the sweep benchmark runs on, and the time of its sweep:
// just after the default policy's 09:00 send time, in Chicago.
var (
	sweepBenchDay = "2026-06-15"
	sweepBenchAt  = time.Date(2026, 6, 15, 9, 30, 0, 0, chicago)
)

// BenchmarkSweepMillionOpenLoans runs the reminders sweep under the default
// policy over 1,000,000 open loans (DEVICEBANK_BENCH_LOANS for another
// number), seeded by notifications/testdata/seed_open_loans.sql, on
// PostgreSQL only:
//
//   - first: the first sweep of a day, on an empty outbox, which creates
//     every reminder due that day, catch-up days included;
//   - repeat: the same sweep again, where every row conflicts;
//   - next_day: the next day's sweep after the previous day's, which
//     creates only what is new that day.
//
// reminders/op is the number of outbox rows a sweep creates. Before
// measuring, the benchmark checks that every statement of the sweep finds
// its loans by index (see checkSweepPlans); DEVICEBANK_BENCH_EXPLAIN=1 with
// -v also logs each statement's time and its EXPLAIN (ANALYZE, BUFFERS).
func BenchmarkSweepMillionOpenLoans(b *testing.B) {
	base := os.Getenv("TEST_DATABASE_URL")
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		b.Skip("the sweep benchmark needs PostgreSQL at TEST_DATABASE_URL")
	}
	n := 1_000_000
	if s := os.Getenv("DEVICEBANK_BENCH_LOANS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 {
			b.Fatalf("DEVICEBANK_BENCH_LOANS=%q: want a number of loans, at least 10", s)
		}
		n = v
	}
	ctx := context.Background()
	// The service uses the driver's default timeouts, as in production
	// (pgdriver gives up on a statement after 10 s); seeding, vacuuming and
	// explaining go through a second pool with a long read timeout.
	dbURL := dbtest.FreshURL(b, storage.Postgres)
	admin := dbtest.OpenURL(b, dbtest.LongReadTimeout(b, dbURL))
	if _, err := migrations.Apply(ctx, admin); err != nil {
		b.Fatalf("migrate: %v", err)
	}

	// What the setup finds is logged by the first sub-benchmark to run:
	// go test prints a benchmark's log only for those that report.
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	flush := func(b *testing.B) {
		b.Helper()
		for _, s := range notes {
			b.Log(s)
		}
		notes = nil
	}

	start := time.Now()
	seedOpenLoans(b, admin, n, sweepBenchDay)
	note("seeded %d open loans in %s", n, time.Since(start).Round(100*time.Millisecond))

	db := dbtest.OpenURL(b, dbURL)
	hook := &sweepCapture{}
	db.AddQueryHook(hook)
	clk := &clock{t: sweepBenchAt}
	svc := app.New(db, app.Options{Keys: dbtest.Keys(b, db), Now: clk.Now, Location: chicago, AgencyName: "Bench"})
	sweep := func(b *testing.B) int {
		res, err := svc.Notifications.Sweep(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return res.Created
	}

	// One untimed sweep, whose statements are checked (and explained on
	// demand); it also warms the cache as a daily run would find it.
	clearOutbox(b, admin)
	hook.start()
	created := sweep(b)
	statements := hook.stop()
	note("the sweep ran %d statements and created %d reminders", len(statements), created)
	checkSweepPlans(b, admin, statements, n, note)

	b.Run("first", func(b *testing.B) {
		flush(b)
		created := 0
		for b.Loop() {
			b.StopTimer()
			clearOutbox(b, admin)
			checkpoint(admin)
			b.StartTimer()
			created = sweep(b)
		}
		b.ReportMetric(float64(created), "reminders/op")
	})

	b.Run("repeat", func(b *testing.B) {
		flush(b)
		sweep(b) // the day's reminders are in the outbox
		for b.Loop() {
			if created := sweep(b); created != 0 {
				b.Fatalf("a repeated sweep created %d reminders", created)
			}
		}
		b.ReportMetric(0, "reminders/op")
	})

	b.Run("next_day", func(b *testing.B) {
		flush(b)
		defer clk.Set(sweepBenchAt)
		created := 0
		for b.Loop() {
			b.StopTimer()
			clearOutbox(b, admin)
			clk.Set(sweepBenchAt)
			sweep(b)
			checkpoint(admin)
			clk.Set(sweepBenchAt.AddDate(0, 0, 1))
			b.StartTimer()
			created = sweep(b)
		}
		b.ReportMetric(float64(created), "reminders/op")
	})
}

// seedOpenLoans runs the seeding script for n open loans around day (an
// agency date, YYYY-MM-DD) on an empty database, then vacuums what it
// wrote, as autovacuum would have by the time a daily sweep runs.
func seedOpenLoans(b *testing.B, db *storage.DB, n int, day string) {
	b.Helper()
	ctx := context.Background()
	script, err := os.ReadFile(filepath.Join("..", "notifications", "testdata", "seed_open_loans.sql"))
	if err != nil {
		b.Fatal(err)
	}
	// The settings are local to the transaction the statements run in.
	params := fmt.Sprintf("SELECT set_config('bench.loans', '%d', true), set_config('bench.today', '%s', true);\n", n, day)
	if _, err := db.ExecContext(ctx, params+string(script)); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM users, clients, devices, data_plans, loans, training_sessions, training_enrollments"); err != nil {
		b.Fatalf("vacuum: %v", err)
	}
	checkpoint(db)
}

// checkpoint writes out what earlier statements left in the buffers, so
// that a measured sweep does not pay for it, and makes the sweep's first
// change to each page log a full-page image, as a daily sweep does hours
// after the previous checkpoint. It needs a superuser or pg_checkpoint;
// without either the sweeps are measured without it.
func checkpoint(db *storage.DB) {
	db.ExecContext(context.Background(), "CHECKPOINT")
}

// clearOutbox empties the outbox, as before an agency's first sweep.
func clearOutbox(b *testing.B, db *storage.DB) {
	b.Helper()
	if _, err := db.ExecContext(context.Background(), "TRUNCATE notifications"); err != nil {
		b.Fatal(err)
	}
}

// sweepCapture is a query hook that records the sweep's INSERT statements,
// as sent, with their time and rows, while on.
type sweepCapture struct {
	mu         sync.Mutex
	on         bool
	statements []sweepStatement
}

type sweepStatement struct {
	query string
	took  time.Duration
	rows  int64
}

func (h *sweepCapture) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h *sweepCapture) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on || !strings.Contains(e.Query, "INSERT INTO notifications") || e.Err != nil {
		return
	}
	s := sweepStatement{query: e.Query, took: time.Since(e.StartTime)}
	if e.Result != nil {
		s.rows, _ = e.Result.RowsAffected()
	}
	h.statements = append(h.statements, s)
}

func (h *sweepCapture) start() {
	h.mu.Lock()
	h.on, h.statements = true, nil
	h.mu.Unlock()
}

func (h *sweepCapture) stop() []sweepStatement {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	return h.statements
}

var (
	sweepKindRe      = regexp.MustCompile(`SELECT CAST\('(\w+)' AS TEXT\)`)
	sweepRecipientRe = regexp.MustCompile(`'(client|social_worker|coordinator)', w\.client_id`)
)

// label names a sweep statement by its kind, step and recipients.
func (s sweepStatement) label() string {
	kind, recipient := "?", "?"
	if m := sweepKindRe.FindStringSubmatch(s.query); m != nil {
		kind = m[1]
	}
	var recipients []string
	for _, m := range sweepRecipientRe.FindAllStringSubmatch(s.query, -1) {
		recipients = append(recipients, m[1])
	}
	if len(recipients) > 0 {
		recipient = strings.Join(recipients, "+")
	}
	step := ""
	if m := regexp.MustCompile(`:` + kind + `:([^:']+):`).FindStringSubmatch(s.query); m != nil {
		step = " " + m[1]
	}
	return kind + step + " / " + recipient
}

// explain returns the plan of s, as the text EXPLAIN prints. The query
// goes to the driver as it is, since bun has already formatted it.
func explain(b *testing.B, db *storage.DB, explain string, s sweepStatement) string {
	b.Helper()
	rows, err := db.DB.DB.QueryContext(context.Background(), explain+" "+s.query)
	if err != nil {
		b.Fatalf("%s %s: %v", explain, s.label(), err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("%s %s: %v", explain, s.label(), err)
	}
	return strings.Join(lines, "\n")
}

// checkSweepPlans fails the benchmark if a statement of the sweep reads
// loans sequentially, or selects loans by due date without the index
// loans (status, due_on): its time would then grow with every loan ever
// made rather than with the loans due in its window. Small seeds only log
// it: there a sequential scan can be the right plan. With
// DEVICEBANK_BENCH_EXPLAIN=1 it logs each statement's time and rows in the
// sweep just run, and its EXPLAIN (ANALYZE, BUFFERS) on a fresh outbox.
func checkSweepPlans(b *testing.B, db *storage.DB, statements []sweepStatement, n int, note func(string, ...any)) {
	b.Helper()
	if len(statements) == 0 {
		b.Fatal("captured no sweep statement")
	}
	for _, s := range statements {
		plan := explain(b, db, "EXPLAIN", s)
		byDueDate := strings.Contains(s.query, "l.due_on BETWEEN")
		if !strings.Contains(plan, "Seq Scan on loans") && (!byDueDate || strings.Contains(plan, "loans_status_due_on_idx")) {
			continue
		}
		if n >= 100_000 {
			b.Errorf("%s does not find its loans by loans_status_due_on_idx:\n%s\n%s", s.label(), s.query, plan)
		} else {
			note("%s does not find its loans by loans_status_due_on_idx (%d loans):\n%s", s.label(), n, plan)
		}
	}
	if os.Getenv("DEVICEBANK_BENCH_EXPLAIN") == "" {
		return
	}
	for _, s := range statements {
		note("%-48s %7d rows %9s", s.label(), s.rows, s.took.Round(time.Millisecond))
	}
	clearOutbox(b, db)
	checkpoint(db)
	for _, s := range statements {
		note("%s\n%s\n%s", s.label(), s.query, explain(b, db, "EXPLAIN (ANALYZE, BUFFERS)", s))
	}
}
