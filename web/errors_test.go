package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/web"
)

// The error contract: every refused request answers a JSON error with the
// right status and code, names every bad field at once, and changes nothing.

// expectError fails unless r is a JSON error with status and code that
// names (at least) each of fields, each with a message.
func expectError(t testing.TB, r *response, status int, code string, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\n%s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json\n%s", ct, r.Body)
	}
	if got := r.ErrorCode(t); got != code {
		t.Fatalf("error.code %q, want %q\n%s", got, code, r.Body)
	}
	e, _ := r.JSON(t)["error"].(map[string]any)
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error without a message: %s", r.Body)
	}
	got := r.ErrorFields(t)
	for _, f := range fields {
		if msg, _ := got[f].(string); msg == "" {
			t.Errorf("error.fields lacks %q (fields: %v)", f, sortedKeys(got))
		}
	}
}

// expectFieldsExactly fails unless error.fields names exactly want.
func expectFieldsExactly(t testing.TB, r *response, want ...string) {
	t.Helper()
	got := sortedKeys(r.ErrorFields(t))
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("error.fields names %v, want exactly %v\n%s", got, want, r.Body)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// totalAt is the "total" of the list at p.
func (e *env) totalAt(token, p string) int {
	e.t.Helper()
	total, ok := e.must(200, token, "GET", p, nil).JSON(e.t)["total"].(float64)
	if !ok {
		e.t.Fatalf("GET %s: no total", p)
	}
	return int(total)
}

// historyAt returns the events of a device's or a client's history, oldest first.
func (e *env) historyAt(token, p string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, ev := range e.allHistoryAt(token, p) {
		if !slices.Contains(readActions, ev["action"].(string)) {
			out = append(out, ev)
		}
	}
	return out
}

// allHistoryAt is every event at a history route, reads included.
func (e *env) allHistoryAt(token, p string) []map[string]any {
	e.t.Helper()
	items, _ := e.must(200, token, "GET", p+"?limit=500", nil).JSON(e.t)["items"].([]any)
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = it.(map[string]any)
	}
	return out
}

// readActions are the audit events that record reads of client records
// (and of requests, which quote them), not changes.
var readActions = []string{"client.viewed", "client.history_viewed", "client.listed", "client.request_viewed", "request.listed", "waitlist.viewed", "client.training_viewed"}

// actionsOf lists the actions of events, in order.
func actionsOf(events []map[string]any) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i], _ = ev["action"].(string)
	}
	return out
}

// countAction counts the events with action.
func countAction(events []map[string]any, action string) int {
	n := 0
	for _, a := range actionsOf(events) {
		if a == action {
			n++
		}
	}
	return n
}

// auditRows counts every audit event in the database.
func (e *env) auditRows() int {
	e.t.Helper()
	// Reads of client records are audited too, and checking the world
	// reads some; only changes count here.
	n, err := e.db.NewSelect().Table("audit_events").Where("action NOT IN (?)", bun.In(readActions)).Count(context.Background())
	if err != nil {
		e.t.Fatalf("count audit events: %v", err)
	}
	return int(n)
}

// worldState is what a refused write must leave as it was: how many of
// each record there are, and how many audit events.
type worldState struct{ Devices, Clients, Loans, Plans, Events int }

// world takes stock, through the API as an admin (who sees every record)
// and, for the audit trail, in the database.
func (e *env) world(admin string) worldState {
	e.t.Helper()
	return worldState{
		Devices: e.totalAt(admin, "/api/v1/devices"),
		Clients: e.totalAt(admin, "/api/v1/clients"),
		Loans:   e.totalAt(admin, "/api/v1/loans"),
		Plans:   e.totalAt(admin, "/api/v1/data-plans"),
		Events:  e.auditRows(),
	}
}

// unchanged fails if the world moved since before.
func (e *env) unchanged(admin string, before worldState, what string) {
	e.t.Helper()
	if after := e.world(admin); after != before {
		e.t.Errorf("%s changed something: before %+v, after %+v", what, before, after)
	}
}

// imei returns a valid IMEI built on the 14 digits body, or with bad set,
// the same with a wrong check digit.
func imei(body string, bad bool) string {
	sum := 0
	for i := 0; i < 14; i++ {
		n := int(body[i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	check := (10 - sum%10) % 10
	if bad {
		check = (check + 1) % 10
	}
	return body + string(rune('0'+check))
}

// clientBody is a valid new client; extra fields are added or replaced.
func clientBody(caseNumber string, extra map[string]any) map[string]any {
	b := map[string]any{"case_number": caseNumber, "first_name": "Ana", "last_name": "Silva",
		"phone": "+1 312 555 0100", "preferred_channel": "sms", "household_size": 3}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func TestMalformedBodies(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "phone")
		client := e.referred(sw)
		other := e.device(co, "tablet")
		loan := e.loan(co, client, other)

		routes := []struct{ token, method, path string }{
			{co, "POST", "/api/v1/devices"},
			{co, "PATCH", path("/api/v1/devices/%d", device)},
			{co, "POST", path("/api/v1/devices/%d/inspection", device)},
			{co, "POST", "/api/v1/data-plans"},
			{sw, "POST", "/api/v1/clients"},
			{sw, "PATCH", path("/api/v1/clients/%d", client)},
			{co, "POST", "/api/v1/loans"},
			{co, "POST", path("/api/v1/loans/%d/return", loan)},
			{co, "POST", path("/api/v1/loans/%d/renew", loan)},
		}
		bodies := map[string]any{
			"broken JSON":        `{"kind": "phone", "make": `,
			"a missing quote":    `{"kind: "phone"}`,
			"a trailing comma":   `{"kind": "phone",}`,
			"two objects":        `{"kind": "phone"} {"make": "Acme"}`,
			"an empty body":      "",
			"no body":            nil,
			"only white space":   " \n\t ",
			"an empty array":     `[]`,
			"an array of object": `[{"kind": "phone", "make": "Acme", "model": "One"}]`,
			"a string":           `"phone"`,
			"a number":           `42`,
			"true":               `true`,
		}
		before := e.world(admin)
		devHist := len(e.historyAt(co, path("/api/v1/devices/%d/history", device)))
		cliHist := len(e.historyAt(sw, path("/api/v1/clients/%d/history", client)))
		for _, rt := range routes {
			for name, body := range bodies {
				t.Run(rt.method+" "+rt.path+" with "+name, func(t *testing.T) {
					r := e.do(rt.token, rt.method, rt.path, body)
					expectError(t, r, 400, "malformed")
					if len(r.ErrorFields(t)) != 0 {
						t.Errorf("a malformed body names fields: %s", r.Body)
					}
				})
			}
		}
		e.unchanged(admin, before, "malformed bodies")
		if n := len(e.historyAt(co, path("/api/v1/devices/%d/history", device))); n != devHist {
			t.Errorf("device history grew from %d to %d events", devHist, n)
		}
		if n := len(e.historyAt(sw, path("/api/v1/clients/%d/history", client))); n != cliHist {
			t.Errorf("client history grew from %d to %d events", cliHist, n)
		}
		if st := e.must(200, co, "GET", path("/api/v1/loans/%d", loan), nil).JSON(t)["status"]; st != "open" {
			t.Errorf("loan is %v after malformed returns, want open", st)
		}
	})
}

// JSON null is not an object either: it must not pass for an empty one.
func TestNullBodyIsMalformed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "phone")
		client := e.referred(sw)
		before := e.world(admin)
		for _, rt := range []struct{ token, method, path string }{
			{co, "POST", "/api/v1/devices"},
			{co, "PATCH", path("/api/v1/devices/%d", device)},
			{sw, "POST", "/api/v1/clients"},
			{sw, "PATCH", path("/api/v1/clients/%d", client)},
			{co, "POST", "/api/v1/loans"},
		} {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				expectError(t, e.do(rt.token, rt.method, rt.path, `null`), 400, "malformed")
			})
		}
		e.unchanged(admin, before, "null bodies")
	})
}

func TestInvalidDeviceNamesEveryField(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		before := e.world(admin)

		r := e.do(co, "POST", "/api/v1/devices", map[string]any{
			"kind":                "toaster",
			"model":               "One",
			"purchase_cost_cents": -100,
			"imei":                imei("49015420323751", true),
			"condition":           "mint",
			"asset_tag":           strings.Repeat("T", 51),
			"accessories": []any{
				map[string]any{"name": "Charger", "replacement_cost_cents": 1500},
				map[string]any{"name": "  ", "replacement_cost_cents": 200},
				map[string]any{"name": "Case", "replacement_cost_cents": -1},
			},
		})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "kind", "make", "purchase_cost_cents", "imei", "condition", "asset_tag",
			"accessories[1].name", "accessories[2].replacement_cost_cents")

		// An IMEI that is too short or not all digits is refused as well.
		for _, bad := range []string{"49015420323751", "4901542032375180", "49015420323751a"} {
			r := e.do(co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "One", "imei": bad})
			expectError(t, r, 422, "invalid", "imei")
		}
		// An empty body object names every required field.
		r = e.do(co, "POST", "/api/v1/devices", map[string]any{})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "kind", "make", "model")
		e.unchanged(admin, before, "invalid devices")

		// The same IMEI with its right check digit is accepted.
		good := e.must(201, co, "POST", "/api/v1/devices", map[string]any{
			"kind": "phone", "make": "Acme", "model": "One", "imei": imei("49015420323751", false)}).JSON(t)
		if good["imei"] != "490154203237518" {
			t.Fatalf("imei %v, want 490154203237518", good["imei"])
		}

		// An update is checked the same way, and a refused one leaves the
		// device and its history alone.
		id := int64(good["id"].(float64))
		hist := e.historyAt(co, path("/api/v1/devices/%d/history", id))
		before = e.world(admin)
		r = e.do(co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{
			"kind": "fridge", "make": " ", "model": "", "purchase_cost_cents": -1,
			"imei": "490154203237519", "accessories": []any{map[string]any{"name": ""}}})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "kind", "make", "model", "purchase_cost_cents", "imei", "accessories[0].name")
		// Emptying the asset tag is refused along with the other bad fields.
		r = e.do(co, "PATCH", path("/api/v1/devices/%d", id), map[string]any{
			"asset_tag": "", "kind": "fridge", "purchase_cost_cents": -1})
		expectError(t, r, 422, "invalid", "asset_tag")
		expectFieldsExactly(t, r, "asset_tag", "kind", "purchase_cost_cents")
		e.unchanged(admin, before, "an invalid device update")
		if got := e.historyAt(co, path("/api/v1/devices/%d/history", id)); len(got) != len(hist) {
			t.Errorf("a refused update added events: %v", actionsOf(got))
		}
		after := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)
		for k, want := range map[string]any{"kind": "phone", "make": "Acme", "model": "One", "imei": "490154203237518", "asset_tag": good["asset_tag"]} {
			if after[k] != want {
				t.Errorf("after a refused update %s = %v, want %v", k, after[k], want)
			}
		}
	})
}

func TestInvalidClientNamesEveryField(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, sw := e.user(accounts.SocialWorker)
		before := e.world(admin)

		r := e.do(sw, "POST", "/api/v1/clients", map[string]any{
			"case_number":        "  ",
			"first_name":         "",
			"last_name":          "Silva",
			"phone":              "call me",
			"email":              "not an email",
			"preferred_language": "not a language!",
			"preferred_channel":  "fax",
			"household_size":     0,
			"postal_code":        strings.Repeat("9", 21),
		})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "case_number", "first_name", "phone", "email", "preferred_language",
			"preferred_channel", "household_size", "postal_code")

		// The channel's contact detail is required with it.
		r = e.do(sw, "POST", "/api/v1/clients", clientBody("C-1", map[string]any{"preferred_channel": "email", "phone": "", "household_size": 51}))
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "email", "household_size")

		// An admin must name the caseworker; that is reported with the
		// other fields, not instead of them.
		r = e.do(admin, "POST", "/api/v1/clients", clientBody("", map[string]any{"last_name": ""}))
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "case_number", "last_name", "caseworker_id")

		// A social worker cannot give the client to someone else.
		r = e.do(sw, "POST", "/api/v1/clients", clientBody("C-2", map[string]any{"caseworker_id": 999999, "household_size": -1}))
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "caseworker_id", "household_size")
		e.unchanged(admin, before, "invalid clients")

		// An update too, and a refused update changes neither the record
		// nor its history.
		id := e.client(sw)
		was := e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil).JSON(t)
		hist := e.historyAt(sw, path("/api/v1/clients/%d/history", id))
		before = e.world(admin)
		r = e.do(sw, "PATCH", path("/api/v1/clients/%d", id), map[string]any{
			"first_name": "", "household_size": 0, "preferred_channel": "pigeon", "email": "a@"})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "first_name", "household_size", "preferred_channel", "email")
		e.unchanged(admin, before, "an invalid client update")
		if got := e.historyAt(sw, path("/api/v1/clients/%d/history", id)); len(got) != len(hist) {
			t.Errorf("a refused update added events: %v", actionsOf(got))
		}
		now := e.must(200, sw, "GET", path("/api/v1/clients/%d", id), nil).JSON(t)
		for _, k := range []string{"first_name", "household_size", "preferred_channel", "email", "updated_at"} {
			if now[k] != was[k] {
				t.Errorf("after a refused update %s = %v, want %v", k, now[k], was[k])
			}
		}
	})
}

func TestUnknownFieldsAndWrongTypes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "laptop")
		client := e.referred(sw)
		before := e.world(admin)

		cases := []struct {
			name   string
			token  string
			method string
			path   string
			body   string
			fields []string
		}{
			{"client: household_size as a string", sw, "POST", "/api/v1/clients",
				`{"case_number":"T-1","first_name":"Ana","last_name":"Silva","phone":"+1 312 555 0100","preferred_channel":"sms","household_size":"3"}`,
				[]string{"household_size"}},
			{"client: household_size with a fraction", sw, "POST", "/api/v1/clients",
				`{"case_number":"T-1","first_name":"Ana","last_name":"Silva","phone":"+1 312 555 0100","preferred_channel":"sms","household_size":3.5}`,
				[]string{"household_size"}},
			{"client: an unknown field", sw, "POST", "/api/v1/clients",
				`{"case_number":"T-1","first_name":"Ana","last_name":"Silva","phone":"+1 312 555 0100","preferred_channel":"sms","household_size":3,"nickname":"Annie"}`,
				[]string{"nickname"}},
			{"client: several at once", sw, "POST", "/api/v1/clients",
				`{"case_number":17,"first_name":["Ana"],"last_name":"Silva","phone":"+1 312 555 0100","preferred_channel":"sms","household_size":"three","nickname":"Annie","ssn":"x"}`,
				[]string{"case_number", "first_name", "household_size", "nickname", "ssn"}},
			{"client update: wrong types and unknown fields", sw, "PATCH", path("/api/v1/clients/%d", client),
				`{"household_size":true,"caseworker_id":"me","id":5}`,
				[]string{"household_size", "caseworker_id", "id"}},
			{"device: wrong types and a status", co, "POST", "/api/v1/devices",
				`{"kind":"phone","make":"Acme","model":"One","purchase_cost_cents":"12.50","accessories":"charger","status":"available"}`,
				[]string{"purchase_cost_cents", "accessories", "status"}},
			{"device update: the status cannot be set", co, "PATCH", path("/api/v1/devices/%d", device),
				`{"status":"retired","notes":5}`,
				[]string{"status", "notes"}},
			{"loan: ids as strings and a bad date", co, "POST", "/api/v1/loans",
				`{"client_id":"1","device_id":1.5,"due_on":"next week","extra":null}`,
				[]string{"client_id", "device_id", "due_on", "extra"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(c.token, c.method, c.path, c.body)
				expectError(t, r, 422, "invalid")
				expectFieldsExactly(t, r, c.fields...)
			})
		}
		// The message says what the value should be.
		r := e.do(sw, "POST", "/api/v1/clients", cases[0].body)
		if msg := r.ErrorFields(t)["household_size"]; msg != "must be a whole number" {
			t.Errorf("household_size: %q, want %q", msg, "must be a whole number")
		}
		if msg := e.do(sw, "POST", "/api/v1/clients", cases[2].body).ErrorFields(t)["nickname"]; msg != "is not a known field" {
			t.Errorf("nickname: %q, want %q", msg, "is not a known field")
		}
		// A nested accessory of the wrong type is named too.
		r = e.do(co, "POST", "/api/v1/devices", `{"kind":"phone","make":"Acme","model":"One","accessories":[{"name":5}]}`)
		expectError(t, r, 422, "invalid")
		named := false
		for k := range r.ErrorFields(t) {
			named = named || strings.HasPrefix(k, "accessories")
		}
		if !named {
			t.Errorf("a mistyped accessory name is not named: %s", r.Body)
		}
		e.unchanged(admin, before, "unknown fields and wrong types")
	})
}

func TestBodyTooLarge(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)

		// A valid device padded with white space to exactly n bytes.
		padded := func(n int) []byte {
			b := []byte(`{"kind":"phone","make":"Acme","model":"Big"`)
			b = append(b, []byte(strings.Repeat(" ", n-len(b)-1))...)
			return append(b, '}')
		}
		before := e.world(admin)
		// The server refuses on the declared length, before reading the body.
		expectError(t, e.postHead(co, "/api/v1/devices", web.DefaultBodyLimit+1), 413, "too_large")
		expectError(t, e.postHead(sw, "/api/v1/clients", 10*web.DefaultBodyLimit), 413, "too_large")
		expectError(t, e.postHead(co, "/api/v1/loans", web.DefaultBodyLimit+1, "Idempotency-Key", "big-1"), 413, "too_large")
		// Sent in full, the body is refused too; the client may see the
		// connection reset instead of the answer, since the server closes
		// it without reading the rest of the body.
		big := clientBody("BIG-1", map[string]any{"postal_code": strings.Repeat("1", web.DefaultBodyLimit)})
		for _, rq := range []struct {
			token, path string
			body        any
		}{{co, "/api/v1/devices", padded(web.DefaultBodyLimit + 1)}, {sw, "/api/v1/clients", big}} {
			if r, err := e.tryDo(rq.token, "POST", rq.path, rq.body); err != nil {
				t.Logf("POST %s with a body over the limit: %v", rq.path, err)
			} else {
				expectError(t, r, 413, "too_large")
			}
		}
		e.unchanged(admin, before, "too-large bodies")

		// The limit itself is allowed.
		e.must(201, co, "POST", "/api/v1/devices", padded(web.DefaultBodyLimit))
	})
}

// postHead sends only the head of a POST declaring a body of n bytes, with
// extra headers in name, value pairs, and reads the answer.
func (e *env) postHead(token, p string, n int, headers ...string) *response {
	e.t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.base, "http://"), 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: devicebank.test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n", p, token, n)
	for i := 0; i+1 < len(headers); i += 2 {
		head += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		e.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("POST %s (head only): %v", p, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// tryDo is do, returning a transport error instead of failing.
func (e *env) tryDo(token, method, p string, body any) (*response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+p, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

func TestNotFoundIsJSON(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "phone")
		e.client(sw)
		before := e.world(admin)

		cases := []struct {
			token, method, path string
			body                any
		}{
			{co, "GET", "/api/v1/nothing-here", nil},
			{"", "GET", "/api/v1/nothing-here", nil},
			{co, "POST", "/api/v1/nothing-here", map[string]any{"a": 1}},
			{co, "GET", "/api/v2/devices", nil},
			{co, "GET", "/api/v1/devices/abc", nil},
			{co, "GET", "/api/v1/devices/0", nil},
			{co, "GET", "/api/v1/devices/-3", nil},
			{co, "GET", "/api/v1/devices/1.5", nil},
			{co, "GET", "/api/v1/devices/99999999999999999999999", nil},
			{co, "GET", "/api/v1/devices/999999", nil},
			{co, "GET", "/api/v1/devices/abc/history", nil},
			{co, "GET", "/api/v1/devices//history", nil},
			{co, "PATCH", "/api/v1/devices/abc", map[string]any{"notes": "x"}},
			{co, "PATCH", "/api/v1/devices/999999", map[string]any{"notes": "x"}},
			{co, "POST", "/api/v1/devices/abc/inspection", map[string]any{"wiped": true, "outcome": "ready"}},
			{sw, "GET", "/api/v1/clients/abc", nil},
			{sw, "GET", "/api/v1/clients/999999", nil},
			{sw, "GET", "/api/v1/clients//history", nil},
			{sw, "PATCH", "/api/v1/clients/x1", map[string]any{"first_name": "Bo"}},
			{co, "GET", "/api/v1/loans/abc", nil},
			{co, "GET", "/api/v1/loans/999999", nil},
			{co, "POST", "/api/v1/loans/abc/return", map[string]any{"condition": "good"}},
			{co, "POST", "/api/v1/loans/999999/return", map[string]any{"condition": "good"}},
			{co, "POST", "/api/v1/loans//return", map[string]any{"condition": "good"}},
			{co, "POST", "/api/v1/loans/0/renew", map[string]any{"due_on": "2026-05-01"}},
			{co, "GET", "/api/v1/data-plans/abc", nil},
			{admin, "GET", "/api/v1/users/abc", nil},
		}
		for _, c := range cases {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				expectError(t, e.do(c.token, c.method, c.path, c.body), 404, "not_found")
				// A browser asking for HTML under /api still gets JSON.
				expectError(t, e.do(c.token, c.method, c.path, c.body, "Accept", "text/html"), 404, "not_found")
			})
		}
		e.unchanged(admin, before, "requests for missing records")
		// A method the path does not have is a JSON error too.
		expectError(t, e.do(co, "DELETE", path("/api/v1/devices/%d", device), nil), 405, "method_not_allowed")
		if n := countAction(e.historyAt(co, path("/api/v1/devices/%d/history", device)), "device.updated"); n != 0 {
			t.Errorf("%d device.updated events", n)
		}
	})
}

func TestConflictsNameTheField(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, sw2 := e.user(accounts.SocialWorker)

		e.must(201, sw, "POST", "/api/v1/clients", clientBody("CASE-DUP", nil))
		second := e.must(201, sw, "POST", "/api/v1/clients", clientBody("CASE-OTHER", nil)).ID(t)
		e.must(201, co, "POST", "/api/v1/devices", map[string]any{
			"kind": "phone", "make": "Acme", "model": "One", "serial": "S-1", "asset_tag": "TAG-1",
			"imei": imei("35209900176148", false)})
		dev2 := e.must(201, co, "POST", "/api/v1/devices", map[string]any{
			"kind": "phone", "make": "Acme", "model": "One", "serial": "S-2", "asset_tag": "TAG-2"}).ID(t)

		before := e.world(admin)
		clientHist := e.historyAt(sw, path("/api/v1/clients/%d/history", second))
		deviceHist := e.historyAt(co, path("/api/v1/devices/%d/history", dev2))

		cases := []struct {
			name, token, method, path string
			body                      any
			field                     string
		}{
			{"a new client with a taken case number", sw, "POST", "/api/v1/clients",
				clientBody("CASE-DUP", map[string]any{"first_name": "Other"}), "case_number"},
			{"a taken case number with spaces around it", sw, "POST", "/api/v1/clients",
				clientBody("  CASE-DUP ", nil), "case_number"},
			{"another worker's client with a taken case number", sw2, "POST", "/api/v1/clients",
				clientBody("CASE-DUP", nil), "case_number"},
			{"a client renamed to a taken case number", sw, "PATCH", path("/api/v1/clients/%d", second),
				map[string]any{"case_number": "CASE-DUP", "first_name": "Changed"}, "case_number"},
			{"a new device with a taken asset tag", co, "POST", "/api/v1/devices",
				map[string]any{"kind": "tablet", "make": "Other", "model": "Two", "asset_tag": "TAG-1"}, "asset_tag"},
			{"a new device with a taken IMEI", co, "POST", "/api/v1/devices",
				map[string]any{"kind": "phone", "make": "Other", "model": "Two", "imei": imei("35209900176148", false)}, "imei"},
			{"a new device with a taken make and serial", co, "POST", "/api/v1/devices",
				map[string]any{"kind": "phone", "make": "Acme", "model": "Two", "serial": "S-1"}, "serial"},
			{"a device given a taken asset tag", co, "PATCH", path("/api/v1/devices/%d", dev2),
				map[string]any{"asset_tag": "TAG-1", "notes": "relabelled"}, "asset_tag"},
			{"a device given a taken IMEI", co, "PATCH", path("/api/v1/devices/%d", dev2),
				map[string]any{"imei": imei("35209900176148", false)}, "imei"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(c.token, c.method, c.path, c.body)
				expectError(t, r, 409, "conflict", c.field)
			})
		}
		e.unchanged(admin, before, "conflicting writes")
		if got := e.historyAt(sw, path("/api/v1/clients/%d/history", second)); len(got) != len(clientHist) {
			t.Errorf("a refused client update added events: %v", actionsOf(got))
		}
		if got := e.historyAt(co, path("/api/v1/devices/%d/history", dev2)); len(got) != len(deviceHist) {
			t.Errorf("a refused device update added events: %v", actionsOf(got))
		}
		if cn := e.must(200, sw, "GET", path("/api/v1/clients/%d", second), nil).JSON(t); cn["case_number"] != "CASE-OTHER" || cn["first_name"] != "Ana" {
			t.Errorf("client after a refused update: %v", cn)
		}
		if d := e.must(200, co, "GET", path("/api/v1/devices/%d", dev2), nil).JSON(t); d["asset_tag"] != "TAG-2" || d["notes"] != "" || d["imei"] != "" {
			t.Errorf("device after refused updates: %v", d)
		}
	})
}

func TestUnauthorized(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "phone")
		client := e.referred(sw)
		before := e.world(admin)

		requests := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/devices", nil},
			{"GET", "/api/v1/me", nil},
			{"POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "One"}},
			{"PATCH", path("/api/v1/devices/%d", device), map[string]any{"notes": "x"}},
			{"POST", "/api/v1/clients", clientBody("NO-TOKEN", nil)},
			{"PATCH", path("/api/v1/clients/%d", client), map[string]any{"first_name": "Bo"}},
			{"GET", path("/api/v1/clients/%d", client), nil},
			{"POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn}},
		}
		headers := map[string][]string{
			"no token":           nil,
			"an unknown token":   {"Authorization", "Bearer dbk_not-a-real-token"},
			"an empty bearer":    {"Authorization", "Bearer "},
			"another scheme":     {"Authorization", "Basic " + co},
			"the token alone":    {"Authorization", co},
			"with an idem. key":  {"Idempotency-Key", "no-token-1"},
			"bad token with key": {"Authorization", "Bearer nope", "Idempotency-Key", "no-token-2"},
		}
		for _, rq := range requests {
			for name, h := range headers {
				t.Run(rq.method+" "+rq.path+" with "+name, func(t *testing.T) {
					r := e.do("", rq.method, rq.path, rq.body, h...)
					expectError(t, r, 401, "unauthorized")
					if r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
				})
			}
		}
		e.unchanged(admin, before, "requests without a valid token")
		if n := countAction(e.historyAt(sw, path("/api/v1/clients/%d/history", client)), "client.viewed"); n != 0 {
			t.Errorf("an unauthenticated read was recorded %d times", n)
		}
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)["status"]; st != "available" {
			t.Errorf("device status %v, want available", st)
		}
	})
}

var generatedTag = regexp.MustCompile(`^DB-[0-9]{6}$`)

func TestAssetTags(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		create := func(tag any) map[string]any {
			t.Helper()
			body := map[string]any{"kind": "laptop", "make": "Acme", "model": "Book"}
			if tag != nil {
				body["asset_tag"] = tag
			}
			return e.must(201, co, "POST", "/api/v1/devices", body).JSON(t)
		}
		seen := map[string]bool{}
		add := func(tag string) {
			t.Helper()
			if seen[tag] {
				t.Fatalf("asset tag %s given twice", tag)
			}
			seen[tag] = true
		}

		// A given tag is kept as given.
		for _, tag := range []string{"LIB-0042", "db-7", "DB-000003"} {
			d := create(tag)
			if d["asset_tag"] != tag {
				t.Fatalf("asset tag %v, want %s as given", d["asset_tag"], tag)
			}
			add(tag)
		}
		// Without one (or with an empty one), the next DB-NNNNNN tag is
		// given, never one already taken by hand (DB-000003 above).
		for _, tag := range []any{nil, "", nil, nil, "", nil} {
			got, _ := create(tag)["asset_tag"].(string)
			if !generatedTag.MatchString(got) {
				t.Fatalf("generated asset tag %q, want DB-NNNNNN", got)
			}
			add(got)
		}
		// Generated concurrently, the tags are still unique.
		const n = 8
		tags := make([]string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := e.do(co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Concurrent"})
				if r.Status != 201 {
					t.Errorf("concurrent create: %d %s", r.Status, r.Body)
					return
				}
				tags[i], _ = r.JSON(t)["asset_tag"].(string)
			}(i)
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, tag := range tags {
			if !generatedTag.MatchString(tag) {
				t.Fatalf("generated asset tag %q, want DB-NNNNNN", tag)
			}
			add(tag)
		}
		if total := e.totalAt(co, "/api/v1/devices?limit=500"); total != len(seen) {
			t.Fatalf("%d devices, want %d", total, len(seen))
		}
		// A tag that was generated is taken.
		var generated string
		for tag := range seen {
			if generatedTag.MatchString(tag) && tag != "DB-000003" {
				generated = tag
				break
			}
		}
		r := e.do(co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "X", "asset_tag": generated})
		expectError(t, r, 409, "conflict", "asset_tag")
	})
}

// An impossible date or time is reported with every other bad field of the
// body, not alone, on every route that takes one; nothing is stored.
func TestImpossibleDateIsReportedWithTheOtherFields(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client, device := e.referred(sw), e.device(co, "laptop")
		plan := e.must(201, co, "POST", "/api/v1/data-plans", map[string]any{"carrier": "Mint", "iccid": "8901260123456789012",
			"starts_on": "2026-01-01"}).ID(t)
		loan := e.loan(co, client, device)
		session := e.must(201, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "Basics", "topic": "device_basics",
			"starts_at": "2026-04-02T17:00:00Z", "ends_at": "2026-04-02T19:00:00Z", "capacity": 5}).ID(t)
		before := e.world(admin)
		for _, c := range []struct {
			token, method, path string
			body                map[string]any
			fields              []string
		}{
			{co, "POST", "/api/v1/data-plans", map[string]any{"carrier": "", "iccid": "8901260123456789012", "starts_on": "2026-02-30",
				"data_cap_mb": -5}, []string{"carrier", "starts_on", "data_cap_mb"}},
			{co, "PATCH", path("/api/v1/data-plans/%d", plan), map[string]any{"carrier": "", "ends_on": "2026-13-01"}, []string{"carrier", "ends_on"}},
			{co, "POST", "/api/v1/loans", map[string]any{"client_id": 0, "device_id": device, "due_on": "2026-04-31", "walk_in_justification": walkIn},
				[]string{"client_id", "due_on"}},
			{co, "POST", path("/api/v1/loans/%d/renew", loan), map[string]any{"due_on": "2026-02-29"}, []string{"due_on"}},
			{sw, "POST", "/api/v1/clients", clientBody("D-1", map[string]any{"date_of_birth": "1990-02-30", "proof_verified_on": "1899-12-31",
				"household_size": 0}), []string{"date_of_birth", "proof_verified_on", "household_size"}},
			{sw, "PATCH", path("/api/v1/clients/%d", client), map[string]any{"first_name": "", "date_of_birth": "31/12/1990"},
				[]string{"first_name", "date_of_birth"}},
			{co, "POST", "/api/v1/training/sessions", map[string]any{"title": "", "topic": "device_basics", "starts_at": "2026-02-30T10:00:00Z",
				"ends_at": "2026-03-01T25:00:00Z", "capacity": 0}, []string{"title", "starts_at", "ends_at", "capacity"}},
			{co, "POST", "/api/v1/training/sessions", map[string]any{"title": 5, "topic": "device_basics", "starts_at": "2026-04-02T17:00:00Z",
				"ends_at": "2026-04-02T19:61:00Z", "capacity": 5}, []string{"title", "ends_at"}},
			{co, "PATCH", path("/api/v1/training/sessions/%d", session), map[string]any{"starts_at": "next Tuesday", "capacity": 0},
				[]string{"starts_at", "capacity"}},
		} {
			r := e.do(c.token, c.method, c.path, c.body)
			expectError(t, r, 422, "invalid")
			expectFieldsExactly(t, r, c.fields...)
		}
		r := e.do(co, "PATCH", path("/api/v1/training/sessions/%d", session), map[string]any{"starts_at": "2026-02-30T10:00:00Z"})
		if msg, _ := r.ErrorFields(t)["starts_at"].(string); !strings.Contains(msg, "RFC 3339") || !strings.Contains(msg, "day out of range") {
			t.Errorf("an impossible day: starts_at %q", msg)
		}
		e.unchanged(admin, before, "bodies with impossible dates")
	})
}

// A body is JSON, said so with Content-Type: application/json (a
// charset=utf-8 may follow); anything else is a 415 and changes nothing.
// An action whose body is optional takes none, with no Content-Type.
func TestBodiesMustBeSentAsJSON(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := `{"kind":"phone","make":"Acme","model":"One"}`
		before := e.world(admin)
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin1",
			"application/jsonx", "application/json; profile=x", "not a media type"} {
			r := e.do(co, "POST", "/api/v1/devices", device, "Content-Type", ct)
			expectError(t, r, 415, "unsupported_media_type")
		}
		// Content-Type is said once: of two lines, one reader takes the
		// first, another the last, so neither is believed.
		for _, cts := range [][2]string{{"text/plain", "application/json"}, {"application/json", "text/plain"}, {"application/json", "application/json"}} {
			r := e.do(co, "POST", "/api/v1/devices", device, "Content-Type", cts[0], "Content-Type", cts[1])
			expectError(t, r, 415, "unsupported_media_type")
		}
		e.unchanged(admin, before, "bodies not sent as JSON")
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
			e.must(201, co, "POST", "/api/v1/devices", device, "Content-Type", ct)
		}
		// A route that needs a body still says so when there is none.
		expectError(t, e.do(co, "POST", "/api/v1/devices", nil), 400, "malformed")

		// Cancelling a request takes no body at all, as the docs show it.
		request := docFileRequest(e, sw, 1000000, "ready", "waitlisted")
		r := e.must(200, sw, "POST", path("/api/v1/requests/%d/cancel", request), nil)
		if r.JSON(t)["status"] != "cancelled" {
			t.Errorf("cancelled without a body: %s", r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("the answer's Content-Type %q", ct)
		}

		// So does an approval, whose justification is optional; a denial
		// and an override without one name the justification they need.
		for _, action := range []string{"deny", "override"} {
			want := map[string]string{"deny": "waitlisted", "override": "denied"}[action]
			income := map[string]int{"deny": 1000000, "override": 90000000}[action]
			request := docFileRequest(e, sw, income, want)
			r := e.do(co, "POST", path("/api/v1/requests/%d/%s", request, action), nil)
			expectError(t, r, 422, "invalid")
			expectFieldsExactly(t, r, "justification")
			if got := e.must(200, co, "GET", path("/api/v1/requests/%d", request), nil).JSON(t)["status"]; got != want {
				t.Errorf("after a refused %s without a body the request is %v, want %s", action, got, want)
			}
		}
		client := e.situated(sw, map[string]any{"annual_income_cents": nil})
		review := e.must(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": client, "device_kind": "other"}).ID(t)
		r = e.must(200, co, "POST", path("/api/v1/requests/%d/approve", review), nil)
		if m := r.JSON(t); m["status"] != "waitlisted" || m["justification"] != "" {
			t.Errorf("approved without a body: %s", r.Body)
		}
	})
}
