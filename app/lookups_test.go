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

// A scanned or typed asset tag finds its device, whatever its case and
// the space around it; a tag no device has is not found.
func TestDeviceByTag(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		co := f.actor(accounts.Coordinator)
		kind := inventory.Kind("tablet")
		d, err := f.svc.Inventory.CreateDevice(ctx, co, inventory.DeviceInput{Kind: &kind, Make: str("Acme"), Model: str("T"), AssetTag: str("TAB-0042")})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"TAB-0042", "  tab-0042\n"} {
			got, err := f.svc.Inventory.DeviceByTag(ctx, tag)
			if err != nil || got.ID != d.ID {
				t.Errorf("DeviceByTag(%q): %v, %v", tag, got, err)
			}
		}
		for _, tag := range []string{"", "TAB-004", "TAB-00421"} {
			if _, err := f.svc.Inventory.DeviceByTag(ctx, tag); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("DeviceByTag(%q): %v, want not found", tag, err)
			}
		}
		// The default due date is DefaultLoanDays after the agency's today.
		f.clock.Set(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC))
		want := calendar.Today(f.clock.Now(), f.svc.Inventory.Location).AddDays(inventory.DefaultLoanDays)
		if due := f.svc.Inventory.DefaultDueOn(); due != want || due.String() != "2026-06-08" {
			t.Errorf("DefaultDueOn: %v, want %v", due, want)
		}
	})
}

// Names gives the names of the clients the actor may see, leaves the
// others out, and records the read.
func TestClientNames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.actor(accounts.SocialWorker), f.actor(accounts.SocialWorker)
		ch, size := clients.None, 1
		mine, err := f.svc.Clients.Create(ctx, a, clients.Input{CaseNumber: str("N-1"), FirstName: str("Ana"), LastName: str("Lopez"), PreferredChannel: &ch, HouseholdSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := f.svc.Clients.Create(ctx, b, clients.Input{CaseNumber: str("N-2"), FirstName: str("Bo"), LastName: str("Chen"), PreferredChannel: &ch, HouseholdSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		names, err := f.svc.Clients.Names(ctx, a, []int64{mine.ID, theirs.ID, 999999})
		if err != nil || len(names) != 1 || names[mine.ID] != "Ana Lopez" {
			t.Fatalf("names: %v %v", names, err)
		}
		var n int64
		if n, err = db.NewSelect().Table("audit_events").Where("action = 'client.listed' AND actor_id = ?", a.ID).Count(ctx); err != nil || n != 1 {
			t.Errorf("client.listed events: %d %v", n, err)
		}
		// A coordinator sees no client that is not referred.
		co := f.actor(accounts.Coordinator)
		if names, err := f.svc.Clients.Names(ctx, co, []int64{mine.ID}); err != nil || len(names) != 0 {
			t.Errorf("a coordinator's names of an unreferred client: %v %v", names, err)
		}
	})
}
