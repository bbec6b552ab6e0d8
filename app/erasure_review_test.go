package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The audit trail names the free text written on a loan (notes, a walk-in's
// justification, return notes) and never quotes it: after the client is
// erased, neither the events nor the device's history hold it.
func TestTheAuditTrailNamesNotesWithoutQuotingThem(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		c := f.createSealed(worker, sealedPeople[0])
		f.giveBack(admin, f.lendWithNotes(admin, c.ID))
		if err := f.svc.Clients.Erase(ctx, admin, c.ID, "asked"); err != nil {
			t.Fatal(err)
		}
		// A coordinator reads them back through GET /api/v1/devices/{id}/history.
		var deviceID int64
		if err := db.NewRaw("SELECT device_id FROM loans WHERE client_id = ?", c.ID).Scan(ctx, &deviceID); err != nil {
			t.Fatal(err)
		}
		events, _, err := f.svc.Inventory.DeviceHistory(ctx, deviceID, storage.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if b, _ := json.Marshal(e); strings.Contains(string(b), "Elm St") {
				t.Errorf("device history after erasure serves: %s", b)
			}
		}
		for _, text := range []string{"lives with her sister on Elm St", "walked in at the front desk", "her sister brought it"} {
			var n int
			if err := db.NewRaw("SELECT COUNT(*) FROM audit_events WHERE changes LIKE ?", "%"+text+"%").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("after erasure, %d audit event(s) still hold %q", n, text)
			}
		}
	})
}

// An erased client's device requests keep no decision quoting their income,
// programs or proof date, even opened with the keys: each rule's outcome
// stays (reports count them), its reason goes, and so do the priority
// reasons and the social worker's reason.
func TestErasureLeavesNoDecisionQuotingTheClient(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		id := f.person(sw, cents(23456))
		r, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: id, DeviceKind: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Eligibility.Cancel(ctx, admin, r.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Clients.Erase(ctx, admin, id, "asked"); err != nil {
			t.Fatal(err)
		}
		var dec, reasons, why string
		if err := db.NewRaw("SELECT decision, priority_reasons, reason FROM device_requests WHERE id = ?", r.ID).Scan(ctx, &dec, &reasons, &why); err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Eligibility.Decision(r.ID, dec)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Rules) == 0 || d.Outcome != r.Decision.Outcome {
			t.Fatalf("the decision lost its outcome or rules: %+v", d)
		}
		for i, rule := range d.Rules {
			if rule.Reason != "" || rule.Rule != r.Decision.Rules[i].Rule || rule.Passed != r.Decision.Rules[i].Passed {
				t.Errorf("rule %d after erasure: %+v (was %+v)", i, rule, r.Decision.Rules[i])
			}
		}
		if why != "" {
			t.Errorf("the request's reason is still there: %q", why)
		}
		if opened, err := f.svc.Clients.Keys.Unseal(reasons, keyring.Place{Table: "device_requests", Column: "priority_reasons", Row: r.ID}); err != nil || opened != "[]" {
			t.Errorf("the priority reasons after erasure: %q, %v", opened, err)
		}
	})
}

// attachDuringErasure runs attach (which makes a loan or a request for
// client id) while an erasure of the client holds it, and checks that
// attach waited for the erasure, then was refused as naming no client, and
// that the erased client has nothing open in table.
func (f *fixture) attachDuringErasure(id int64, table string, attach func() error) {
	f.t.Helper()
	ctx := context.Background()
	err := f.race(func(tx bun.Tx) error {
		// What Erase does once it has checked: hold the row, anonymise.
		if _, err := storage.Locked(tx.NewSelect().Table("clients").Column("id").Where("id = ?", id)).Exec(ctx); err != nil {
			return err
		}
		_, err := f.svc.Clients.Anonymise(ctx, tx, []int64{id}, time.Now())
		return err
	}, attach)
	if !apperrIs(err, "invalid") {
		f.t.Errorf("attached to a client being erased: %v, want invalid (no client)", err)
	}
	var n int
	if err := f.db.NewRaw("SELECT COUNT(*) FROM "+table+" WHERE client_id = ? AND status IN ('open', ?)", id,
		bun.In(clients.OpenRequestStatuses)).Scan(ctx, &n); err != nil {
		f.t.Fatal(err)
	}
	if n > 0 {
		f.t.Errorf("%d open row(s) in %s for the erased client", n, table)
	}
}

// A loan issued while an erasure is under way waits for it, and then finds
// no client: no open loan is left to a client no one can see (PostgreSQL:
// the loan holds the client's row, VisibleHeld).
func TestALoanIssuedDuringAnErasureIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		c := f.createSealed(worker, sealedPeople[0])
		// An earlier loan, so IssueLoan does not update first_loan_at.
		f.giveBack(admin, f.lendWithNotes(admin, c.ID))
		kind := inventory.Kind("phone")
		d, err := f.svc.Inventory.CreateDevice(ctx, admin, inventory.DeviceInput{Kind: &kind, Make: str("A"), Model: str("B")})
		if err != nil {
			t.Fatal(err)
		}
		f.attachDuringErasure(c.ID, "loans", func() error {
			_, err := f.svc.Inventory.IssueLoan(ctx, admin, inventory.IssueInput{ClientID: c.ID, DeviceID: d.ID,
				DueOn: calendar.Of(f.clock.Now().AddDate(0, 1, 0)), WalkInJustification: "walked in at the front desk"})
			return err
		})
	})
}

// The same for a device request filed while an erasure is under way.
func TestARequestFiledDuringAnErasureIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		sw := f.actor(accounts.SocialWorker)
		id := f.person(sw, cents(20000))
		f.attachDuringErasure(id, "device_requests", func() error {
			_, err := f.svc.Eligibility.FileRequest(context.Background(), sw, eligibility.RequestInput{ClientID: id, DeviceKind: "laptop"})
			return err
		})
	})
}

// A client holding a place in a training session to come is not erased:
// the place, and the waitlist behind it, need to know who they are.
func TestErasureIsRefusedWhileATrainingPlaceIsHeld(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator), f.actor(accounts.Admin)
		tomorrow := f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
		ss := f.session(co, "device_basics", tomorrow, 2, 1)
		a, b := f.person(sw, nil), f.person(sw, nil)
		if _, err := f.svc.Training.Enroll(ctx, sw, ss.ID, a); err != nil {
			t.Fatal(err)
		}
		if e, err := f.svc.Training.Enroll(ctx, sw, ss.ID, b); err != nil || e.Status != "waitlisted" {
			t.Fatalf("%+v %v", e, err)
		}
		for _, id := range []int64{a, b} {
			if err := f.svc.Clients.Erase(ctx, admin, id, "asked"); !apperrIs(err, "conflict") {
				t.Errorf("erasing client %d, who holds a place: %v, want a conflict", id, err)
			}
		}
		if _, err := f.svc.Training.Withdraw(ctx, sw, ss.ID, a); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Clients.Erase(ctx, admin, a, "asked"); err != nil {
			t.Fatalf("erasing a client who withdrew: %v", err)
		}
	})
}

// One client record that does not open (moved from another row, damaged)
// is listed as such, and every list still works for everyone.
func TestARecordThatDoesNotOpenLeavesListsWorking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		a, b := f.person(sw, nil), f.person(sw, nil)
		other := f.actor(accounts.SocialWorker)
		c := f.person(other, nil)
		if _, err := db.NewRaw("UPDATE clients SET personal = (SELECT personal FROM clients WHERE id = ?) WHERE id = ?", a, b).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		all, total, err := f.svc.Clients.List(ctx, admin, clients.Filter{}, storage.Page{})
		if err != nil || total != 3 {
			t.Fatalf("admin list with one bad row (client %d): %d, %v", b, total, err)
		}
		marked := 0
		for _, s := range all {
			if s.ID == b && s.FirstName == clients.Unreadable {
				marked++
			}
		}
		if marked != 1 {
			t.Errorf("the record that does not open is not listed as such: %+v", all)
		}
		if _, _, err := f.svc.Clients.List(ctx, admin, clients.Filter{Q: "Cl"}, storage.Page{}); err != nil {
			t.Errorf("admin search with one bad row: %v", err)
		}
		if _, err := f.svc.Clients.Get(ctx, other, c); err != nil {
			t.Errorf("an intact client: %v", err)
		}
		if _, err := f.svc.Clients.Get(ctx, sw, a); err != nil {
			t.Errorf("the intact client whose record was copied: %v", err)
		}
		if _, err := f.svc.Clients.Get(ctx, sw, b); !errors.Is(err, keyring.ErrCannotOpen) {
			t.Errorf("reading the record that does not open: %v, want %v", err, keyring.ErrCannotOpen)
		}
	})
}

// An upgrade from a database with data (migrations before 27, then the
// rest, then SealStored) leaves no client address on the reminders
// written before it, and migrates both dialects without error.
func TestTheUpgradeForgetsRemindersAddresses(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			ctx := context.Background()
			if _, err := migrations.ApplyBefore(ctx, db, 27); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			var uid, cid int64
			if err := db.NewRaw(`INSERT INTO users (email, name, role, password_hash, created_at, updated_at)
				VALUES ('w@agency.test', 'W', 'social_worker', 'x', ?, ?) RETURNING id`, now, now).Scan(ctx, &uid); err != nil {
				t.Fatal(err)
			}
			if err := db.NewRaw(`INSERT INTO clients (case_number, first_name, last_name, phone, email, postal_code,
					preferred_channel, household_size, caseworker_id, programs, needs, created_at, updated_at)
				VALUES ('UP-1', 'Upgrada', 'Legacy', '+13125559876', '', 'K1A 0B1', 'sms', 2, ?, '[]', '[]', ?, ?) RETURNING id`,
				uid, now, now).Scan(ctx, &cid); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO notifications (kind, dedup_key, client_id, channel, address, language, body, status,
					scheduled_at, next_attempt_at, created_at, updated_at, recipient)
				VALUES ('manual', 'k1', ?, 'sms', '+13125559876', 'en', 'Hi Upgrada', 'pending', ?, ?, ?, ?, 'client')`,
				cid, now, now, now, now); err != nil {
				t.Fatal(err)
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, db)
			if n, err := f.svc.Clients.SealStored(ctx); err != nil || n != 1 {
				t.Fatalf("sealed %d, %v", n, err)
			}
			var plain int
			if err := db.NewRaw("SELECT COUNT(*) FROM notifications WHERE address = '+13125559876'").Scan(ctx, &plain); err != nil {
				t.Fatal(err)
			}
			if plain > 0 {
				t.Errorf("after the upgrade and sealing, %d reminder(s) keep the client's phone in plain text", plain)
			}
		})
	}
}

// A reminder being sent while its client is erased keeps no text or note
// once the send completes.
func TestAReminderBeingSentKeepsNoTextOfAnErasedClient(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		c := f.createSealed(worker, sealedPeople[0])
		loan := f.lendWithNotes(admin, c.ID)
		f.giveBack(admin, loan)
		// The outbox has claimed the reminder and is sending it.
		if _, err := db.NewRaw("UPDATE notifications SET status = 'sending', body = 'Hi Zephyrine' WHERE client_id = ?", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Clients.Erase(ctx, admin, c.ID, "asked"); err != nil {
			t.Fatal(err)
		}
		// The send completes (what outbox.deliver writes).
		if _, err := db.NewRaw("UPDATE notifications SET status = 'sent' WHERE client_id = ? AND status = 'sending'", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.NewRaw("SELECT COUNT(*) FROM notifications WHERE client_id = ? AND (body <> '' OR note <> '') AND erased_at IS NULL", c.ID).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("%d reminder(s) of the erased client keep their text or note", n)
		}
	})
}

// An erased client's loans leave their caseworker's lists, as the client
// does.
func TestAnErasedClientsLoansLeaveTheirCaseworkersLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		c := f.createSealed(worker, sealedPeople[0])
		f.giveBack(admin, f.lendWithNotes(admin, c.ID))
		if err := f.svc.Clients.Erase(ctx, admin, c.ID, "asked"); err != nil {
			t.Fatal(err)
		}
		loans, n, err := f.svc.Inventory.ListLoans(ctx, worker, inventory.LoanFilter{}, storage.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("the caseworker lists %d loan(s) of the erased client %d: %+v", n, c.ID, loans[0].ClientID)
		}
	})
}
