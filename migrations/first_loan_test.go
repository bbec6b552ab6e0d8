package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Each client's first loan is filled in from their loans: the earliest
// issue of any, none for a client never lent anything.
func TestClientsFirstLoanIsBackfilled(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 21); err != nil {
				t.Fatal(err)
			}
			first := time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
			}
			exec(`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
				VALUES (7, 'w@agency.test', 'Worker', 'social_worker', 'x', ?, ?)`, first, first)
			for id := 1; id <= 2; id++ {
				exec(`INSERT INTO clients (id, case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at)
					VALUES (?, ?, 'Ana', 'Silva', 'none', 1, 7, ?, ?)`, id, id, first, first)
			}
			for id := 1; id <= 3; id++ {
				exec(`INSERT INTO devices (id, kind, make, model, asset_tag, status, condition, created_at, updated_at)
					VALUES (?, 'phone', 'Acme', 'One', ?, 'available', 'good', ?, ?)`, id, id, first, first)
			}
			// Client 1: a later loan inserted first, then the first one.
			exec(`INSERT INTO loans (id, client_id, device_id, issued_at, due_on, status, issued_by, updated_at)
				VALUES (1, 1, 1, ?, '2026-04-01', 'open', 7, ?)`, first.AddDate(0, 5, 0), first)
			exec(`INSERT INTO loans (id, client_id, device_id, issued_at, due_on, status, issued_by, updated_at, returned_at)
				VALUES (2, 1, 2, ?, '2025-04-01', 'returned', 7, ?, ?)`, first, first, first.AddDate(0, 0, 20))
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				ID          int64      `bun:"id"`
				FirstLoanAt *time.Time `bun:"first_loan_at"`
			}
			if err := db.NewRaw("SELECT id, first_loan_at FROM clients ORDER BY id").Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0].FirstLoanAt == nil || !rows[0].FirstLoanAt.Equal(first) || rows[1].FirstLoanAt != nil {
				t.Errorf("first loans after the migration: %+v", rows)
			}
		})
	}
}
