package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The status history starts from the audit trail: each device's creation,
// its loans' issue, return, loss and recovery and its inspections'
// outcomes, in order; a device with no creation event starts at its row's
// creation.
func TestStatusHistoryIsBackfilledFromTheAuditTrail(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 16); err != nil {
				t.Fatal(err)
			}
			at := func(day, hour int) string { return fmt.Sprintf("'2026-01-%02d %02d:00:00+00:00'", day, hour) }
			for _, q := range []string{
				`INSERT INTO devices (id, kind, make, model, asset_tag, status, condition, created_at, updated_at) VALUES
				 (1, 'laptop', 'Acme', 'L', 'DB-1', 'repair', 'good', ` + at(1, 9) + `, ` + at(9, 9) + `),
				 (2, 'phone', 'Acme', 'P', 'DB-2', 'lost', 'good', ` + at(2, 9) + `, ` + at(5, 9) + `),
				 (3, 'tablet', 'Acme', 'T', 'DB-3', 'available', 'good', ` + at(3, 9) + `, ` + at(3, 9) + `)`,
				`INSERT INTO audit_events (occurred_at, action, subject_type, subject_id, device_id, loan_id, changes) VALUES
				 (` + at(1, 9) + `, 'device.created', 'device', 1, 1, NULL, '{}'),
				 (` + at(2, 9) + `, 'device.created', 'device', 2, 2, NULL, '{}'),
				 (` + at(4, 9) + `, 'loan.issued', 'loan', 1, 1, 1, '{}'),
				 (` + at(4, 10) + `, 'loan.issued', 'loan', 2, 2, 2, '{}'),
				 (` + at(5, 9) + `, 'loan.lost', 'loan', 2, 2, 2, '{}'),
				 (` + at(6, 9) + `, 'loan.returned', 'loan', 1, 1, 1, '{}'),
				 (` + at(7, 9) + `, 'device.inspected', 'device', 1, 1, NULL, '{"status": {"from": "inspection", "to": "available"}, "outcome": "ready"}'),
				 (` + at(7, 10) + `, 'device.updated', 'device', 1, 1, NULL, '{"model": {"from": "L", "to": "L2"}}'),
				 (` + at(8, 9) + `, 'loan.issued', 'loan', 3, 1, 3, '{}'),
				 (` + at(8, 12) + `, 'loan.returned', 'loan', 3, 1, 3, '{}'),
				 (` + at(9, 9) + `, 'device.inspected', 'device', 1, 1, NULL, '{"status": {"from": "inspection", "to": "repair"}, "outcome": "repair"}')`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				DeviceID int64  `bun:"device_id"`
				Status   string `bun:"status"`
			}
			if err := db.NewRaw("SELECT device_id, status FROM device_status_changes ORDER BY device_id, changed_at, id").Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%d:%s", r.DeviceID, r.Status))
			}
			want := "1:available 1:on_loan 1:inspection 1:available 1:on_loan 1:inspection 1:repair 2:available 2:on_loan 2:lost 3:available"
			if strings.Join(got, " ") != want {
				t.Errorf("history %v\nwant     %s", got, want)
			}
		})
	}
}
