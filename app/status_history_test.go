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

// Every change of a device's status is kept in its history, at the moment
// of the change (the reports count devices in service by it): taken in,
// lent, returned, inspected ready, lent again, lost. A failed change (a
// second issue of a device already out) records nothing.
func TestEveryStatusChangeIsInTheHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, co, sw, at := newDayFixture(t, db)
		device := f.laptop(co)
		client := f.client(sw, "Ana", clients.SMS, "en")
		other := f.client(sw, "Ben", clients.SMS, "en")
		due := calendar.In(at(0), time.UTC).AddDays(14)
		issue := func(to int64) (*inventory.Loan, error) {
			return f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: to, DeviceID: device, DueOn: due, WalkInJustification: "walked in at the desk"})
		}

		f.clock.Set(at(1))
		loan, err := issue(client)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at(2))
		if _, err := issue(other); err == nil {
			t.Fatal("a device on loan was lent again")
		}
		f.clock.Set(at(3))
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at(4))
		yes := true
		if _, err := f.svc.Inventory.InspectDevice(ctx, co, device, inventory.InspectionInput{Wiped: &yes, Outcome: inventory.Ready}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at(5))
		second, err := issue(other)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at(6))
		if _, err := f.svc.Inventory.MarkLost(ctx, co, second.ID, inventory.LostInput{Notes: "left on a bus"}); err != nil {
			t.Fatal(err)
		}

		var rows []struct {
			Status    string    `bun:"status"`
			ChangedAt time.Time `bun:"changed_at"`
		}
		if err := db.NewSelect().Table("device_status_changes").Column("status", "changed_at").
			Where("device_id = ?", device).OrderExpr("changed_at, id").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			status string
			at     time.Time
		}{{"available", at(0)}, {"on_loan", at(1)}, {"inspection", at(3)}, {"available", at(4)}, {"on_loan", at(5)}, {"lost", at(6)}}
		if len(rows) != len(want) {
			t.Fatalf("history %+v, want %d changes %+v", rows, len(want), want)
		}
		for i, w := range want {
			if rows[i].Status != w.status || !rows[i].ChangedAt.Equal(w.at) {
				t.Errorf("change %d = %s at %s, want %s at %s", i, rows[i].Status, rows[i].ChangedAt.UTC(), w.status, w.at)
			}
		}
	})
}

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

// What an inspection or a return sets on a device is what is stored, read
// back from the database: a condition only when one is given, the time of
// a wipe only when the device was wiped (an inspection that keeps the
// device available included).
func TestInspectionsStoreWhatTheySet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, co, sw, at := newDayFixture(t, db)
		device := f.laptop(co)
		client := f.client(sw, "Ana", clients.SMS, "en")
		loan, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: client, DeviceID: device,
			DueOn: calendar.In(at(0), time.UTC).AddDays(14), WalkInJustification: "walked in at the desk"})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(at(1))
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "fair"}); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		check := func(step string, status inventory.Status, condition string, wiped *time.Time) {
			t.Helper()
			d, err := f.svc.Inventory.Device(ctx, device)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != status || d.Condition != condition || (d.LastWipedAt == nil) != (wiped == nil) ||
				(wiped != nil && !d.LastWipedAt.Equal(*wiped)) {
				t.Fatalf("%s: %s, %q, wiped %v; want %s, %q, wiped %v", step, d.Status, d.Condition, d.LastWipedAt, status, condition, wiped)
			}
		}
		check("returned in fair condition", inventory.Inspection, "fair", nil)
		steps := []struct {
			name  string
			in    inventory.InspectionInput
			state inventory.Status
			cond  string
			wiped *time.Time
		}{
			{"wiped, ready, no condition given", inventory.InspectionInput{Wiped: &yes, Outcome: inventory.Ready}, inventory.Available, "fair", ptr(at(2))},
			{"checked again on the shelf, condition given", inventory.InspectionInput{Wiped: &yes, Outcome: inventory.Ready, Condition: "good"}, inventory.Available, "good", ptr(at(3))},
			{"sent to repair, not wiped, no condition given", inventory.InspectionInput{Wiped: &no, Outcome: inventory.NeedsRepair}, inventory.Repair, "good", ptr(at(3))},
			{"repaired, wiped, condition given", inventory.InspectionInput{Wiped: &yes, Outcome: inventory.Ready, Condition: "fair"}, inventory.Available, "fair", ptr(at(5))},
		}
		for i, s := range steps {
			f.clock.Set(at(2 + i))
			if _, err := f.svc.Inventory.InspectDevice(ctx, co, device, s.in); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			check(s.name, s.state, s.cond, s.wiped)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// newDayFixture is a fixture with a coordinator and a social worker, and
// at(m), m minutes into the test's day, where its clock is set.
func newDayFixture(t *testing.T, db *storage.DB) (f *fixture, co, sw *accounts.Actor, at func(minutes int) time.Time) {
	f = newFixture(t, db)
	co, sw = f.actor(accounts.Coordinator), f.actor(accounts.SocialWorker)
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at = func(minutes int) time.Time { return start.Add(time.Duration(minutes) * time.Minute) }
	f.clock.Set(at(0))
	return f, co, sw, at
}
