package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// A database as it was before reservations: three ready laptop requests for
// two free laptops, a ready tablet request, and a client with two open
// laptop loans. The migration gives the two longest-ready laptop requests a
// laptop each and the tablet request the tablet, sends the third laptop
// request back to the waitlist at its place (with an event in the client's
// history), back-fills each loan's kind and marks the second laptop loan,
// so that the one-loan-per-kind rule holds from then on.
func TestReservationsMigrationBackfills(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 7); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
				 VALUES (1, 'co@agency.test', 'Co', 'coordinator', 'x', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00')`,
				`INSERT INTO eligibility_rule_sets (version, name, body, created_at) VALUES (1, 'rules', '{}', '2026-01-01 09:00:00+00:00')`,
				`INSERT INTO clients (id, case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at)
				 VALUES (1, 'C-1', 'A', 'A', 'none', 1, 1, '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (2, 'C-2', 'B', 'B', 'none', 1, 1, '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (3, 'C-3', 'C', 'C', 'none', 1, 1, '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (4, 'C-4', 'D', 'D', 'none', 1, 1, '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (5, 'C-5', 'E', 'E', 'none', 1, 1, '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00')`,
				`INSERT INTO devices (id, kind, make, model, asset_tag, status, condition, created_at, updated_at)
				 VALUES (1, 'laptop', 'Acme', 'L', 'DB-1', 'available', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (2, 'laptop', 'Acme', 'L', 'DB-2', 'available', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (3, 'tablet', 'Acme', 'T', 'DB-3', 'available', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (4, 'laptop', 'Acme', 'L', 'DB-4', 'on_loan', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (5, 'laptop', 'Acme', 'L', 'DB-5', 'on_loan', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00'),
				        (6, 'laptop', 'Acme', 'L', 'DB-6', 'on_loan', 'good', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00')`,
				`INSERT INTO loans (id, client_id, device_id, status, due_on, issued_at, issued_by, updated_at)
				 VALUES (1, 5, 4, 'open', '2026-04-10', '2026-02-01 09:00:00+00:00', 1, '2026-02-01 09:00:00+00:00'),
				        (2, 5, 5, 'open', '2026-04-10', '2026-02-02 09:00:00+00:00', 1, '2026-02-02 09:00:00+00:00')`,
				// Ready at 10:10, 10:05 and 10:00 (the third after waiting since 09:00).
				`INSERT INTO device_requests (id, client_id, device_kind, urgency, status, outcome, rule_set_version, decision,
				                             created_by, created_at, updated_at, waitlisted_at)
				 VALUES (1, 1, 'laptop', 'normal', 'ready', 'eligible', 1, '{}', 1, '2026-03-01 08:00:00+00:00', '2026-03-01 10:10:00+00:00', NULL),
				        (2, 2, 'laptop', 'normal', 'ready', 'eligible', 1, '{}', 1, '2026-03-01 08:00:00+00:00', '2026-03-01 10:05:00+00:00', NULL),
				        (3, 3, 'laptop', 'normal', 'ready', 'eligible', 1, '{}', 1, '2026-03-01 08:00:00+00:00', '2026-03-01 10:00:00+00:00', '2026-03-01 09:00:00+00:00'),
				        (4, 4, 'tablet', 'normal', 'ready', 'eligible', 1, '{}', 1, '2026-03-01 08:00:00+00:00', '2026-03-01 10:00:00+00:00', NULL)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}

			held := map[int64]int64{}
			var rows []struct {
				ID      int64 `bun:"id"`
				Request int64 `bun:"reserved_for_request_id"`
			}
			if err := db.NewRaw("SELECT id, reserved_for_request_id FROM devices WHERE reserved_for_request_id IS NOT NULL").Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				held[r.Request] = r.ID
			}
			// Request 3, ready since 10:00, and request 2, since 10:05, get
			// the two laptops; request 1, ready last, does not.
			if len(held) != 3 || held[3] != 1 || held[2] != 2 || held[4] != 3 {
				t.Errorf("devices held by request: %v, want request 3 -> 1, 2 -> 2, 4 -> 3", held)
			}
			var status string
			var waitlistedAt time.Time
			if err := db.NewRaw("SELECT status, waitlisted_at FROM device_requests WHERE id = 1").Scan(ctx, &status, &waitlistedAt); err != nil {
				t.Fatal(err)
			}
			if want := time.Date(2026, 3, 1, 10, 10, 0, 0, time.UTC); status != "waitlisted" || !waitlistedAt.Equal(want) {
				t.Errorf("request 1 is %s, waitlisted at %v; want waitlisted at %v (when it became ready)", status, waitlistedAt, want)
			}
			var events int
			if err := db.NewRaw("SELECT COUNT(*) FROM audit_events WHERE action = 'request.waitlisted' AND subject_id = 1 AND client_id = 1").Scan(ctx, &events); err != nil {
				t.Fatal(err)
			}
			if events != 1 {
				t.Errorf("%d request.waitlisted events for request 1, want 1", events)
			}

			var kinds []string
			if err := db.NewRaw("SELECT device_kind FROM loans ORDER BY id").Scan(ctx, &kinds); err != nil {
				t.Fatal(err)
			}
			var marked []int64
			if err := db.NewRaw("SELECT id FROM loans WHERE predates_kind_limit ORDER BY id").Scan(ctx, &marked); err != nil {
				t.Fatal(err)
			}
			if len(kinds) != 2 || kinds[0] != "laptop" || kinds[1] != "laptop" || len(marked) != 1 || marked[0] != 2 {
				t.Errorf("loan kinds %v, marked %v; want two laptops, the second marked", kinds, marked)
			}

			// From now on the database refuses a third open laptop loan, a
			// second device held for one request, and a held device lent.
			_, err := db.ExecContext(ctx, `INSERT INTO loans (id, client_id, device_id, device_kind, status, due_on, issued_at, issued_by, updated_at)
				VALUES (3, 5, 6, 'laptop', 'open', '2026-04-10', '2026-03-02 09:00:00+00:00', 1, '2026-03-02 09:00:00+00:00')`)
			if !storage.IsUniqueViolation(err) {
				t.Errorf("a third open laptop loan for one client: %v, want a unique violation", err)
			}
			if _, err := db.ExecContext(ctx, "UPDATE devices SET reserved_for_request_id = 2 WHERE id = 3"); !storage.IsUniqueViolation(err) {
				t.Errorf("a second device held for one request: %v, want a unique violation", err)
			}
			if _, err := db.ExecContext(ctx, "UPDATE devices SET status = 'on_loan' WHERE id = 1"); err == nil {
				t.Errorf("a held device put on loan without being released: no error")
			}
		})
	}
}
