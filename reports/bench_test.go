package reports_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The year the benchmark reports on, the last of the three the seed
// covers, and the moment it is asked for.
var (
	benchFrom = calendar.Date{Year: 2025, Month: time.January, Day: 1}
	benchTo   = calendar.Date{Year: 2025, Month: time.December, Day: 31}
	benchNow  = time.Date(2026, 1, 15, 10, 0, 0, 0, chicago)
)

// BenchmarkUtilizationReport computes the utilization report of one year
// (2025, in Chicago) as a coordinator, with no filter, over three years of
// an agency seeded by reports/testdata/seed_utilization.sql: 1,000,000
// loans (DEVICEBANK_BENCH_LOANS for another number), 100,000 devices,
// 300,000 clients; on PostgreSQL only.
//
//   - json: the report as the API answers it, computed and marshalled;
//   - statements: the SQL statements the report ran, replayed as sent,
//     without the Go around them;
//   - bare: the plain aggregates over the same rows (counts and sums of the
//     period's loans, events, requests, sessions and plans, see
//     bareAggregates): the floor a report of these figures can hope for.
//
// ms/op is the time of one report. With -v the setup logs the time of each
// statement and bare aggregate; DEVICEBANK_BENCH_EXPLAIN=1 also logs each
// statement's EXPLAIN (ANALYZE, BUFFERS).
func BenchmarkUtilizationReport(b *testing.B) {
	base := os.Getenv("TEST_DATABASE_URL")
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		b.Skip("the report benchmark needs PostgreSQL at TEST_DATABASE_URL")
	}
	n := 1_000_000
	if s := os.Getenv("DEVICEBANK_BENCH_LOANS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("DEVICEBANK_BENCH_LOANS=%q: want a number of loans, at least 1000", s)
		}
		n = v
	}
	ctx := context.Background()
	// The service uses the driver's default timeouts, as in production;
	// seeding, vacuuming and explaining go through a second pool with a
	// long read timeout.
	//
	// DEVICEBANK_BENCH_DATABASE_URL names a database seeded before (by the
	// script, see its header) to measure again without seeding: it is used
	// as it is, but for its clients and requests sealed on the first run.
	dbURL, seeded := os.Getenv("DEVICEBANK_BENCH_DATABASE_URL"), true
	if dbURL == "" {
		dbURL, seeded = dbtest.FreshURL(b, storage.Postgres), false
	}
	admin := dbtest.OpenURL(b, dbtest.LongReadTimeout(b, dbURL))
	if !seeded {
		if _, err := migrations.Apply(ctx, admin); err != nil {
			b.Fatalf("migrate: %v", err)
		}
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

	if !seeded {
		start := time.Now()
		seedUtilization(b, admin, n)
		note("seeded %d loans in %s", n, time.Since(start).Round(100*time.Millisecond))
	}

	db := dbtest.OpenURL(b, dbURL)
	hook := &statementCapture{}
	db.AddQueryHook(hook)
	svc := app.New(db, app.Options{Keys: dbtest.Keys(b, db), Now: func() time.Time { return benchNow }, Location: chicago, AgencyName: "Bench"})
	// The script writes clients and requests plain, as stored before they
	// were sealed: sealed here, as serve would at start (nothing to do on a
	// database sealed by an earlier run), since the report reads the
	// clients' birth years (kept beside their sealed records) and opens the
	// requests' decisions. Then the tables are analysed again, as
	// autovacuum would: the columns the sealing filled were empty when the
	// script analysed them.
	start := time.Now()
	sealedClients, err := svc.Clients.SealStored(ctx)
	if err != nil {
		b.Fatalf("seal the clients: %v", err)
	}
	sealed, err := svc.Eligibility.SealStored(ctx)
	if err != nil {
		b.Fatalf("seal the requests: %v", err)
	}
	if sealedClients+sealed > 0 {
		if _, err := admin.ExecContext(ctx, "ANALYZE clients, device_requests"); err != nil {
			b.Fatalf("analyze: %v", err)
		}
	}
	note("sealed %d clients and %d requests in %s", sealedClients, sealed, time.Since(start).Round(100*time.Millisecond))
	coordinator := &accounts.Actor{ID: 1, Name: "Coordinator 1", Role: accounts.Coordinator}
	params := reports.Params{From: benchFrom, To: benchTo}
	report := func(b *testing.B) []byte {
		r, err := svc.Reports.Utilization(ctx, coordinator, params)
		if err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		return body
	}

	// One untimed report, whose statements are kept (and explained on
	// demand); it also warms the cache as an agency's database would be.
	hook.start()
	body := report(b)
	statements := hook.stop()
	note("the report ran %d statements, %d bytes of JSON: %s", len(statements), len(body), body)
	if os.Getenv("DEVICEBANK_BENCH_EXPLAIN") != "" {
		for i, s := range statements {
			note("statement %d (%s):\n%s\n%s", i+1, s.took.Round(time.Millisecond), s.query,
				explainQuery(b, admin, "EXPLAIN (ANALYZE, BUFFERS)", s.query))
		}
	}
	bare := bareAggregates(chicago)

	b.Run("json", func(b *testing.B) {
		flush(b)
		for b.Loop() {
			report(b)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
		b.ReportMetric(float64(len(statements)), "statements/op")
	})

	b.Run("statements", func(b *testing.B) {
		took := make([]time.Duration, len(statements))
		for b.Loop() {
			for i, s := range statements {
				t := time.Now()
				drain(b, admin, s.query)
				took[i] += time.Since(t)
			}
		}
		for i, s := range statements {
			b.Logf("statement %2d %8.1f ms  %s", i+1, ms(took[i], b.N), oneLine(s.query, 110))
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	})

	b.Run("bare", func(b *testing.B) {
		took := make([]time.Duration, len(bare))
		for b.Loop() {
			for i, a := range bare {
				t := time.Now()
				drain(b, admin, a.query)
				took[i] += time.Since(t)
			}
		}
		for i, a := range bare {
			b.Logf("bare %-22s %8.1f ms", a.name, ms(took[i], b.N))
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	})

	// The PDF of the same report: what drawing it adds to computing it
	// (the issue asks for under one second more than the JSON).
	b.Run("pdf", func(b *testing.B) {
		r, err := svc.Reports.Utilization(ctx, coordinator, params)
		if err != nil {
			b.Fatal(err)
		}
		var size int
		for b.Loop() {
			pdf, err := r.PDF()
			if err != nil {
				b.Fatal(err)
			}
			size = len(pdf)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		b.ReportMetric(float64(size), "bytes/pdf")
	})
}

// seedUtilization runs the seeding script for n loans on an empty
// database, then vacuums and analyzes what it wrote, as autovacuum would
// have by the time anyone asks for a report.
func seedUtilization(b *testing.B, db *storage.DB, n int) {
	b.Helper()
	ctx := context.Background()
	script, err := os.ReadFile(filepath.Join("testdata", "seed_utilization.sql"))
	if err != nil {
		b.Fatal(err)
	}
	// The setting is local to the transaction the statements run in.
	params := fmt.Sprintf("SELECT set_config('bench.loans', '%d', true);\n", n)
	if _, err := db.ExecContext(ctx, params+string(script)); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE users, households, clients, devices, device_status_changes, data_plans, loans, "+
		"audit_events, device_requests, training_sessions, training_enrollments"); err != nil {
		b.Fatalf("vacuum: %v", err)
	}
}

// bareAggregate is a plain aggregate over rows a report reads.
type bareAggregate struct{ name, query string }

// bareAggregates are the plain counts and sums over the rows of the
// benchmark's year that the report's figures are made of, with no
// history replayed, no per-month split and no scope: what reading the
// period's rows costs.
func bareAggregates(loc *time.Location) []bareAggregate {
	day := func(d calendar.Date) string {
		return "'" + time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).UTC().Format("2006-01-02 15:04:05Z07:00") + "'::timestamptz"
	}
	s, e := day(benchFrom), day(benchTo.AddDays(1))
	in := func(col string) string { return col + " >= " + s + " AND " + col + " < " + e }
	open := "issued_at < " + e + " AND COALESCE(returned_at, lost_at, " + e + ") > " + s
	return []bareAggregate{
		{"devices by status", "SELECT kind, status, COUNT(*) FROM devices GROUP BY kind, status"},
		{"devices added", "SELECT COUNT(*) FROM devices WHERE " + in("created_at")},
		{"status changes", "SELECT status, COUNT(*) FROM device_status_changes WHERE " + in("changed_at") + " GROUP BY status"},
		{"loans issued", "SELECT COUNT(*) FROM loans WHERE " + in("issued_at")},
		{"loans returned", "SELECT COUNT(*) FROM loans WHERE " + in("returned_at")},
		{"loans lost", "SELECT COUNT(*) FROM loans WHERE " + in("lost_at")},
		{"renewals", "SELECT COUNT(*) FROM audit_events WHERE action = 'loan.renewed' AND " + in("occurred_at")},
		{"loan-days", "SELECT SUM(date_part('epoch', LEAST(COALESCE(returned_at, lost_at, " + e + "), " + e + ") - GREATEST(issued_at, " + s + "))) FROM loans WHERE " + open},
		{"clients served", "SELECT COUNT(DISTINCT client_id) FROM loans WHERE " + open},
		{"requests received", "SELECT COUNT(*) FROM device_requests WHERE " + in("created_at")},
		{"request events", "SELECT action, COUNT(*) FROM audit_events WHERE subject_type = 'device_request' AND " + in("occurred_at") + " GROUP BY action"},
		{"training", "SELECT COUNT(*), SUM(CASE WHEN en.attendance IN ('present', 'late') THEN 1 ELSE 0 END) FROM training_enrollments en " +
			"JOIN training_sessions ts ON ts.id = en.session_id WHERE " + in("ts.starts_at")},
		{"data plans", "SELECT COUNT(*), SUM(monthly_cost_cents) FROM data_plans WHERE starts_on < " + e + "::date AND (ends_on IS NULL OR ends_on >= " + s + "::date)"},
	}
}

// drain runs query and reads every row it answers. The query goes to the
// driver as it is: bun has already formatted the report's.
func drain(b *testing.B, db *storage.DB, query string) {
	b.Helper()
	rows, err := db.DB.DB.QueryContext(context.Background(), query)
	if err != nil {
		b.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	values := make([]any, len(cols))
	for i := range values {
		values[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(values...); err != nil {
			b.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("%s: %v", query, err)
	}
}

// explainQuery returns the plan of query, as the text EXPLAIN prints.
func explainQuery(b *testing.B, db *storage.DB, explain, query string) string {
	b.Helper()
	rows, err := db.DB.DB.QueryContext(context.Background(), explain+" "+query)
	if err != nil {
		b.Fatalf("%s %s: %v", explain, query, err)
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
		b.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

// oneLine is query on one line, cut to at most max characters.
func oneLine(query string, max int) string {
	s := strings.Join(strings.Fields(query), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// statementCapture is a query hook that records the statements a report
// runs, as sent, with their time, while on.
type statementCapture struct {
	mu         sync.Mutex
	on         bool
	statements []capturedStatement
}

type capturedStatement struct {
	query string
	took  time.Duration
}

func (h *statementCapture) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h *statementCapture) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// The sections' transactions (BEGIN, their SET LOCAL, COMMIT) are not
	// the report's statements.
	switch q := strings.ToUpper(e.Query); {
	case strings.HasPrefix(q, "BEGIN"), strings.HasPrefix(q, "COMMIT"), strings.HasPrefix(q, "ROLLBACK"), strings.HasPrefix(q, "SET LOCAL"):
		return
	}
	if h.on && e.Err == nil {
		h.statements = append(h.statements, capturedStatement{query: e.Query, took: time.Since(e.StartTime)})
	}
}

func (h *statementCapture) start() {
	h.mu.Lock()
	h.on, h.statements = true, nil
	h.mu.Unlock()
}

func (h *statementCapture) stop() []capturedStatement {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on = false
	return h.statements
}
