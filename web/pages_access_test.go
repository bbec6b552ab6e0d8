package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// The pages reach no client the API would not show the same actor: a
// client out of a coordinator's reach (referred once, served, then the
// referral cancelled) and another worker's client are named on no page,
// whichever record or list leads to them.

// strangerWorld is a client of a social worker's whom a coordinator once
// served (places in a session to come and one under way, a loan, a
// reminder) and may no longer see, since the worker cancelled the request
// that referred them.
type strangerWorld struct {
	co, sw, swB, admin                  *pageClient
	coTok, swTok, adminTok              string
	stranger, request, loan, device     int64
	future, started                     int64
	tag, lastName, caseNumber, rawPhone string
}

func (e *env) strangerWorld() *strangerWorld {
	e.t.Helper()
	w := &strangerWorld{}
	w.co, _, w.coTok = e.pageUser(accounts.Coordinator)
	w.sw, _, w.swTok = e.pageUser(accounts.SocialWorker)
	w.swB, _, _ = e.pageUser(accounts.SocialWorker)
	w.admin, _, w.adminTok = e.pageUser(accounts.Admin)
	w.stranger = e.client(w.swTok)
	w.request = e.refer(w.swTok, w.stranger)
	now := e.clock.Now()
	e.clock.Set(now.Add(-48 * time.Hour))
	w.started = e.must(201, w.coTok, "POST", sessionsURL, map[string]any{"title": "Under way", "topic": "device_basics",
		"starts_at": at(now.Add(-time.Hour)), "ends_at": at(now.Add(time.Hour)), "capacity": 10}).ID(e.t)
	e.must(201, w.coTok, "POST", path(sessionsURL+"/%d/enrollments", w.started), map[string]any{"client_id": w.stranger})
	e.clock.Set(now)
	w.future = e.must(201, w.coTok, "POST", sessionsURL, map[string]any{"title": "To come", "topic": "device_basics",
		"starts_at": at(now.Add(72 * time.Hour)), "ends_at": at(now.Add(73 * time.Hour)), "capacity": 10}).ID(e.t)
	e.must(201, w.coTok, "POST", path(sessionsURL+"/%d/enrollments", w.future), map[string]any{"client_id": w.stranger})
	w.device = e.device(w.coTok, "phone")
	w.tag = e.must(200, w.coTok, "GET", path(v1+"/devices/%d", w.device), nil).JSON(e.t)["asset_tag"].(string)
	w.loan = e.loan(w.coTok, w.stranger, w.device)
	e.must(201, w.coTok, "POST", remindURL(w.loan), nil)
	e.must(200, w.swTok, "POST", path(v1+"/requests/%d/cancel", w.request), map[string]any{})
	c := e.must(200, w.swTok, "GET", path(clientsURL+"/%d", w.stranger), nil).JSON(e.t)
	w.lastName, w.caseNumber = c["last_name"].(string), c["case_number"].(string)
	e.must(404, w.coTok, "GET", path(clientsURL+"/%d", w.stranger), nil)
	return w
}

// leaks reports what of the stranger body names.
func (w *strangerWorld) leaks(body string) []string {
	var out []string
	for _, s := range []string{w.lastName, w.caseNumber} {
		if strings.Contains(body, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestPagesNameNoClientOutOfReach(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.strangerWorld()
		pagesToTry := []string{"/", "/dashboard", "/clients", "/requests", "/requests?status=cancelled", "/loans",
			"/loans?status=open", path("/loans/%d", w.loan), path("/loans/%d/sign", w.loan), "/loans/new",
			"/checkin?asset_tag=" + w.tag, "/devices", path("/devices/%d", w.device), "/training", "/training?when=past",
			path("/training/%d", w.future), path("/training/%d", w.started), "/notifications", "/notifications?status=sent",
			path("/clients/%d", w.stranger), path("/clients/%d/edit", w.stranger), path("/clients/%d/request", w.stranger),
			path("/requests/%d", w.request)}
		for who, p := range map[string]*pageClient{"coordinator": w.co, "worker B": w.swB} {
			for _, pg := range pagesToTry {
				status, body := p.getPage(pg)
				if l := w.leaks(body); len(l) > 0 {
					t.Errorf("%s GET %s (%d) shows %v", who, pg, status, l)
				}
			}
			for _, q := range []string{w.lastName, w.caseNumber} {
				status, _, body := p.postPage("/clients", "q", q)
				if status != 200 || strings.Contains(body, path(`href="/clients/%d"`, w.stranger)) || !strings.Contains(body, "No clients") {
					t.Errorf("%s searches %q: %d\n%s", who, q, status, body)
				}
			}
		}
		// The worker sees them, on the same pages: the probe is real.
		if _, body := w.sw.getPage(path("/loans/%d", w.loan)); len(w.leaks(body)) == 0 {
			t.Errorf("the worker's loan page does not name their client")
		}
	})
}

// Every page form that names a client, posted with a client out of reach,
// answers as for a client that does not exist, and changes nothing.
func TestPagesFormsNameNoClientOutOfReach(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.strangerWorld()
		type probe struct {
			path   func(c int64) string
			fields func(c int64) []string
		}
		id := func(c int64) string { return path("%d", c) }
		probes := []probe{
			{func(c int64) string { return path("/clients/%d/edit", c) }, func(int64) []string { return []string{"first_name", "X"} }},
			{func(c int64) string { return path("/clients/%d/request", c) }, func(int64) []string { return []string{"device_kind", "phone"} }},
			{func(c int64) string { return path("/clients/%d/request", c) }, func(int64) []string { return []string{"device_kind", "phone", "step", "file"} }},
			{func(c int64) string { return path("/clients/%d/request", c) }, func(int64) []string { return []string{"device_kind", "nope"} }},
			{func(int64) string { return path("/training/%d/enrol", w.future) }, func(c int64) []string { return []string{"client_id", id(c)} }},
			{func(int64) string { return path("/training/%d/withdraw", w.future) }, func(c int64) []string { return []string{"client_id", id(c)} }},
			{func(int64) string { return path("/training/%d/withdraw", w.future) }, func(c int64) []string { return []string{"client_id", id(c), "back", "client"} }},
			{func(int64) string { return path("/training/%d/attendance", w.started) }, func(c int64) []string { return []string{"client", id(c), "present", id(c)} }},
			{func(int64) string { return "/clients/new" }, func(c int64) []string {
				return []string{"case_number", "NEW-1", "first_name", "A", "last_name", "B", "household_size", "2", "household_id", id(c)}
			}},
		}
		for who, p := range map[string]*pageClient{"coordinator": w.co, "worker B": w.swB} {
			for _, pr := range probes {
				got, _, body := p.postPage(pr.path(w.stranger), pr.fields(w.stranger)...)
				none, _, ghostBody := p.postPage(pr.path(ghost), pr.fields(ghost)...)
				if got != none {
					t.Errorf("%s POST %s %v: %d, for a client that does not exist %d\n%s\n----\n%s", who, pr.path(w.stranger), pr.fields(w.stranger), got, none, body, ghostBody)
				}
				if l := w.leaks(body); len(l) > 0 {
					t.Errorf("%s POST %s: shows %v", who, pr.path(w.stranger), l)
				}
			}
		}
	})
}

// The attendance form holds the places the coordinator may record: a
// client out of their reach, whose attendance the API refuses them, is on
// the roster (by id, as the API's list) but not in the form, so that the
// form records the others; and a line forged for that client is refused
// before any line is recorded.
func TestPagesAttendanceLeavesOutClientsOutOfReach(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := e.strangerWorld()
		now := e.clock.Now()
		seen := e.referred(w.swTok)
		e.clock.Set(now.Add(-48 * time.Hour))
		e.must(201, w.coTok, "POST", path(sessionsURL+"/%d/enrollments", w.started), map[string]any{"client_id": seen})
		e.clock.Set(now)
		page := path("/training/%d", w.started)
		id := func(n int64) string { return path("%d", n) }
		attendance := func() map[int64]any {
			out := map[int64]any{}
			for c, p := range e.places(w.adminTok, w.started) {
				out[c] = p["attendance"]
			}
			return out
		}
		before := attendance()

		status, body := w.co.getPage(page)
		if status != 200 || !strings.Contains(body, path(`>Client %d</a></td><td>enrolled`, w.stranger)) ||
			!strings.Contains(body, `name="client" value="`+id(seen)+`"`) || strings.Contains(body, `name="client" value="`+id(w.stranger)+`"`) {
			t.Errorf("the coordinator's roster and attendance form: %d\n%s", status, body)
		}
		status, _, body = w.co.postPage(page+"/attendance", "client", id(seen), "present", id(seen), "client", id(w.stranger), "present", id(w.stranger))
		if status != 422 || !strings.Contains(body, "client "+id(w.stranger)) {
			t.Errorf("attendance with a line forged for a client out of reach: %d\n%s", status, body)
		}
		if got := attendance(); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Errorf("a refused attendance form recorded: %v, was %v", got, before)
		}
		if status, loc, body := w.co.postPage(page+"/attendance", "client", id(seen), "present", id(seen)); status != 303 || loc != page {
			t.Errorf("attendance of the clients the form holds: %d %s\n%s", status, loc, body)
		}
		if got := attendance(); got[seen] != "present" || got[w.stranger] != before[w.stranger] {
			t.Errorf("attendance recorded: %v", got)
		}
		// The admin may see everyone, and records everyone's.
		if _, body := w.admin.getPage(page); !strings.Contains(body, `name="client" value="`+id(w.stranger)+`"`) {
			t.Errorf("the admin's attendance form lacks the client:\n%s", body)
		}
	})
}
