package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// A loan's change whose conditional device update changes nothing (the
// device is no longer in the status the change expects: here moved by an
// operator's SQL) is a Conflict, and adds nothing to the device's history:
// on PostgreSQL the update and the history's insert are one statement.
func TestAConflictingDeviceMoveWritesNoHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		co, sw := f.actor(accounts.Coordinator), f.actor(accounts.SocialWorker)
		client := f.client(sw, "Ana", clients.SMS, "en")
		loan := f.lend(co, client, calendar.In(f.clock.Now(), time.UTC).AddDays(14), nil)
		history := func() int64 {
			n, err := db.NewSelect().Table("device_status_changes").Where("device_id = ?", loan.DeviceID).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := history()
		if before != 2 {
			t.Fatalf("%d changes in the history of a device taken in and lent, want 2", before)
		}
		if _, err := db.ExecContext(ctx, "UPDATE devices SET status = 'repair' WHERE id = ?", loan.DeviceID); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"})
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("return of a loan whose device is in repair: %v, want a conflict", err)
		}
		if n := history(); n != before {
			t.Fatalf("%d changes in the history after a conflict, want %d", n, before)
		}
		if _, err := db.ExecContext(ctx, "UPDATE devices SET status = 'on_loan' WHERE id = ?", loan.DeviceID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"}); err != nil {
			t.Fatal(err)
		}
		if n := history(); n != before+1 {
			t.Fatalf("%d changes in the history after a return, want %d", n, before+1)
		}
	})
}
