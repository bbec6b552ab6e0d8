package app_test

import (
	"context"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// BenchmarkWaitlist reads the first page of the laptop waitlist with
// 100,000 open requests on file (25,000 of them waitlisted laptops, the
// rest other kinds and states), on each database.
func BenchmarkWaitlist(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) {
			db := dbtest.Open(b, engine)
			f := newFixture(b, db)
			ctx := context.Background()
			u, err := f.svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "sw@bench.test", Name: "sw", Role: accounts.SocialWorker, Password: "bench password long"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.svc.Eligibility.CurrentRuleSet(ctx); err != nil { // version 1
				b.Fatal(err)
			}
			seedRequests(b, db, u.ID, 100_000)
			// Sealed as serve seals them at start: each entry's priority
			// reasons are opened as the page is read.
			if _, err := f.svc.Eligibility.SealStored(ctx); err != nil {
				b.Fatal(err)
			}
			page := storage.Page{Limit: 50}
			co := &accounts.Actor{ID: u.ID, Role: accounts.Coordinator}
			b.ResetTimer()
			for b.Loop() {
				list, total, err := f.svc.Eligibility.Waitlist(ctx, co, "laptop", page)
				if err != nil || len(list) != 50 || total != 25_000 {
					b.Fatalf("waitlist: %d of %d, %v", len(list), total, err)
				}
			}
		})
	}
}

// seedRequests inserts n requests, one client each, in bulk SQL: a
// quarter waitlisted laptops, the rest spread over other kinds and states.
func seedRequests(b testing.TB, db *storage.DB, userID int64, n int) {
	ctx := context.Background()
	series := "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) SELECT i FROM s"
	if db.Engine == storage.Postgres {
		series = "SELECT i FROM generate_series(1, ?) AS s(i)"
	}
	now := "CURRENT_TIMESTAMP"
	stmts := []string{
		`INSERT INTO clients (case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at)
		 SELECT 'B-' || i, 'Bench', 'Client', 'none', 1, ?, ` + now + `, ` + now + ` FROM (` + series + `) AS x`,
		`INSERT INTO device_requests (client_id, device_kind, urgency, status, outcome, rule_set_version, decision, priority,
		   priority_reasons, created_by, created_at, updated_at, waitlisted_at)
		 SELECT c.id,
		   CASE c.id % 4 WHEN 0 THEN 'laptop' WHEN 1 THEN 'phone' WHEN 2 THEN 'tablet' ELSE 'hotspot' END,
		   'normal', CASE WHEN c.id % 4 = 0 OR c.id % 3 = 0 THEN 'waitlisted' ELSE 'needs_review' END, 'eligible', 1, '{}',
		   (c.id * 7919) % 100, '[]', ?, ` + now + `, ` + now + `, ` + now + `
		 FROM clients AS c WHERE c.case_number LIKE 'B-%'`,
	}
	if _, err := db.ExecContext(ctx, stmts[0], userID, n); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, stmts[1], userID); err != nil {
		b.Fatal(err)
	}
	if db.Engine == storage.Postgres {
		db.ExecContext(ctx, "ANALYZE device_requests")
	} else {
		db.ExecContext(ctx, "ANALYZE")
	}
}
