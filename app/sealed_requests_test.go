package app_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
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
// file (and its log) nor a pg_dump holds the reason, a priority reason or
// a decision's explanation in plain text.
func TestNoPlainRequestValueInTheDatabase(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			rawURL := dbtest.FreshURL(t, engine)
			db := dbtest.OpenURL(t, rawURL)
			if _, err := migrations.Apply(context.Background(), db); err != nil {
				t.Fatal(err)
			}
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
			var held []byte
			if engine == storage.SQLite {
				held = sqliteBytes(t, db, rawURL)
			} else {
				held = pgDump(t, rawURL)
			}
			values := []string{reason, denied.Reason}
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
			// The check can fail: a value kept plain is found (the
			// justification is quoted by the request's audit event).
			if !bytes.Contains(held, []byte(overridden.Justification)) {
				t.Errorf("the justification, which the audit trail quotes, is not found in the database's bytes: the search reads nothing")
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
}
