package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// onFreshDatabases runs test on each database engine against a database
// of its own, migrated, with its URL, to read what it holds on disk.
func onFreshDatabases(t *testing.T, test func(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string)) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			rawURL := dbtest.FreshURL(t, engine)
			db := dbtest.OpenURL(t, rawURL)
			if _, err := migrations.Apply(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			test(t, engine, db, rawURL)
		})
	}
}

// storedBytes is what the database at rawURL holds: the SQLite file and
// its log, or a pg_dump of the test's schema.
func storedBytes(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string) []byte {
	t.Helper()
	var held []byte
	if engine == storage.SQLite {
		held = sqliteBytes(t, db, rawURL)
	} else {
		held = pgDump(t, rawURL)
	}
	if len(held) < 10_000 {
		t.Fatalf("the database's bytes are only %d long: nothing was read", len(held))
	}
	return held
}

// A reminder's text (which greets the client by first name) and a
// coordinator's note are sealed in the database: the channel is handed
// them plain, lists and the client's export show them, and neither the
// SQLite file nor a pg_dump holds them. A text moved to another row does
// not open there: a list shows it as unreadable, and a note that does not
// open fails its reminder rather than sending it without.
func TestReminderTextsAreSealed(t *testing.T) {
	onFreshDatabases(t, func(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		client := f.client(sw, "Zephyrine", clients.SMS, "en")
		loan := f.lend(co, client, date("2026-04-10"), nil)
		const note = "Bring the Quokkaline charger back too."
		n, err := f.svc.Notifications.SendNow(ctx, co, loan.ID, notifications.RemindInput{Note: note})
		if err != nil || n.Status != notifications.Sent || !strings.Contains(n.Body, "Zephyrine") || !strings.Contains(n.Body, note) {
			t.Fatalf("remind now: %+v, %v", n, err)
		}
		if got := sent.take(); len(got) != 1 || !strings.Contains(got[0].Body, "Zephyrine") {
			t.Fatalf("the channel was handed %+v", got)
		}
		if rows := f.rows(t, notifications.Filter{ID: n.ID}); len(rows) != 1 || rows[0].Body != n.Body {
			t.Fatalf("the list shows %+v, want the body sent", rows)
		}
		export, err := f.svc.ExportClient(ctx, sw, client)
		if err != nil || len(export.Notifications) != 1 || export.Notifications[0].Body != n.Body {
			t.Fatalf("the client's export: %+v, %v", export, err)
		}

		// A second reminder waits for the morning (quiet hours), its
		// note sealed from the start.
		f.clock.Set(local(4, 1, 23, 0))
		waiting, err := f.svc.Notifications.SendNow(ctx, co, loan.ID, notifications.RemindInput{Note: "Zorblaxian adapter"})
		if err != nil || waiting.Status != notifications.Pending {
			t.Fatalf("at 23:00: %+v, %v", waiting, err)
		}
		held := storedBytes(t, engine, db, rawURL)
		for _, v := range []string{"Zephyrine", "Quokkaline", "Zorblaxian"} {
			if bytes.Contains(held, []byte(v)) {
				t.Errorf("%q is in the database in plain text", v)
			}
		}
		// The check can fail: the staff's emails, kept plain, are found.
		if !bytes.Contains(held, []byte("@agency.test")) {
			t.Error("no staff email is in the database's bytes: the search reads nothing")
		}

		// The first reminder's sealed body and note, moved onto the second.
		if _, err := db.ExecContext(ctx, `UPDATE notifications SET body = (SELECT body FROM notifications WHERE id = ?),
				note = (SELECT note FROM notifications WHERE id = ?) WHERE id = ?`, n.ID, n.ID, waiting.ID); err != nil {
			t.Fatal(err)
		}
		if rows := f.rows(t, notifications.Filter{ID: waiting.ID}); len(rows) != 1 || rows[0].Body != notifications.UnreadableText {
			t.Fatalf("a moved body is listed as %+v", rows)
		}
		f.clock.Set(local(4, 2, 8, 0))
		if got := f.run(sent); len(got) != 0 {
			t.Fatalf("a reminder whose note does not open was sent: %v", got)
		}
		rows := f.rows(t, notifications.Filter{ID: waiting.ID})
		if len(rows) != 1 || rows[0].Status != notifications.Failed || !strings.Contains(rows[0].LastError, "does not open") {
			t.Fatalf("the reminder whose note does not open: %+v", rows)
		}
		if rows := f.rows(t, notifications.Filter{ID: n.ID}); len(rows) != 1 || rows[0].Body != n.Body {
			t.Fatalf("the first reminder now lists as %+v", rows)
		}
	})
}

// A loan's notes (issued, returned, reported lost) are sealed in the
// database: the service reads them back (the loan, lists, the client's
// export), and neither the SQLite file nor a pg_dump holds them. A note
// moved to another loan does not open there: a list shows it as
// unreadable, and reading that loan fails rather than showing it.
func TestLoanNotesAreSealed(t *testing.T) {
	onFreshDatabases(t, func(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string) {
		ctx := context.Background()
		f, _ := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		client := f.client(sw, "Rosa", clients.SMS, "en")
		issue := func(notes string) *inventory.Loan {
			l, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: client, DeviceID: f.laptop(co),
				DueOn: date("2026-04-30"), Notes: notes, WalkInJustification: "walked in at the front desk"})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		returned := issue("Quokkaline case given with it")
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, returned.ID, inventory.ReturnInput{Condition: "good", Notes: "Zorblaxian scratch on the lid"}); err != nil {
			t.Fatal(err)
		}
		lost := issue("")
		// Nothing sealed, and the key says so: NULL, not the column's
		// default (0: stored before notes were sealed, to seal), on both
		// databases; so is a reminder queued without a text.
		reminder := &notifications.Notification{Kind: notifications.Manual, DedupKey: "no-text", ClientID: &client, Channel: "sms",
			Language: "en", ScheduledAt: f.clock.Now()}
		if _, err := f.svc.Notifications.Outbox.Enqueue(ctx, db, reminder); err != nil {
			t.Fatal(err)
		}
		for _, row := range []struct {
			table string
			id    int64
		}{{"loans", lost.ID}, {"notifications", reminder.ID}} {
			var key *int64
			if err := db.NewRaw("SELECT sealed_key FROM ? WHERE id = ?", bun.Ident(row.table), row.id).Scan(ctx, &key); err != nil || key != nil {
				t.Fatalf("%s %d without a text has sealed_key %v (%v), want NULL", row.table, row.id, key, err)
			}
		}
		if _, err := f.svc.Inventory.MarkLost(ctx, co, lost.ID, inventory.LostInput{Notes: "left on the Xylophant bus"}); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Inventory.Loan(ctx, co, returned.ID)
		if err != nil || got.Notes != "Quokkaline case given with it" || got.ReturnNotes != "Zorblaxian scratch on the lid" {
			t.Fatalf("the returned loan reads %+v, %v", got, err)
		}
		list, _, err := f.svc.Inventory.ListLoans(ctx, co, inventory.LoanFilter{ClientID: client}, storage.Page{})
		if err != nil || len(list) != 2 || list[0].LostNotes != "left on the Xylophant bus" || list[1].ReturnNotes != "Zorblaxian scratch on the lid" {
			t.Fatalf("the client's loans list as %+v, %v", list, err)
		}
		export, err := f.svc.ExportClient(ctx, sw, client)
		if err != nil || len(export.Loans) != 2 || export.Loans[0].Notes != "Quokkaline case given with it" {
			t.Fatalf("the client's export: %+v, %v", export, err)
		}
		held := storedBytes(t, engine, db, rawURL)
		for _, v := range []string{"Quokkaline", "Zorblaxian", "Xylophant"} {
			if bytes.Contains(held, []byte(v)) {
				t.Errorf("%q is in the database in plain text", v)
			}
		}

		// The returned loan's sealed note, moved onto the lost one.
		if _, err := db.ExecContext(ctx, "UPDATE loans SET lost_notes = (SELECT return_notes FROM loans WHERE id = ?) WHERE id = ?",
			returned.ID, lost.ID); err != nil {
			t.Fatal(err)
		}
		list, _, err = f.svc.Inventory.ListLoans(ctx, co, inventory.LoanFilter{ClientID: client}, storage.Page{})
		if err != nil || len(list) != 2 || list[0].LostNotes != inventory.UnreadableNote || list[1].ReturnNotes != "Zorblaxian scratch on the lid" {
			t.Fatalf("after a note was moved, the loans list as %+v, %v", list, err)
		}
		if got, err := f.svc.Inventory.Loan(ctx, co, lost.ID); err == nil {
			t.Fatalf("the loan with a moved note reads as %+v", got)
		}

		// A note stored before notes were sealed (migration 0030 marks
		// its key unrecorded) is sealed at the next start, once; the
		// moved note beside it, which does not open, is left as it is
		// and named, and the pass goes on.
		if _, err := db.ExecContext(ctx, "UPDATE loans SET notes = 'written before sealing', sealed_key = 0 WHERE id = ?", lost.ID); err != nil {
			t.Fatal(err)
		}
		n, err := f.svc.Inventory.SealStored(ctx)
		var unopened *keyring.UnopenedError
		if n != 1 || !errors.As(err, &unopened) || unopened.Table != "loans" || fmt.Sprint(unopened.IDs) != fmt.Sprintf("[%d]", lost.ID) {
			t.Fatalf("sealed %d stored loans, %v; want 1, and loan %d named", n, err, lost.ID)
		}
		if n, err := f.svc.Inventory.SealStored(ctx); err != nil || n != 0 {
			t.Fatalf("the second time, sealed %d stored loans, %v", n, err)
		}
		var stored string
		if err := db.NewRaw("SELECT notes FROM loans WHERE id = ?", lost.ID).Scan(ctx, &stored); err != nil || !keyring.IsSealed(stored) {
			t.Fatalf("the stored note: %q, %v", stored, err)
		}
		list, _, err = f.svc.Inventory.ListLoans(ctx, co, inventory.LoanFilter{ClientID: client}, storage.Page{})
		if err != nil || list[0].Notes != "written before sealing" || list[0].LostNotes != inventory.UnreadableNote {
			t.Fatalf("the loan sealed at start lists as %+v, %v", list, err)
		}
	})
}
