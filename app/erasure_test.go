package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/retention"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// lendWithNotes issues a device to client, with a note and a reminder about it,
// and returns the loan, still open.
func (f *fixture) lendWithNotes(by *accounts.Actor, client int64) *inventory.Loan {
	f.t.Helper()
	ctx := context.Background()
	kind := inventory.Kind("tablet")
	mk, model := "Acme", "T1"
	d, err := f.svc.Inventory.CreateDevice(ctx, by, inventory.DeviceInput{Kind: &kind, Make: &mk, Model: &model})
	if err != nil {
		f.t.Fatal(err)
	}
	loan, err := f.svc.Inventory.IssueLoan(ctx, by, inventory.IssueInput{ClientID: client, DeviceID: d.ID,
		DueOn: calendar.Of(f.clock.Now().AddDate(0, 1, 0)), Notes: "lives with her sister on Elm St",
		WalkInJustification: "walked in at the front desk"})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.Notifications.SendNow(ctx, by, loan.ID, notifications.RemindInput{Note: "call her sister"}); err != nil {
		f.t.Fatal(err)
	}
	return loan
}

func (f *fixture) giveBack(by *accounts.Actor, loan *inventory.Loan) {
	f.t.Helper()
	if _, err := f.svc.Inventory.ReturnLoan(context.Background(), by, loan.ID, inventory.ReturnInput{Condition: "good",
		Notes: "her sister brought it"}); err != nil {
		f.t.Fatal(err)
	}
}

// reportsNow are the funder report over the year and the device record
// export, as an admin gets them.
func (f *fixture) reportsNow(admin *accounts.Actor) (string, string) {
	f.t.Helper()
	ctx := context.Background()
	today := calendar.Of(f.clock.Now())
	p := reports.Params{From: today.AddDays(-400), To: today}
	r, err := f.svc.Reports.Utilization(ctx, admin, p)
	if err != nil {
		f.t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		f.t.Fatal(err)
	}
	var records bytes.Buffer
	if err := f.svc.Reports.Records(ctx, admin, p, &records); err != nil {
		f.t.Fatal(err)
	}
	return string(b), records.String()
}

// An admin erases a client on request, once nothing of theirs is open; the
// retention run anonymises clients idle for the policy's years and no one
// else. Either way the client is seen by no one, their personal data and
// the texts about them are gone, the audit keeps who erased them and why,
// and the funder report and the device records count the same as before.
func TestErasureRemovesTheClientAndKeepsTheFigures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		f.clock.Set(time.Date(2018, 3, 1, 15, 0, 0, 0, time.UTC))
		idle := f.createSealed(worker, sealedPeople[1])
		f.giveBack(admin, f.lendWithNotes(admin, idle.ID))

		f.clock.Set(time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC))
		asked, active := f.createSealed(worker, sealedPeople[0]), f.createSealed(worker, sealedPeople[2])
		askedLoan := f.lendWithNotes(admin, asked.ID)
		f.giveBack(admin, f.lendWithNotes(admin, active.ID))
		f.clock.Set(time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC))
		reportBefore, recordsBefore := f.reportsNow(admin)

		err := f.svc.Clients.Erase(ctx, admin, asked.ID, "the client asked on 2026-06-01")
		if !apperrIs(err, "conflict") {
			t.Fatalf("erasing a client with a device out: %v, want a conflict", err)
		}
		if err := f.svc.Clients.Erase(ctx, worker, asked.ID, "asked"); !apperrIs(err, "forbidden") {
			t.Fatalf("a social worker erasing: %v, want forbidden", err)
		}
		if err := f.svc.Clients.Erase(ctx, admin, asked.ID, "  "); !apperrIs(err, "invalid") {
			t.Fatalf("an erasure without a reason: %v, want invalid", err)
		}
		f.giveBack(admin, askedLoan)
		reportBefore, recordsBefore = f.reportsNow(admin)
		if err := f.svc.Clients.Erase(ctx, admin, asked.ID, "the client asked on 2026-06-01"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Clients.Erase(ctx, admin, asked.ID, "again"); !apperrIs(err, "not_found") {
			t.Fatalf("erasing twice: %v, want not found", err)
		}

		// The nightly run: the client idle since 2018 goes, the one active
		// this year stays; a dry run counts first and changes nothing.
		policy := retention.DefaultPolicy
		cats, err := retention.Run(ctx, db, f.svc.Clients, f.clock.Now(), policy, true)
		if err != nil || counts(cats)["clients"] != 1 {
			t.Fatalf("a dry run: %v, %v; want 1 client", cats, err)
		}
		if _, err := f.svc.Clients.Get(ctx, worker, idle.ID); err != nil {
			t.Fatalf("a dry run erased: %v", err)
		}
		if cats, err := retention.Run(ctx, db, f.svc.Clients, f.clock.Now(), policy, false); err != nil || counts(cats)["clients"] != 1 {
			t.Fatalf("the run: %v, %v; want 1 client", cats, err)
		}

		for _, id := range []int64{asked.ID, idle.ID} {
			if _, err := f.svc.Clients.Get(ctx, admin, id); !apperrIs(err, "not_found") {
				t.Errorf("client %d read after erasure: %v, want not found", id, err)
			}
			var row struct {
				Personal             string     `bun:"personal"`
				CaseIndex, PhoneIdx  *string    `bun:"case_number_index"`
				AnonymisedAt         *time.Time `bun:"anonymised_at"`
				BirthYear            *int       `bun:"birth_year"`
				PostalPrefix         string     `bun:"postal_prefix"`
				Household            int        `bun:"household_size"`
				Searches, Notes, Txt int
			}
			if err := db.NewRaw(`SELECT personal, case_number_index, anonymised_at, birth_year, postal_prefix, household_size,
					(CASE WHEN search_case IS NULL AND search_first IS NULL AND search_last IS NULL THEN 0 ELSE 1 END),
					(SELECT COUNT(*) FROM loans WHERE client_id = c.id AND (notes <> '' OR return_notes <> '')),
					(SELECT COUNT(*) FROM notifications WHERE client_id = c.id AND (body <> '' OR note <> '' OR address <> ''))
				FROM clients c WHERE id = ?`, id).Scan(ctx, &row.Personal, &row.CaseIndex, &row.AnonymisedAt, &row.BirthYear,
				&row.PostalPrefix, &row.Household, &row.Searches, &row.Notes, &row.Txt); err != nil {
				t.Fatal(err)
			}
			if row.Personal != "" || row.CaseIndex != nil || row.AnonymisedAt == nil || row.Searches != 0 || row.Notes != 0 || row.Txt != 0 {
				t.Errorf("client %d after erasure: %+v", id, row)
			}
			if row.BirthYear == nil || *row.BirthYear != 1987 || row.PostalPrefix == "" || row.Household != 3 {
				t.Errorf("client %d lost what reports count: %+v", id, row)
			}
		}
		if got, err := f.svc.Clients.Get(ctx, worker, active.ID); err != nil || got.FirstName != sealedPeople[2].first {
			t.Fatalf("the active client: %+v, %v", got, err)
		}
		// The case number is free again: the erased client holds none.
		again, none, one := sealedPeople[0], clients.None, 1
		if _, err := f.svc.Clients.Create(ctx, worker, clients.Input{CaseNumber: &again.caseNumber, FirstName: &again.first,
			LastName: &again.last, PreferredChannel: &none, HouseholdSize: &one}); err != nil {
			t.Fatalf("a new client with the erased client's case number: %v", err)
		}

		var reason string
		if err := db.NewRaw(`SELECT changes FROM audit_events WHERE action = 'client.erased' AND subject_id = ? AND actor_id = ?`,
			asked.ID, admin.ID).Scan(ctx, &reason); err != nil || !bytes.Contains([]byte(reason), []byte("the client asked on 2026-06-01")) {
			t.Errorf("the erasure's audit event: %q, %v", reason, err)
		}

		reportAfter, recordsAfter := f.reportsNow(admin)
		if reportAfter != reportBefore {
			t.Errorf("the funder report changed with the erasure:\nbefore %s\nafter  %s", reportBefore, reportAfter)
		}
		if n, m := bytes.Count([]byte(recordsBefore), []byte("\n")), bytes.Count([]byte(recordsAfter), []byte("\n")); n != m || n < 4 {
			t.Errorf("the device records had %d lines, now %d", n, m)
		}
		if !bytes.Contains([]byte(recordsBefore), []byte(sealedPeople[0].caseNumber)) || bytes.Contains([]byte(recordsAfter), []byte(sealedPeople[0].caseNumber)) {
			t.Errorf("the device records should show the case number before the erasure and not after:\nbefore %s\nafter  %s", recordsBefore, recordsAfter)
		}
	})
}

func counts(cats []retention.Category) map[string]int64 {
	out := map[string]int64{}
	for _, c := range cats {
		out[c.Name] = c.Count
	}
	return out
}
