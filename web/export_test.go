package web_test

import (
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// An access request: the caseworker (or an admin) gets everything held
// about their client, once, as a file; the export is in the client's
// history; no one else gets it.
func TestAClientsExportHoldsEverythingAboutThem(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		swID, sw := e.user(accounts.SocialWorker)
		_, other := e.user(accounts.SocialWorker)
		id := e.referred(sw)
		someoneElse := e.referred(sw)
		loan := e.must(201, co, "POST", v1+"/loans", map[string]any{"client_id": id, "device_id": e.device(co, "phone"),
			"due_on": "2026-04-10", "walk_in_justification": walkIn}).ID(t)
		e.must(201, co, "POST", remindURL(loan), map[string]any{"note": "bring the charger"})
		e.must(201, co, "POST", v1+"/loans", map[string]any{"client_id": someoneElse, "device_id": e.device(co, "phone"),
			"due_on": "2026-04-10", "walk_in_justification": walkIn})

		// Seen in lists: the worker's client list, the coordinator's
		// request list. A list that did not show them is not theirs.
		e.must(200, sw, "GET", v1+"/clients?limit=500", nil)
		e.must(200, co, "GET", v1+"/requests?limit=500", nil)
		e.must(200, sw, "GET", v1+"/clients?q=nobody-at-all", nil)

		r := e.must(200, sw, "GET", path(v1+"/clients/%d/export", id), nil)
		if got := r.Header.Get("Content-Disposition"); got != path(`attachment; filename="client-%d.json"`, id) {
			t.Errorf("Content-Disposition %q", got)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		x := r.JSON(t)
		count := func(part string) int { items, _ := x[part].([]any); return len(items) }
		if x["client"].(map[string]any)["id"] != float64(id) || x["exported_by"] != float64(swID) {
			t.Errorf("client %v, exported_by %v", x["client"], x["exported_by"])
		}
		if count("loans") != 1 || count("requests") != 1 || count("notifications") != 1 || count("history") == 0 {
			t.Errorf("loans %d, requests %d, notifications %d, history %d; want 1, 1, 1 and some", count("loans"), count("requests"),
				count("notifications"), count("history"))
		}
		if l := x["loans"].([]any)[0].(map[string]any); l["id"] != float64(loan) {
			t.Errorf("the loan exported is %v, want %d (the other client's stays out)", l["id"], loan)
		}
		// The reminder's text is there, never its address.
		if n := x["notifications"].([]any)[0].(map[string]any); n["body"] == "" || n["address"] != nil {
			t.Errorf("notification %v", n)
		}
		if strings.Contains(string(r.Body), "+13125550100") && !strings.Contains(string(r.Body), `"phone":"+13125550100"`) {
			t.Error("the phone number appears outside the client's record")
		}
		listed := map[string]int{}
		for _, ev := range x["listed"].([]any) {
			ev := ev.(map[string]any)
			listed[ev["action"].(string)]++
			// The lists showed someoneElse too; the export names no one else.
			if ch := ev["changes"].(map[string]any); len(ch) != 0 {
				t.Errorf("a list read in the export carries its details (other clients' ids): %v", ch)
			}
		}
		if listed["client.listed"] != 1 || listed["request.listed"] != 1 || len(listed) != 2 {
			t.Errorf("the lists that showed the client: %v, want one client list and one request list", listed)
		}
		actions := map[string]bool{}
		for _, ev := range x["history"].([]any) {
			actions[ev.(map[string]any)["action"].(string)] = true
		}
		for _, a := range []string{"client.created", "request.filed", "loan.issued"} {
			if !actions[a] {
				t.Errorf("the history exported lacks %s: %v", a, actions)
			}
		}

		// The export is recorded, with what it gave.
		events := e.historyAt(sw, path(v1+"/clients/%d/history", id))
		last := events[len(events)-1] // (the history read itself is recorded after it is read)
		if last["action"] != "client.exported" || last["actor_id"] != float64(swID) {
			t.Fatalf("the client's history ends with %v", last)
		}
		if ch := last["changes"].(map[string]any); ch["loans"] != float64(1) || ch["notifications"] != float64(1) {
			t.Errorf("client.exported records %v", ch)
		}

		// An admin may; the coordinator who sees the client may not; another
		// worker does not see them at all.
		e.must(200, admin, "GET", path(v1+"/clients/%d/export", id), nil)
		expectError(t, e.do(co, "GET", path(v1+"/clients/%d/export", id), nil), 403, "forbidden")
		expectError(t, e.do(other, "GET", path(v1+"/clients/%d/export", id), nil), 404, "not_found")
		expectError(t, e.do(sw, "GET", v1+"/clients/999999/export", nil), 404, "not_found")
	})
}
