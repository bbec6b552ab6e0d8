package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Lists, their filters and pages; edits and what the history keeps of them.

// itemIDs returns the ids of a list's items, in the list's order.
func itemIDs(t testing.TB, r *response) []int64 {
	t.Helper()
	items, ok := r.JSON(t)["items"].([]any)
	if !ok {
		t.Fatalf("not a list: %s", r.Body)
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = int64(it.(map[string]any)["id"].(float64))
	}
	return ids
}

// expectIDs fails unless the list at p holds exactly want (in any order)
// and says so in its total.
func (e *env) expectIDs(token, p string, want ...int64) {
	e.t.Helper()
	r := e.must(200, token, "GET", p, nil)
	got := itemIDs(e.t, r)
	sorted := append([]int64(nil), got...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	want = append([]int64(nil), want...)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if fmt.Sprint(sorted) != fmt.Sprint(want) {
		e.t.Errorf("GET %s: ids %v, want %v", p, sorted, want)
	}
	if total := int(r.JSON(e.t)["total"].(float64)); total != len(want) {
		e.t.Errorf("GET %s: total %d, want %d", p, total, len(want))
	}
}

// q is a URL-encoded query value.
func q(s string) string { return url.QueryEscape(s) }

// expectPages walks the list at p (which has a query string) in pages of
// size and checks that the pages are disjoint, in order, and together are
// the whole list, with the right total on each.
func (e *env) expectPages(token, p string, size int) {
	e.t.Helper()
	full := itemIDs(e.t, e.must(200, token, "GET", p+"&limit=500", nil))
	var walked []int64
	seen := map[int64]bool{}
	for offset := 0; offset <= len(full)+size; offset += size {
		r := e.must(200, token, "GET", fmt.Sprintf("%s&limit=%d&offset=%d", p, size, offset), nil)
		m := r.JSON(e.t)
		if int(m["total"].(float64)) != len(full) || int(m["limit"].(float64)) != size || int(m["offset"].(float64)) != offset {
			e.t.Fatalf("GET %s page at %d: total %v limit %v offset %v, want %d %d %d",
				p, offset, m["total"], m["limit"], m["offset"], len(full), size, offset)
		}
		ids := itemIDs(e.t, r)
		want := min(size, max(0, len(full)-offset))
		if len(ids) != want {
			e.t.Fatalf("GET %s page at %d: %d items, want %d", p, offset, len(ids), want)
		}
		for _, id := range ids {
			if seen[id] {
				e.t.Fatalf("GET %s: id %d on two pages", p, id)
			}
			seen[id] = true
		}
		walked = append(walked, ids...)
	}
	if fmt.Sprint(walked) != fmt.Sprint(full) {
		e.t.Fatalf("GET %s in pages of %d: %v, want %v", p, size, walked, full)
	}
}

func TestDeviceFiltersAndSearch(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		mk := func(kind, make, model, serial, tag string) int64 {
			t.Helper()
			body := map[string]any{"kind": kind, "make": make, "model": model, "serial": serial}
			if tag != "" {
				body["asset_tag"] = tag
			}
			return e.must(201, co, "POST", "/api/v1/devices", body).ID(t)
		}
		iphone := mk("phone", "Apple", "iPhone SE", "SN-ALPHA-1", "TAG-100%")
		tab := mk("tablet", "Samsung", "Galaxy Tab", "SN_BETA_2", "TAG-200")
		pad := mk("laptop", "Lenovo", "ThinkPad 100", "XYZ", "TAG-300")
		pixel := mk("phone", "Google", "Pixel_7", "SNAB", "TAG-400")
		hot := mk("hotspot", "Franklin", `Mk\II`, "hs-5", "")
		all := []int64{iphone, tab, pad, pixel, hot}

		// Put one on loan and one through a loan into inspection.
		client := e.referred(sw)
		e.loan(co, client, iphone)
		back := e.loan(co, client, pad)
		e.must(200, co, "POST", path("/api/v1/loans/%d/return", back), map[string]any{"condition": "good"})

		e.expectIDs(co, "/api/v1/devices", all...)
		e.expectIDs(co, "/api/v1/devices?status=available", tab, pixel, hot)
		e.expectIDs(co, "/api/v1/devices?status=on_loan", iphone)
		e.expectIDs(co, "/api/v1/devices?status=inspection", pad)
		e.expectIDs(co, "/api/v1/devices?status=retired")
		e.expectIDs(co, "/api/v1/devices?kind=phone", iphone, pixel)
		e.expectIDs(co, "/api/v1/devices?kind=hotspot", hot)
		e.expectIDs(co, "/api/v1/devices?status=available&kind=phone", pixel)
		e.expectIDs(sw, "/api/v1/devices?status=available&kind=phone", pixel)

		for _, c := range []struct {
			q    string
			want []int64
		}{
			{"apple", []int64{iphone}},  // make
			{"SAMSUNG", []int64{tab}},   // make, any case
			{"iphone", []int64{iphone}}, // model
			{"pAD 1", []int64{pad}},     // model, inside
			{"tag-2", []int64{tab}},     // asset tag
			{"tag-", []int64{iphone, tab, pad, pixel}},
			{"sn-alpha", []int64{iphone}}, // serial
			{"xyz", []int64{pad}},         // serial
			{"HS-5", []int64{hot}},        // serial, any case
			{"%", []int64{iphone}},        // a literal percent sign
			{"100%", []int64{iphone}},     // not "100 then anything"
			{"_", []int64{tab, pixel}},    // a literal underscore
			{"sn_b", []int64{tab}},        // not "sn, any one character, b"
			{"l_7", []int64{pixel}},       // model with an underscore
			{`\`, []int64{hot}},           // a literal backslash
			{`k\i`, []int64{hot}},         // and inside text
			{"nothing like it", nil},      // no match
			{"O'Brien", nil},              // a quote is just a character
			{"  tag-200  ", []int64{tab}}, // spaces around are ignored
		} {
			e.expectIDs(co, "/api/v1/devices?q="+q(c.q), c.want...)
		}
		e.expectIDs(co, "/api/v1/devices?q=tag&status=available", tab, pixel)
		e.expectIDs(co, "/api/v1/devices?q=tag&kind=phone&status=on_loan", iphone)

		// Bad filter values are refused, each by name, all at once.
		for _, p := range []string{"status=broken", "status=open", "status=on%20loan"} {
			expectError(t, e.do(co, "GET", "/api/v1/devices?"+p, nil), 422, "invalid", "status")
		}
		for _, p := range []string{"kind=toaster", "kind=phones"} {
			expectError(t, e.do(co, "GET", "/api/v1/devices?"+p, nil), 422, "invalid", "kind")
		}
		r := e.do(co, "GET", "/api/v1/devices?status=broken&kind=toaster&limit=0&offset=-1", nil)
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "status", "kind", "limit", "offset")
	})
}

func TestPagination(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		var devices, clients []int64
		for i := 0; i < 13; i++ {
			devices = append(devices, e.device(co, []string{"phone", "tablet", "laptop"}[i%3]))
			clients = append(clients, e.referred(sw))
		}
		for i := 0; i < 7; i++ {
			e.loan(co, clients[i], devices[i])
		}
		for i := 0; i < 6; i++ {
			e.must(201, co, "POST", "/api/v1/data-plans", map[string]any{
				"carrier": "Mint", "line_number": fmt.Sprintf("+1 312 555 01%02d", i), "starts_on": "2026-01-01"})
		}
		for _, size := range []int{1, 4, 5, 13, 50} {
			e.expectPages(co, "/api/v1/devices?", size)
			e.expectPages(co, "/api/v1/devices?kind=phone", size)
			e.expectPages(sw, "/api/v1/clients?", size)
			e.expectPages(admin, "/api/v1/clients?q=ana", size)
			e.expectPages(co, "/api/v1/loans?", size)
			e.expectPages(co, "/api/v1/loans?status=open", size)
			e.expectPages(co, "/api/v1/data-plans?", size)
			e.expectPages(admin, "/api/v1/users?", size)
			e.expectPages(co, path("/api/v1/devices/%d/history?", devices[0]), size)
		}
		// Without limit and offset: the first 50.
		m := e.must(200, co, "GET", "/api/v1/devices", nil).JSON(t)
		if m["limit"].(float64) != 50 || m["offset"].(float64) != 0 || m["total"].(float64) != 13 {
			t.Fatalf("default page: limit %v offset %v total %v", m["limit"], m["offset"], m["total"])
		}
		// Far past the end: no items, the right total.
		m = e.must(200, co, "GET", "/api/v1/devices?offset=1000", nil).JSON(t)
		if len(m["items"].([]any)) != 0 || m["total"].(float64) != 13 {
			t.Fatalf("past the end: %v", m)
		}
		e.must(200, co, "GET", "/api/v1/devices?limit=500", nil)
		e.must(200, co, "GET", "/api/v1/devices?limit=1&offset=0", nil)

		// Bad limits and offsets are refused, by name, on every list.
		lists := []struct{ token, path string }{
			{co, "/api/v1/devices"},
			{sw, "/api/v1/clients"},
			{co, "/api/v1/loans"},
			{co, "/api/v1/data-plans"},
			{admin, "/api/v1/users"},
			{co, path("/api/v1/devices/%d/history", devices[0])},
			{sw, path("/api/v1/clients/%d/history", clients[0])},
		}
		for _, l := range lists {
			for _, bad := range []string{"0", "501", "x", "-1", "1.5", "1e2", " 5"} {
				r := e.do(l.token, "GET", l.path+"?limit="+q(bad), nil)
				expectError(t, r, 422, "invalid", "limit")
			}
			for _, bad := range []string{"-1", "x", "2.5"} {
				r := e.do(l.token, "GET", l.path+"?offset="+q(bad), nil)
				expectError(t, r, 422, "invalid", "offset")
			}
			r := e.do(l.token, "GET", l.path+"?limit=0&offset=-1", nil)
			expectError(t, r, 422, "invalid")
			expectFieldsExactly(t, r, "limit", "offset")
		}
	})
}

func TestLoanFilters(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		ana, ben, cy := e.referred(sw), e.referred(sw), e.referred(sw)
		d1, d2, d3, d4 := e.device(co, "phone"), e.device(co, "tablet"), e.device(co, "laptop"), e.device(co, "hotspot")
		never := e.device(co, "phone")
		issue := func(client, device int64, due string) int64 {
			t.Helper()
			return e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": device, "due_on": due, "walk_in_justification": walkIn}).ID(t)
		}
		open := issue(ana, d1, "2026-04-10")
		soon := issue(ana, d2, "2026-03-20")
		returned := issue(ben, d3, "2026-03-12")
		lost := issue(ben, d4, "2026-03-15")
		e.must(200, co, "POST", path("/api/v1/loans/%d/return", returned), map[string]any{"condition": "good"})
		e.must(200, co, "POST", path("/api/v1/loans/%d/lost", lost), map[string]any{"notes": "stolen"})
		// The device comes back and goes out again, to another client.
		e.must(200, co, "POST", path("/api/v1/devices/%d/inspection", d3), map[string]any{"wiped": true, "outcome": "ready"})
		again := issue(cy, d3, "2026-05-01")

		e.expectIDs(co, "/api/v1/loans", open, soon, returned, lost, again)
		e.expectIDs(co, path("/api/v1/loans?client_id=%d", ana), open, soon)
		e.expectIDs(co, path("/api/v1/loans?client_id=%d", ben), returned, lost)
		e.expectIDs(co, path("/api/v1/loans?client_id=%d", 999999))
		e.expectIDs(co, path("/api/v1/loans?device_id=%d", d3), returned, again)
		e.expectIDs(co, path("/api/v1/loans?device_id=%d", never))
		e.expectIDs(co, path("/api/v1/loans?client_id=%d&device_id=%d", ben, d3), returned)
		e.expectIDs(co, path("/api/v1/loans?client_id=%d&device_id=%d", cy, d1))
		e.expectIDs(co, "/api/v1/loans?status=open", open, soon, again)
		e.expectIDs(co, "/api/v1/loans?status=returned", returned)
		e.expectIDs(co, "/api/v1/loans?status=lost", lost)
		e.expectIDs(co, "/api/v1/loans?status=overdue")
		e.expectIDs(co, path("/api/v1/loans?status=open&client_id=%d", ana), open, soon)
		e.expectIDs(co, path("/api/v1/loans?status=returned&device_id=%d", d3), returned)
		// A social worker gets the same filters over their own clients' loans.
		e.expectIDs(sw, path("/api/v1/loans?status=open&client_id=%d", ana), open, soon)

		overdueFlags := func(p string) map[int64]bool {
			t.Helper()
			items := e.must(200, co, "GET", p, nil).JSON(t)["items"].([]any)
			out := map[int64]bool{}
			for _, it := range items {
				m := it.(map[string]any)
				out[int64(m["id"].(float64))] = m["overdue"].(bool)
			}
			return out
		}

		// On its due date a loan is not yet overdue.
		e.clock.Set(time.Date(2026, 3, 20, 23, 59, 0, 0, time.UTC))
		e.expectIDs(co, "/api/v1/loans?status=overdue")
		// The day after, it is; loans that are closed never are.
		e.clock.Set(time.Date(2026, 3, 21, 0, 1, 0, 0, time.UTC))
		e.expectIDs(co, "/api/v1/loans?status=overdue", soon)
		e.expectIDs(co, "/api/v1/loans?status=open", open, soon, again)
		e.expectIDs(co, path("/api/v1/loans?status=overdue&client_id=%d", ben))
		e.expectIDs(co, path("/api/v1/loans?status=overdue&device_id=%d", d2), soon)
		if f := overdueFlags("/api/v1/loans"); !f[soon] || f[open] || f[again] || f[returned] || f[lost] {
			t.Errorf("overdue flags %v, want only loan %d", f, soon)
		}
		// Later still, more are overdue.
		e.clock.Set(time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC))
		e.expectIDs(co, "/api/v1/loans?status=overdue", open, soon)
		e.expectIDs(sw, "/api/v1/loans?status=overdue", open, soon)
		// Returned, it is no longer overdue.
		e.must(200, co, "POST", path("/api/v1/loans/%d/return", soon), map[string]any{"condition": "fair"})
		e.expectIDs(co, "/api/v1/loans?status=overdue", open)
		e.expectIDs(co, "/api/v1/loans?status=returned", returned, soon)
		e.clock.Set(testNow)

		// Bad filters are refused by name.
		for _, p := range []string{"status=late", "status=on_loan", "status=closed"} {
			expectError(t, e.do(co, "GET", "/api/v1/loans?"+p, nil), 422, "invalid", "status")
		}
		for _, v := range []string{"x", "0", "-2", "1.5"} {
			expectError(t, e.do(co, "GET", "/api/v1/loans?client_id="+v, nil), 422, "invalid", "client_id")
			expectError(t, e.do(co, "GET", "/api/v1/loans?device_id="+v, nil), 422, "invalid", "device_id")
		}
		r := e.do(co, "GET", "/api/v1/loans?client_id=x&device_id=0&limit=0", nil)
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "client_id", "device_id", "limit")
		// Every bad parameter is named at once, the status among them.
		r = e.do(co, "GET", "/api/v1/loans?status=late&client_id=x&limit=0", nil)
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "status", "client_id", "limit")
	})
}

func TestDataPlanFreeFilter(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		n := 0
		plan := func(starts string, ends any) int64 {
			t.Helper()
			n++
			body := map[string]any{"carrier": "Mint", "line_number": fmt.Sprintf("+1 312 555 02%02d", n), "starts_on": starts}
			if ends != nil {
				body["ends_on"] = ends
			}
			return e.must(201, co, "POST", "/api/v1/data-plans", body).ID(t)
		}
		free := plan("2026-01-01", nil)
		lent := plan("2026-01-01", "2026-12-31")
		future := plan("2026-06-01", nil)
		ended := plan("2025-01-01", "2026-01-31")
		back := plan("2026-01-01", nil)
		endsToday := plan("2025-06-01", "2026-03-10")
		startsToday := plan("2026-03-10", "2026-09-30")

		client := e.referred(sw)
		e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": e.device(co, "phone"),
			"data_plan_id": lent, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		l := e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": e.device(co, "hotspot"),
			"data_plan_id": back, "due_on": "2026-04-10", "walk_in_justification": walkIn}).ID(t)
		e.must(200, co, "POST", path("/api/v1/loans/%d/return", l), map[string]any{"condition": "good"})

		e.expectIDs(co, "/api/v1/data-plans", free, lent, future, ended, back, endsToday, startsToday)
		e.expectIDs(co, "/api/v1/data-plans?free=true", free, back, endsToday, startsToday)
		e.expectIDs(co, "/api/v1/data-plans?free=false", lent, future, ended)
		e.expectIDs(co, "/api/v1/data-plans?free=true&q=0201", free)
		e.expectIDs(co, "/api/v1/data-plans?free=false&q=0201")

		// "Today" follows the clock.
		e.clock.Set(time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC))
		e.expectIDs(co, "/api/v1/data-plans?free=true", free, future, back, startsToday)
		e.expectIDs(co, "/api/v1/data-plans?free=false", lent, ended, endsToday)
		e.clock.Set(testNow)

		for _, v := range []string{"maybe", "yes", "2"} {
			expectError(t, e.do(co, "GET", "/api/v1/data-plans?free="+v, nil), 422, "invalid", "free")
		}
		r := e.do(co, "GET", "/api/v1/data-plans?free=maybe&limit=501", nil)
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "free", "limit")
	})
}

func TestClientSearch(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		_, other := e.user(accounts.SocialWorker)
		mk := func(token, caseNumber, first, last string) int64 {
			t.Helper()
			return e.must(201, token, "POST", "/api/v1/clients",
				clientBody(caseNumber, map[string]any{"first_name": first, "last_name": last})).ID(t)
		}
		maria := mk(sw, "CASE-1001", "Maria", "Lopez")
		mario := mk(sw, "CASE-1002", "Mario", "Rossi")
		ana := mk(sw, "XC-77", "Ana", "Marquez")
		bob := mk(sw, "CASE_3", "Bob", "Smith")
		zed := mk(sw, "C%4", "Zed", "Zulu")
		lucia := mk(sw, "case-2001", "Lucia", "Mari")
		notMine := mk(other, "CASE-1003", "Maria", "Other")

		e.expectIDs(sw, "/api/v1/clients", maria, mario, ana, bob, zed, lucia)
		for _, c := range []struct {
			q    string
			want []int64
		}{
			{"maria", []int64{maria}},                  // first name
			{"MARI", []int64{maria, mario, lucia}},     // first or last name, any case
			{"mar", []int64{maria, mario, ana, lucia}}, // Marquez too
			{"lopez", []int64{maria}},                  // last name
			{"opez", nil},                              // the start of a name only
			{"case-", []int64{maria, mario, lucia}},    // case number, any case
			{"case-100", []int64{maria, mario}},
			{"CASE-1001", []int64{maria}},
			{"xc-7", []int64{ana}},
			{"case_", []int64{bob}},       // a literal underscore
			{"c%", []int64{zed}},          // a literal percent sign
			{"%", nil},                    // matches nothing, not everything
			{"_", nil},                    // likewise
			{`\`, nil},                    // a backslash is just a character
			{"  maria  ", []int64{maria}}, // spaces around are ignored
			{"O'Neil", nil},               // a quote is just a character
			{"nobody", nil},
		} {
			e.expectIDs(sw, "/api/v1/clients?q="+q(c.q), c.want...)
		}
		// Each worker searches their own caseload only.
		e.expectIDs(other, "/api/v1/clients?q=maria", notMine)
	})
}

// oneEvent returns the single event with action in events, failing unless
// there is exactly one.
func oneEvent(t testing.TB, events []map[string]any, action string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, ev := range events {
		if ev["action"] == action {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events, want 1: %v", len(found), action, actionsOf(events))
	}
	return found[0]
}

// expectChanges fails unless the event's changes are exactly want, each
// field as {"from": ..., "to": ...}.
func expectChanges(t testing.TB, ev map[string]any, want map[string][2]any) {
	t.Helper()
	changes, ok := ev["changes"].(map[string]any)
	if !ok {
		t.Fatalf("event without changes: %v", ev)
	}
	wantJSON := map[string]any{}
	for k, v := range want {
		wantJSON[k] = map[string]any{"from": v[0], "to": v[1]}
	}
	a, _ := json.Marshal(changes)
	b, _ := json.Marshal(wantJSON)
	if string(a) != string(b) {
		t.Fatalf("changes %s, want %s", a, b)
	}
}

// expectFields fails unless the event about a client names exactly the
// fields given as changed, and holds none of the values in secret: a
// client's details stay out of the audit trail (docs/privacy.md).
func expectFields(t testing.TB, ev map[string]any, fields []string, secret ...string) {
	t.Helper()
	changes, _ := json.Marshal(ev["changes"])
	want, _ := json.Marshal(fields)
	var got struct {
		Fields json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(changes, &got); err != nil || string(got.Fields) != string(want) {
		t.Fatalf("changes %s, want fields %s", changes, want)
	}
	for _, v := range secret {
		if strings.Contains(string(changes), v) {
			t.Errorf("the audit event holds %q: %s", v, changes)
		}
	}
}

// sameExcept fails unless before and after agree on every key but those given.
func sameExcept(t testing.TB, before, after map[string]any, changed ...string) {
	t.Helper()
	skip := map[string]bool{}
	for _, k := range changed {
		skip[k] = true
	}
	for k, v := range before {
		if skip[k] {
			continue
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(after[k])
		if string(a) != string(b) {
			t.Errorf("%s changed from %s to %s, but was not sent", k, a, b)
		}
	}
}

func TestPatchClient(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		swID, sw := e.user(accounts.SocialWorker)
		id := e.must(201, sw, "POST", "/api/v1/clients", map[string]any{
			"case_number": "PATCH-1", "first_name": "Rosa", "last_name": "Diaz", "phone": "(312) 555-0101",
			"email": "rosa@example.org", "preferred_language": "es", "preferred_channel": "sms",
			"household_size": 3, "postal_code": "60601"}).ID(t)
		hist := path("/api/v1/clients/%d/history", id)
		before := e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil).JSON(t)

		e.clock.Set(testNow.Add(time.Hour))
		after := e.must(200, sw, "PATCH", path("/api/v1/clients/%d", id), map[string]any{
			"phone": "+1 312 555 0102", "household_size": 4}).JSON(t)
		if after["phone"] != "+13125550102" || after["household_size"].(float64) != 4 {
			t.Fatalf("patched client: %v", after)
		}
		sameExcept(t, before, after, "phone", "household_size", "updated_at")
		if after["updated_at"] == before["updated_at"] {
			t.Errorf("updated_at did not move")
		}
		ev := oneEvent(t, e.historyAt(sw, hist), "client.updated")
		expectFields(t, ev, []string{"household_size", "phone"}, "3125550101", "3125550102")
		if ev["actor_id"].(float64) != float64(swID) || ev["subject_type"] != "client" || ev["subject_id"].(float64) != float64(id) {
			t.Errorf("client.updated event: %v", ev)
		}
		// What is stored is what was answered.
		sameExcept(t, after, e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil).JSON(t))

		// Sending the values it already has (the number written another
		// way) changes nothing and records nothing.
		e.must(200, sw, "PATCH", path("/api/v1/clients/%d", id), map[string]any{"phone": "312.555.0102", "first_name": "Rosa"})
		oneEvent(t, e.historyAt(sw, hist), "client.updated")

		// Emptying an optional field is a change like any other.
		e.must(200, sw, "PATCH", path("/api/v1/clients/%d", id), map[string]any{"postal_code": "", "first_name": "  Rosalia "})
		events := e.historyAt(sw, hist)
		if n := countAction(events, "client.updated"); n != 2 {
			t.Fatalf("%d client.updated events, want 2: %v", n, actionsOf(events))
		}
		expectFields(t, events[len(events)-1], []string{"first_name", "postal_code"}, "60601", "Rosa")
	})
}

func TestPatchDevice(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		coID, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, admin := e.user(accounts.Admin)
		grantA, grantB := e.fundingSource(admin, "Grant A"), e.fundingSource(admin, "Grant B")
		id := e.must(201, co, "POST", "/api/v1/devices", map[string]any{
			"kind": "tablet", "make": "Samsung", "model": "Tab A", "serial": "SER-9", "funding_source": "Grant A",
			"purchase_cost_cents": 25000, "accessories": []any{map[string]any{"name": "Charger", "replacement_cost_cents": 1500}}}).ID(t)
		hist := path("/api/v1/devices/%d/history", id)
		before := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)

		e.clock.Set(testNow.Add(time.Hour))
		after := e.must(200, co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{"notes": "cracked screen", "condition": "fair"}).JSON(t)
		if after["notes"] != "cracked screen" || after["condition"] != "fair" {
			t.Fatalf("patched device: %v", after)
		}
		sameExcept(t, before, after, "notes", "condition", "updated_at")
		ev := oneEvent(t, e.historyAt(co, hist), "device.updated")
		expectChanges(t, ev, map[string][2]any{"notes": {"", "cracked screen"}, "condition": {"good", "fair"}})
		if ev["actor_id"].(float64) != float64(coID) || ev["subject_type"] != "device" {
			t.Errorf("device.updated event: %v", ev)
		}
		sameExcept(t, after, e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t))

		// The same values again: nothing to record.
		e.must(200, co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{"notes": "cracked screen", "make": "Samsung"})
		oneEvent(t, e.historyAt(co, hist), "device.updated")

		// Accessories, when sent, replace the list.
		acc := e.must(200, co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{"accessories": []any{}}).JSON(t)
		if a := acc["accessories"].([]any); len(a) != 0 {
			t.Fatalf("accessories %v, want none", a)
		}
		sameExcept(t, after, acc, "accessories", "updated_at")
		events := e.historyAt(co, hist)
		expectChanges(t, events[len(events)-1], map[string][2]any{
			"accessories": {[]any{map[string]any{"name": "Charger", "replacement_cost_cents": 1500}}, []any{}}})
		// (Read back, no accessories may come as null: see the Device schema.)
		if got, _ := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)["accessories"].([]any); len(got) != 0 {
			t.Fatalf("stored accessories %v, want none", got)
		}

		// On loan, its description can change but its status stays.
		e.loan(co, e.referred(sw), id)
		onLoan := e.must(200, co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{"funding_source": "Grant B"}).JSON(t)
		if onLoan["status"] != "on_loan" || onLoan["funding_source"] != "Grant B" {
			t.Fatalf("device patched on loan: %v", onLoan)
		}
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)["status"]; st != "on_loan" {
			t.Fatalf("status %v after a patch, want on_loan", st)
		}
		events = e.historyAt(co, hist)
		expectChanges(t, events[len(events)-1], map[string][2]any{"funding_source_id": {float64(grantA), float64(grantB)}})
	})
}

func TestClientReadsAreRecorded(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		adminID, admin := e.user(accounts.Admin)
		swID, sw := e.user(accounts.SocialWorker)
		coID, co := e.user(accounts.Coordinator)
		id := e.client(sw)
		hist := path("/api/v1/clients/%d/history", id)
		viewers := func() []int64 {
			t.Helper()
			var out []int64
			for _, ev := range e.allHistoryAt(sw, hist) {
				if ev["action"] == "client.viewed" {
					out = append(out, int64(ev["actor_id"].(float64)))
					if ev["subject_type"] != "client" || ev["subject_id"].(float64) != float64(id) || ev["actor_name"] == "" {
						t.Errorf("client.viewed event: %v", ev)
					}
				}
			}
			return out
		}
		if v := viewers(); len(v) != 0 {
			t.Fatalf("viewed before any read: %v", v)
		}
		// Lists are not reads of one record (they are recorded as lists, see
		// TestClientListIsASummaryAndRecorded); reading its history is, and
		// is recorded as such (the history carries the record's details).
		// An answer lists the events before its own read is recorded: this
		// one shows the one earlier read, by viewers() above.
		if n := countAction(e.allHistoryAt(sw, hist), "client.history_viewed"); n != 1 {
			t.Fatalf("history reads recorded %d times, want 1 (the earlier one)", n)
		}
		e.must(200, sw, "GET", "/api/v1/clients", nil)
		e.must(200, sw, "GET", "/api/v1/clients?q=ana", nil)
		if v := viewers(); len(v) != 0 {
			t.Fatalf("viewed after lists: %v", v)
		}
		e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil)
		e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil)
		e.must(200, admin, "GET", path("/api/v1/clients/%d", id), nil)
		if v := fmt.Sprint(viewers()); v != fmt.Sprint([]int64{swID, swID, adminID}) {
			t.Fatalf("viewers %s, want %v", v, []int64{swID, swID, adminID})
		}
		// A read that is refused is not recorded.
		e.must(404, co, "GET", path("/api/v1/clients/%d", id), nil)
		_, sw2 := e.user(accounts.SocialWorker)
		e.must(404, sw2, "GET", path("/api/v1/clients/%d", id), nil)
		if v := viewers(); len(v) != 3 {
			t.Fatalf("viewers %v after refused reads", v)
		}
		// Once the worker refers the client, the coordinator may read the record, and that is kept too.
		e.refer(sw, id)
		e.must(200, co, "GET", path("/api/v1/clients/%d", id), nil)
		if v := viewers(); len(v) != 4 || v[3] != coID {
			t.Fatalf("viewers %v, want the coordinator last", v)
		}
	})
}

// recordedEvent is an audit event, as stored.
type recordedEvent struct {
	ActorID  int64  `bun:"actor_id"`
	ClientID *int64 `bun:"client_id"`
	Changes  string `bun:"changes"`
}

// recordedEvents are the audit events of action so far, oldest first.
func (e *env) recordedEvents(action string) []recordedEvent {
	e.t.Helper()
	var out []recordedEvent
	err := e.db.NewSelect().Table("audit_events").Column("actor_id", "client_id", "changes").
		Where("action = ?", action).OrderExpr("id").Scan(context.Background(), &out)
	if err != nil {
		e.t.Fatalf("read %s events: %v", action, err)
	}
	return out
}

// listedEvents are the client.listed events so far, oldest first.
func (e *env) listedEvents() []recordedEvent { return e.recordedEvents("client.listed") }

// Device requests quote the client's situation (income and programs in the
// decision, needs in the priority), so reading them is recorded as reading
// the record is: one client.request_viewed event per request read, in the
// client's history; one request.listed event per list read and one
// waitlist.viewed event per waitlist read, naming the requests and clients
// shown and the filter. A refused read records nothing.
func TestRequestReadsAreRecorded(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		coID, co := e.user(accounts.Coordinator)
		swID, sw := e.user(accounts.SocialWorker)
		swBID, swB := e.user(accounts.SocialWorker)
		client := e.situated(sw, map[string]any{"annual_income_cents": 1000000, "needs": []string{"fleeing_violence"}})
		r := e.must(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": client, "device_kind": "laptop"}).JSON(t)
		if r["status"] != "waitlisted" {
			t.Fatalf("a request for a laptop with none in the pool: %v", r["status"])
		}
		id := int64(r["id"].(float64))

		e.must(200, co, "GET", path("/api/v1/requests/%d", id), nil)
		e.must(404, swB, "GET", path("/api/v1/requests/%d", id), nil)
		viewed := e.recordedEvents("client.request_viewed")
		if len(viewed) != 1 || viewed[0].ActorID != coID || viewed[0].ClientID == nil || *viewed[0].ClientID != client {
			t.Fatalf("client.request_viewed events after one read and a refused one: %+v, want one by the coordinator about client %d", viewed, client)
		}
		if n := countAction(e.allHistoryAt(admin, path(clientsURL+"/%d/history", client)), "client.request_viewed"); n != 1 {
			t.Errorf("the client's history shows %d reads of their request, want 1", n)
		}

		e.must(200, sw, "GET", "/api/v1/requests?device_kind=laptop", nil)
		e.must(200, swB, "GET", "/api/v1/requests", nil)
		listed := e.recordedEvents("request.listed")
		if len(listed) != 2 {
			t.Fatalf("%d request.listed events after two list reads, want 2: %+v", len(listed), listed)
		}
		for i, want := range []struct {
			actor   int64
			changes string
		}{
			{swID, fmt.Sprintf(`{"client_id":0,"client_ids":[%d],"device_kind":"laptop","limit":50,"offset":0,"request_ids":[%d],"status":"","total":1}`, client, id)},
			{swBID, `{"client_id":0,"client_ids":[],"device_kind":"","limit":50,"offset":0,"request_ids":[],"status":"","total":0}`},
		} {
			if listed[i].ActorID != want.actor || compactJSON(t, listed[i].Changes) != want.changes {
				t.Errorf("request.listed event %d: actor %d, %s; want actor %d, %s", i, listed[i].ActorID, listed[i].Changes, want.actor, want.changes)
			}
		}

		e.must(200, co, "GET", "/api/v1/waitlist?kind=laptop", nil)
		e.must(403, sw, "GET", "/api/v1/waitlist", nil)
		waitlist := e.recordedEvents("waitlist.viewed")
		want := fmt.Sprintf(`{"client_ids":[%d],"kind":"laptop","limit":50,"offset":0,"request_ids":[%d],"total":1}`, client, id)
		if len(waitlist) != 1 || waitlist[0].ActorID != coID || compactJSON(t, waitlist[0].Changes) != want {
			t.Fatalf("waitlist.viewed events: %+v, want one by the coordinator, %s", waitlist, want)
		}
	})
}

// A list of clients shows summaries, never contact details or situation,
// and each list read is recorded once, naming the clients it returned and
// the filter, whoever reads and whatever it finds; a refused list is not.
func TestClientListIsASummaryAndRecorded(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		swID, sw := e.user(accounts.SocialWorker)
		coID, co := e.user(accounts.Coordinator)
		_, funder := e.user(accounts.Funder)
		id := e.must(201, sw, "POST", "/api/v1/clients", map[string]any{"case_number": "LIST-1", "first_name": "Rosa",
			"last_name": "Alvarez", "phone": "+1 312 555 0188", "email": "rosa.alvarez@example.org", "preferred_language": "es",
			"preferred_channel": "sms", "household_size": 4, "postal_code": "60623", "annual_income_cents": 1234567,
			"programs": []string{"snap"}, "needs": []string{"fleeing_violence"}, "proof_verified_on": "2026-02-20",
			"date_of_birth": "1988-07-14"}).ID(t)
		other := e.referred(sw)
		record := e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil).JSON(t)

		r := e.must(200, sw, "GET", "/api/v1/clients?q=alv", nil)
		items, _ := r.JSON(t)["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("the search for alv: %s", r.Body)
		}
		want := []string{"case_number", "caseworker_id", "created_at", "first_name", "household_id", "id", "last_name",
			"preferred_channel", "preferred_language", "updated_at"}
		item := items[0].(map[string]any)
		if got := sortedKeys(item); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("a listed client has %v, want exactly %v", got, want)
		}
		for _, k := range want {
			if fmt.Sprint(item[k]) != fmt.Sprint(record[k]) {
				t.Errorf("listed %s is %v, the record says %v", k, item[k], record[k])
			}
		}
		for _, secret := range []string{"3125550188", "rosa.alvarez", "1234567", "1988-07-14", "60623", "snap", "fleeing_violence", "2026-02-20"} {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("the client list carries %q: %s", secret, r.Body)
			}
		}

		// One event per read: the search above, then a second page (by last
		// name: Alvarez, then the other), an empty search, and the
		// coordinator's list, which has only the client referred to them.
		e.must(200, sw, "GET", "/api/v1/clients?limit=1&offset=1", nil)
		e.must(200, sw, "GET", path("/api/v1/clients?q=nobody&caseworker_id=%d", swID), nil)
		e.must(200, co, "GET", "/api/v1/clients", nil)
		e.must(403, funder, "GET", "/api/v1/clients", nil)
		events := e.listedEvents()
		if len(events) != 4 {
			t.Fatalf("%d client.listed events after four list reads and a refused one, want 4: %v", len(events), events)
		}
		for i, want := range []struct {
			actor   int64
			changes string
		}{
			{swID, fmt.Sprintf(`{"caseworker_id":0,"client_ids":[%d],"limit":50,"offset":0,"searched":true,"total":1}`, id)},
			{swID, fmt.Sprintf(`{"caseworker_id":0,"client_ids":[%d],"limit":1,"offset":1,"searched":false,"total":2}`, other)}, // Alvarez, then Client…
			{swID, fmt.Sprintf(`{"caseworker_id":%d,"client_ids":[],"limit":50,"offset":0,"searched":true,"total":0}`, swID)},
			{coID, fmt.Sprintf(`{"caseworker_id":0,"client_ids":[%d],"limit":50,"offset":0,"searched":false,"total":1}`, other)},
		} {
			if events[i].ActorID != want.actor || compactJSON(t, events[i].Changes) != want.changes {
				t.Errorf("client.listed event %d: actor %d, %s; want actor %d, %s", i, events[i].ActorID, events[i].Changes, want.actor, want.changes)
			}
		}
	})
}

// compactJSON re-encodes a JSON object with its keys in order.
func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not a JSON object: %s", s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Client phone numbers are stored in E.164, written with their country
// code or as a national number of the agency's country (the US unless
// --default-country says otherwise). A number that is not one in use is
// refused, naming phone, and nothing is written.
func TestClientPhoneNumbersAreE164(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		for i, tc := range []struct {
			country string
			stored  map[string]string // as written: as stored
			refused []string
		}{
			{"", map[string]string{"(312) 555-0100": "+13125550100", "312.555.0101": "+13125550101",
				"+44 20 7946 0958": "+442079460958", "+52 55 1234 5678": "+525512345678"},
				[]string{"+3125550100", "+1 555 222 3333", "555-0100", "312 555 O100", "0412 345 678", "call me", "+1 312 555 0100 x2"}},
			{"GB", map[string]string{"020 7946 0958": "+442079460958", "+1 312 555 0100": "+13125550100"},
				[]string{"(312) 555-0100", "020 7946"}},
		} {
			if i > 0 {
				db = dbtest.Open(t, db.Engine) // a new agency
			}
			e := newEnvWith(t, db, app.Options{DefaultCountry: tc.country})
			_, admin := e.user(accounts.Admin)
			_, sw := e.user(accounts.SocialWorker)
			for written, want := range tc.stored {
				c := e.must(201, sw, "POST", clientsURL, clientBody(fmt.Sprint("PH-", e.seq.Add(1)), map[string]any{"phone": written})).JSON(t)
				if c["phone"] != want {
					t.Errorf("%s: %q is stored as %v, want %s", tc.country, written, c["phone"], want)
				}
			}
			id := e.client(sw)
			before := e.world(admin)
			was := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)
			for _, written := range tc.refused {
				r := e.do(sw, "POST", clientsURL, clientBody("PH-BAD", map[string]any{"phone": written}))
				expectInvalid(t, r, "phone")
				if msg := r.ErrorFields(t)["phone"]; !strings.Contains(fmt.Sprint(msg), "country code") {
					t.Errorf("%s: the error for %q does not say how to write a number: %v", tc.country, written, msg)
				}
				expectInvalid(t, e.do(sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"phone": written, "household_size": 5}), "phone")
			}
			e.unchanged(admin, before, "refused phone numbers")
			sameExcept(t, was, e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t))
		}
	})
}

// namesIn returns the value of field for the items of the list at p that
// are among ids, in the list's order.
func (e *env) namesIn(token, p, field string, ids ...int64) []string {
	e.t.Helper()
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	for _, it := range e.must(200, token, "GET", p, nil).JSON(e.t)["items"].([]any) {
		m := it.(map[string]any)
		if want[int64(m["id"].(float64))] {
			out = append(out, fmt.Sprint(m[field]))
		}
	}
	return out
}

// Names are listed in the Unicode collation order on every database, not
// in the order of the database's own collation (byte order on SQLite and a
// C.UTF-8 PostgreSQL: "Ana, Zoe, de la Cruz, álvaro"); renaming moves a row;
// equal names are ordered by id, so pages never overlap.
func TestListsOrderByNameAlikeOnEveryDatabase(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		var clients []int64
		for i, name := range [][2]string{{"Zoe", "Ng"}, {"de la Cruz", "Pia"}, {"álvaro", "Luz"}, {"Ana", "Rey"},
			{"Lo Bo", "Ann"}, {"Lopez", "Al"}, {"Lo", "Zed"}, {"Same", "Sam"}, {"Same", "Sam"}, {"Same", "Sam"}} {
			clients = append(clients, e.must(201, sw, "POST", "/api/v1/clients", map[string]any{"case_number": path("ORD-%d", i),
				"last_name": name[0], "first_name": name[1], "preferred_channel": "none", "household_size": 1}).ID(t))
		}
		want := "[álvaro Ana de la Cruz Lo Lo Bo Lopez Same Same Same Zoe]"
		if got := e.namesIn(sw, "/api/v1/clients", "last_name", clients...); fmt.Sprint(got) != want {
			t.Errorf("clients by last name: %v, want %v", got, want)
		}
		// Equal names: by id.
		if ids := itemIDs(t, e.must(200, sw, "GET", "/api/v1/clients?q=same", nil)); fmt.Sprint(ids) != fmt.Sprint(clients[7:10]) {
			t.Errorf("equal names in order %v, want %v", ids, clients[7:10])
		}
		for _, size := range []int{1, 2, 3} {
			e.expectPages(sw, "/api/v1/clients?", size)
		}
		e.must(200, sw, "PATCH", path("/api/v1/clients/%d", clients[0]), map[string]any{"last_name": "Aaron"})
		if got := e.namesIn(sw, "/api/v1/clients?limit=1", "last_name", clients...); fmt.Sprint(got) != "[Aaron]" {
			t.Errorf("after a rename the first client is %v, want Aaron", got)
		}

		var users []int64
		for i, name := range []string{"Zoe Ng", "de la Cruz, Pia", "álvaro Luz", "Ana Rey"} {
			users = append(users, e.must(201, admin, "POST", "/api/v1/users", map[string]any{"email": path("order%d@agency.test", i),
				"name": name, "role": "coordinator", "password": "a long enough passphrase"}).ID(t))
		}
		if got := e.namesIn(admin, "/api/v1/users", "name", users...); fmt.Sprint(got) != "[álvaro Luz Ana Rey de la Cruz, Pia Zoe Ng]" {
			t.Errorf("staff by name: %v", got)
		}
		e.must(200, admin, "PATCH", path("/api/v1/users/%d", users[0]), map[string]any{"name": "Aaron Ng"})
		if got := e.namesIn(admin, "/api/v1/users", "name", users...); fmt.Sprint(got) != "[Aaron Ng álvaro Luz Ana Rey de la Cruz, Pia]" {
			t.Errorf("staff by name after a rename: %v", got)
		}

		var devices []int64
		for _, tag := range []string{"Tablet-3", "laptop-7", "ábaco-1"} {
			devices = append(devices, e.must(201, co, "POST", "/api/v1/devices", map[string]any{"kind": "tablet", "make": "Acme",
				"model": "One", "asset_tag": tag}).ID(t))
		}
		if got := e.namesIn(co, "/api/v1/devices", "asset_tag", devices...); fmt.Sprint(got) != "[ábaco-1 laptop-7 Tablet-3]" {
			t.Errorf("devices by asset tag: %v", got)
		}
		e.must(200, co, "PATCH", path("/api/v1/devices/%d", devices[0]), map[string]any{"asset_tag": "aardvark-3"})
		if got := e.namesIn(co, "/api/v1/devices", "asset_tag", devices...); fmt.Sprint(got) != "[aardvark-3 ábaco-1 laptop-7]" {
			t.Errorf("devices by asset tag after a change: %v", got)
		}
	})
}
