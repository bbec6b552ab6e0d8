package clients_test

import (
	"context"
	"testing"

	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The system (no actor) sees no client, by every way of asking, rather
// than failing.
func TestTheSystemSeesNoClient(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('w@example.org', 'W', 'social_worker', 'x', TRUE, '2026-01-01', '2026-01-01')"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO clients (case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at) SELECT 'C-1', 'Ana', 'Lopez', 'none', 1, id, '2026-01-01', '2026-01-01' FROM users"); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.NewRaw("SELECT id FROM clients").Scan(ctx, &id); err != nil {
			t.Fatal(err)
		}
		svc := &clients.Service{DB: db}
		var ids []int64
		if err := svc.VisibleIDs(db, nil).Scan(ctx, &ids); err != nil || len(ids) != 0 {
			t.Errorf("VisibleIDs: %v, %v; want none", ids, err)
		}
		if seen, err := svc.VisibleAmong(ctx, nil, []int64{id}); err != nil || len(seen) != 0 {
			t.Errorf("VisibleAmong: %v, %v; want none", seen, err)
		}
		if ok, err := svc.Visible(ctx, db, nil, id); err != nil || ok {
			t.Errorf("Visible: %v, %v; want false", ok, err)
		}
	})
}
