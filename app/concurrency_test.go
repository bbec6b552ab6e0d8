package app_test

// Lost updates: an edit that reads a row and writes it back must not undo
// a change committed by another transaction in between. Each test holds a
// competing change open in a transaction, starts the service call, waits
// until the call is waiting for the competitor's lock, then commits the
// competitor; the service call must see the committed change.
// (On PostgreSQL the service locks the row it reads; on SQLite the held
// transaction already blocks every other writer.)

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

type fixture struct {
	t     testing.TB
	db    *storage.DB
	svc   *app.Services
	n     int
	clock *clock
	locks *dbtest.Locks
}

// clock is a settable clock; it starts at the real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newFixture(t testing.TB, db *storage.DB) *fixture {
	clk := &clock{t: time.Now().UTC()}
	locks := dbtest.WatchLocks(db)
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: clk.Now})
	svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	return &fixture{t: t, db: db, svc: svc, clock: clk, locks: locks}
}

func (f *fixture) actor(role accounts.Role) *accounts.Actor {
	f.n++
	u, err := f.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{
		Email: string(role) + string(rune('a'+f.n)) + "@agency.test", Name: string(role), Role: role, Password: "a long test password"})
	if err != nil {
		f.t.Fatal(err)
	}
	return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
}

// race holds competitor open in a transaction while call runs, commits it
// once call is waiting for the competitor's lock, and returns call's error.
// A call that finishes without waiting fails the test.
func (f *fixture) race(competitor func(tx bun.Tx) error, call func() error) error {
	held := f.locks.Hold(f.t, competitor)
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- call()
		close(finished)
	}()
	held.WaitForWaiters(f.t, 1, finished)
	if err := held.Tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	return <-done
}

func str(s string) *string { return &s }

func TestEditDoesNotUndoAClientReassignment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.actor(accounts.SocialWorker), f.actor(accounts.SocialWorker)
		size, ch := 2, clients.None
		c, err := f.svc.Clients.Create(ctx, a, clients.Input{CaseNumber: str("R-1"), FirstName: str("Ana"), LastName: str("Lopez"),
			PreferredChannel: &ch, HouseholdSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		err = f.race(func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Table("clients").Set("caseworker_id = ?", b.ID).Where("id = ?", c.ID).Exec(ctx)
			return err
		}, func() error {
			_, err := f.svc.Clients.Update(ctx, a, c.ID, clients.Input{Phone: str("+1 312 555 0999")})
			return err
		})
		// Worker A lost the client while editing: the edit is refused as not found.
		if !apperrIs(err, "not_found") {
			t.Fatalf("the old caseworker's edit: %v, want not found", err)
		}
		got, err := f.svc.Clients.Get(ctx, b, c.ID)
		if err != nil || got.CaseworkerID != b.ID || got.Phone != "" {
			t.Fatalf("after the race: %+v, %v; want caseworker %d and no phone", got, err, b.ID)
		}
	})
}

func TestRenameDoesNotUndoADeactivation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		admin, worker := f.actor(accounts.Admin), f.actor(accounts.SocialWorker)
		err := f.race(func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Table("users").Set("active = ?", false).Where("id = ?", worker.ID).Exec(ctx)
			return err
		}, func() error {
			_, err := f.svc.Accounts.UpdateUser(ctx, admin, worker.ID, accounts.UserPatch{Name: str("Renamed")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := f.svc.Accounts.User(ctx, worker.ID)
		if u.Active || u.Name != "Renamed" {
			t.Fatalf("after the race: active %v, name %q; want inactive and renamed", u.Active, u.Name)
		}
		// A token asked for while the deactivation was in flight is refused.
		err = f.race(func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Table("users").Set("active = ?", false).Where("id = ?", admin.ID).Exec(ctx)
			return err
		}, func() error {
			_, _, err := f.svc.Accounts.CreateToken(ctx, admin, admin.ID, "late")
			return err
		})
		if !apperrIs(err, "conflict") {
			t.Fatalf("a token for a user being deactivated: %v, want conflict", err)
		}
	})
}

func TestRenewalsDoNotOverwriteEachOther(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		co, sw := f.actor(accounts.Coordinator), f.actor(accounts.SocialWorker)
		size, ch := 1, clients.None
		c, err := f.svc.Clients.Create(ctx, sw, clients.Input{CaseNumber: str("N-1"), FirstName: str("Bo"), LastName: str("Kim"),
			PreferredChannel: &ch, HouseholdSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		f.refer(sw, c.ID)
		kind := inventory.Kind("laptop")
		d, err := f.svc.Inventory.CreateDevice(ctx, co, inventory.DeviceInput{Kind: &kind, Make: str("Acme"), Model: str("L")})
		if err != nil {
			t.Fatal(err)
		}
		today := calendar.Of(time.Now().UTC())
		loan, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: c.ID, DeviceID: d.ID, DueOn: today.AddDays(30), WalkInJustification: "walked in at the front desk"})
		if err != nil {
			t.Fatal(err)
		}
		// Another renewal to +90 days is in flight; ours asks for +60.
		err = f.race(func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Table("loans").Set("due_on = ?", today.AddDays(90)).Set("renewals = renewals + 1").
				Where("id = ?", loan.ID).Exec(ctx)
			return err
		}, func() error {
			_, err := f.svc.Inventory.RenewLoan(ctx, co, loan.ID, inventory.RenewInput{DueOn: today.AddDays(60)})
			return err
		})
		if !apperrIs(err, "invalid") {
			t.Fatalf("renewal to an earlier date than the committed one: %v, want invalid", err)
		}
		got, _ := f.svc.Inventory.Loan(ctx, co, loan.ID)
		if got.DueOn != today.AddDays(90) || got.Renewals != 1 {
			t.Fatalf("after the race: due %s, renewals %d; want %s and 1", got.DueOn, got.Renewals, today.AddDays(90))
		}
		// Device edits do not put back a condition changed meanwhile.
		err = f.race(func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Table("devices").Set("condition = ?", "damaged").Where("id = ?", d.ID).Exec(ctx)
			return err
		}, func() error {
			_, err := f.svc.Inventory.UpdateDevice(ctx, co, d.ID, inventory.DeviceInput{Notes: str("sticker on lid")})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		dev, _ := f.svc.Inventory.Device(ctx, d.ID)
		if dev.Condition != "damaged" || dev.Notes != "sticker on lid" {
			t.Fatalf("after the race: condition %q notes %q", dev.Condition, dev.Notes)
		}
	})
}

// A request is decided on the facts as they are when it is stored: a loan
// of the same kind issued to the client while the request is being filed
// (a walk-in, still uncommitted) is counted by the decision, which waits
// for it, rather than the request being approved beside the loan.
func TestRequestIsDecidedOnTheLoanIssuedMeanwhile(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		co, sw := f.actor(accounts.Coordinator), f.actor(accounts.SocialWorker)
		client := f.person(sw, cents(20000))
		lent, free := f.laptop(co), f.laptop(co)
		var r *eligibility.DeviceRequest
		err := f.race(func(tx bun.Tx) error {
			// What issuing a walk-in does: the kind's lock, then the loan.
			if err := f.svc.Inventory.LockKind(ctx, tx, "laptop"); err != nil {
				return err
			}
			now := f.clock.Now()
			loan := &inventory.Loan{ClientID: client, DeviceID: lent, DeviceKind: "laptop", Status: inventory.LoanOpen,
				DueOn: calendar.Of(now).AddDays(30), IssuedAt: now, IssuedBy: co.ID, UpdatedAt: now}
			if _, err := tx.NewInsert().Model(loan).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewUpdate().Table("devices").Set("status = 'on_loan'").Where("id = ?", lent).Exec(ctx)
			return err
		}, func() error {
			var err error
			r, err = f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: client, DeviceKind: "laptop"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != eligibility.Denied || r.ReservedDeviceID != nil {
			t.Fatalf("a request filed while the client was lent a laptop is %s, holding %v; want denied, holding none: %+v",
				r.Status, r.ReservedDeviceID, r.Decision)
		}
		d, err := f.svc.Inventory.Device(ctx, free)
		if err != nil || d.ReservedForRequestID != nil {
			t.Fatalf("the free laptop is held for %v (%v); want for no one", d.ReservedForRequestID, err)
		}
	})
}
