package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// requestColumns are the columns of device_requests that are sealed.
const requestColumns = "decision, priority_reasons, reason, justification"

// sealedRequestRows fails t unless every value in the sealed columns of
// device_requests is sealed or empty, and returns how many rows there are.
func sealedRequestRows(t *testing.T, db *storage.DB) int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT id, "+requestColumns+" FROM device_requests")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		v := make([]string, 4)
		if err := rows.Scan(&id, &v[0], &v[1], &v[2], &v[3]); err != nil {
			t.Fatal(err)
		}
		for i, c := range strings.Split(requestColumns, ", ") {
			if v[i] != "" && !keyring.IsSealed(v[i]) {
				t.Errorf("request %d: %s is plain: %.60q", id, c, v[i])
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// sameRequest fails t unless got says what want says of the client: its
// decision, priority reasons, reason and justification.
func sameRequest(t *testing.T, how string, got, want *eligibility.DeviceRequest) {
	t.Helper()
	if !reflect.DeepEqual(got.Decision, want.Decision) || !reflect.DeepEqual(got.PriorityReasons, want.PriorityReasons) ||
		got.Reason != want.Reason || got.Justification != want.Justification {
		t.Errorf("request %d %s:\n %+v %q %q %q\nwant\n %+v %q %q %q", want.ID, how, got.Decision, got.PriorityReasons, got.Reason,
			got.Justification, want.Decision, want.PriorityReasons, want.Reason, want.Justification)
	}
}

// What a device request says of its client is sealed: the decision (which
// quotes the household's income), the priority reasons (the client's
// needs), the worker's reason and the coordinator's justification read
// back through every reader as they were filed, and neither the raw SQLite
// file (and its log) nor a pg_dump holds the reason, the justification, a
// priority reason or a decision's explanation in plain text.
func TestNoPlainRequestValueInTheDatabase(t *testing.T) {
	onFreshDatabases(t, func(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)

		const reason = "night classes at the Quokkaville annex"
		waiting, err := f.svc.Eligibility.FileRequest(ctx, worker, eligibility.RequestInput{ClientID: f.person(worker, cents(23_456), "fleeing_violence"),
			DeviceKind: "laptop", Urgency: "high", Reason: reason})
		if err != nil || waiting.Status != eligibility.Waitlisted {
			t.Fatalf("filing: %+v, %v", waiting, err)
		}
		denied, err := f.svc.Eligibility.FileRequest(ctx, worker, eligibility.RequestInput{ClientID: f.person(worker, cents(987_654)),
			DeviceKind: "laptop", Reason: "second reason text for Zanzibarre"})
		if err != nil || denied.Status != eligibility.Denied {
			t.Fatalf("filing over the income limit: %+v, %v", denied, err)
		}
		overridden, err := f.svc.Eligibility.Override(ctx, co, denied.ID, "the employer letter from Brindlewick shows the income fell")
		if err != nil {
			t.Fatal(err)
		}
		if overridden.Justification == "" || overridden.Reason != denied.Reason || !reflect.DeepEqual(overridden.Decision, denied.Decision) {
			t.Fatalf("overridden: %+v", overridden)
		}
		filed := []*eligibility.DeviceRequest{waiting, overridden}

		// Every reader opens them.
		for _, want := range filed {
			got, err := f.svc.Eligibility.DeviceRequest(ctx, co, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameRequest(t, "read", got, want)
		}
		list, _, err := f.svc.Eligibility.Requests(ctx, co, eligibility.RequestFilter{DeviceKind: "laptop"}, storage.Page{})
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %d, %v", len(list), err)
		}
		for i := range list {
			sameRequest(t, "listed", &list[i], filed[1-i]) // newest first
		}
		export, err := f.svc.ExportClient(ctx, worker, waiting.ClientID)
		if err != nil || len(export.Requests) != 1 {
			t.Fatalf("export: %+v, %v", export, err)
		}
		sameRequest(t, "exported", &export.Requests[0], waiting)
		line, _, err := f.svc.Eligibility.Waitlist(ctx, co, "laptop", storage.Page{})
		if err != nil || len(line) != 2 || !reflect.DeepEqual(line[0].PriorityReasons, waiting.PriorityReasons) ||
			!reflect.DeepEqual(line[1].PriorityReasons, overridden.PriorityReasons) {
			t.Fatalf("waitlist: %+v, %v", line, err)
		}

		if n := sealedRequestRows(t, db); n != 2 {
			t.Fatalf("%d requests stored, want 2", n)
		}
		held := storedBytes(t, engine, db, rawURL)
		values := []string{reason, denied.Reason, overridden.Justification}
		values = append(values, waiting.PriorityReasons[1:]...) // the urgency's is no secret
		income := false
		for _, r := range filed {
			for _, rule := range r.Decision.Rules {
				values = append(values, rule.Reason)
				income = income || strings.Contains(rule.Reason, "household income $23,456")
			}
		}
		if !income || !strings.Contains(strings.Join(waiting.PriorityReasons, ","), "fleeing violence") {
			t.Fatalf("the decision or priority does not quote the client: %+v %v", waiting.Decision, waiting.PriorityReasons)
		}
		for _, v := range values {
			if bytes.Contains(held, []byte(v)) {
				t.Errorf("%q is in the database in plain text", v)
			}
		}
		// The check can fail: a value kept plain is found.
		if !bytes.Contains(held, []byte("@agency.test")) {
			t.Errorf("a staff email (kept plain) is not found in the database's bytes: the search reads nothing")
		}

		// A sealed value copied onto another request does not open there.
		if _, err := db.ExecContext(ctx, "UPDATE device_requests SET reason = (SELECT reason FROM device_requests WHERE id = ?) WHERE id = ?",
			waiting.ID, overridden.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Eligibility.DeviceRequest(ctx, co, overridden.ID); !errors.Is(err, keyring.ErrCannotOpen) {
			t.Fatalf("reading a request given another's reason: %v, want %v", err, keyring.ErrCannotOpen)
		}
	})
}

// Requests stored before their values were sealed are sealed once at start
// (SealStored), and read as before; a request sealed already is left as it
// is; a second run, or two instances at once, seal nothing twice.
func TestStoredRequestsAreSealedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		if _, err := f.svc.Eligibility.CurrentRuleSet(ctx); err != nil { // version 1
			t.Fatal(err)
		}
		client := f.person(worker, cents(20_000))
		sealedAlready, err := f.svc.Eligibility.FileRequest(ctx, worker, eligibility.RequestInput{ClientID: client, DeviceKind: "tablet", Reason: "new"})
		if err != nil {
			t.Fatal(err)
		}
		raw := func(id int64) string {
			t.Helper()
			var d, p, r, j string
			if err := db.NewRaw("SELECT "+requestColumns+" FROM device_requests WHERE id = ?", id).Scan(ctx, &d, &p, &r, &j); err != nil {
				t.Fatal(err)
			}
			return d + p + r + j
		}
		before := raw(sealedAlready.ID)

		const n = 620 // more than one batch
		explain := func(i int) string {
			return fmt.Sprintf("household income $99,999.00 is above 150%% of the guideline (row %d)", i)
		}
		decision := `{"outcome":"ineligible","rule_set_version":1,"decided_on":"2025-03-04","rules":[{"rule":"income","passed":false,"reason":%q}]}`
		for i := range n {
			justification := ""
			if i%2 == 0 {
				justification = fmt.Sprintf("old justification %d", i)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO device_requests (client_id, device_kind, urgency, status, outcome, rule_set_version,
					`+requestColumns+`, priority, created_by, created_at, updated_at)
				VALUES (?, 'laptop', 'high', 'denied', 'ineligible', 1, ?, '["high urgency: +30","job search: +20"]', ?, ?, 50, ?, ?, ?)`,
				client, fmt.Sprintf(decision, explain(i)), fmt.Sprintf("old reason %d", i), justification, worker.ID, f.clock.Now(), f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		counts := make(chan int, 2)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := f.svc.Eligibility.SealStored(ctx)
				if err != nil {
					t.Error(err)
				}
				counts <- k
			}()
		}
		wg.Wait()
		close(counts)
		total := 0
		for k := range counts {
			total += k
		}
		if total != n {
			t.Fatalf("sealed %d rows in all, want %d", total, n)
		}
		if again, err := f.svc.Eligibility.SealStored(ctx); err != nil || again != 0 {
			t.Fatalf("a second run sealed %d (%v), want 0", again, err)
		}
		if rows := sealedRequestRows(t, db); rows != n+1 {
			t.Fatalf("%d rows, want %d", rows, n+1)
		}
		if after := raw(sealedAlready.ID); after != before {
			t.Fatalf("a request sealed already was sealed again")
		}

		list, total2, err := f.svc.Eligibility.Requests(ctx, co, eligibility.RequestFilter{DeviceKind: "laptop"}, storage.Page{Limit: 1000})
		if err != nil || total2 != n {
			t.Fatalf("list: %d, %v", total2, err)
		}
		for _, r := range list {
			i := 0
			fmt.Sscanf(r.Reason, "old reason %d", &i)
			want := ""
			if i%2 == 0 {
				want = fmt.Sprintf("old justification %d", i)
			}
			if r.Reason != fmt.Sprintf("old reason %d", i) || r.Justification != want || r.Decision.Outcome != eligibility.Ineligible ||
				len(r.Decision.Rules) != 1 || r.Decision.Rules[0].Reason != explain(i) ||
				fmt.Sprint(r.PriorityReasons) != "[high urgency: +30 job search: +20]" {
				t.Fatalf("a sealed stored request reads %+v", r)
			}
		}
		got, err := f.svc.Eligibility.DeviceRequest(ctx, co, sealedAlready.ID)
		if err != nil || got.Reason != "new" {
			t.Fatalf("the request sealed already: %+v, %v", got, err)
		}
	})
}
