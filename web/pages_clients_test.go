package web_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// The clients' pages over plain HTTP: who reaches which client (the API's
// answer, page for page), the client forms' errors in place with nothing
// saved, and the device request checked before it is filed, once.

// pageUser is a staff member of role signed in on a page client, with
// their id and an API token, to compare the pages with the API.
func (e *env) pageUser(role accounts.Role) (*pageClient, int64, string) {
	p, id, token, _ := e.pageUserEmail(role)
	return p, id, token
}

// pageUserEmail is pageUser with the email, to sign in again once the
// clock has moved past the session's end.
func (e *env) pageUserEmail(role accounts.Role) (*pageClient, int64, string, string) {
	e.t.Helper()
	id, email := e.staff(role, browserPassword)
	token, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, id, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.pageClient()
	p.signIn(email, browserPassword)
	return p, id, token, email
}

// postPage posts fields (name, value pairs; a name may repeat) to path
// with the session's CSRF token, and returns the status, the Location and
// the body.
func (p *pageClient) postPage(path string, fields ...string) (int, string, string) {
	p.e.t.Helper()
	form := url.Values{"_csrf": {p.token("/")}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	res, body := p.send("POST", path, form)
	return res.StatusCode, res.Header.Get("Location"), body
}

// getPage is the status and body of the page at path.
func (p *pageClient) getPage(path string) (int, string) {
	p.e.t.Helper()
	res, body := p.send("GET", path, nil)
	return res.StatusCode, body
}

// views counts the client.viewed events of a client, as the admin reads
// the history through the API.
func (e *env) views(admin string, client int64) int {
	e.t.Helper()
	r := e.must(200, admin, "GET", path(v1+"/clients/%d/history?limit=500", client), nil)
	n := 0
	for _, ev := range r.JSON(e.t)["items"].([]any) {
		if ev.(map[string]any)["action"] == "client.viewed" {
			n++
		}
	}
	return n
}

const notFoundPage = "Page not found"

// Each role reaches a client's page exactly when GET /api/v1/clients/:id
// answers 200; otherwise the 404 page (403 for a role without the
// permission). A coordinator reaches a client only while a social worker's
// referral stands: a place the worker booked, not one the coordinator
// booked themselves.
func TestPagesClientsByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, wTok := e.pageUser(accounts.SocialWorker)
		other, _, oTok := e.pageUser(accounts.SocialWorker)
		co, _, cTok := e.pageUser(accounts.Coordinator)
		ad, _, aTok := e.pageUser(accounts.Admin)
		fu, _, fTok := e.pageUser(accounts.Funder)
		mine := e.client(wTok)
		tr := &trainers{e: e, coord: cTok, sw: wTok, admin: aTok}

		// The page and the API agree for every role.
		same := func(who string, p *pageClient, token string, client int64) int {
			t.Helper()
			api := e.do(token, "GET", path(v1+"/clients/%d", client), nil).Status
			status, body := p.getPage(path("/clients/%d", client))
			if status != api {
				t.Errorf("%s: /clients/%d is %d, the API %d\n%s", who, client, status, api, body)
			}
			if status == 404 && (!strings.Contains(body, notFoundPage) || strings.Contains(body, "Client"+strconv.FormatInt(client, 10))) {
				t.Errorf("%s: the 404 page of client %d:\n%s", who, client, body)
			}
			return status
		}
		if same("the worker", w, wTok, mine) != 200 || same("another worker", other, oTok, mine) != 404 ||
			same("a coordinator", co, cTok, mine) != 404 || same("an admin", ad, aTok, mine) != 200 || same("a funder", fu, fTok, mine) != 403 {
			t.Fatal("the client's page does not answer each role as the API")
		}
		for _, pg := range []string{"/clients/%d/edit", "/clients/%d/request"} {
			if status, body := other.getPage(path(pg, mine)); status != 404 || !strings.Contains(body, notFoundPage) {
				t.Errorf("another worker opens %s: %d", path(pg, mine), status)
			}
		}
		if status, _ := other.getPage("/clients/nothing"); status != 404 {
			t.Errorf("/clients/nothing: %d", status)
		}

		// Reading the page records the read as the API's does.
		before := e.views(aTok, mine)
		w.getPage(path("/clients/%d", mine))
		if got := e.views(aTok, mine); got != before+1 {
			t.Errorf("client.viewed events after a page read: %d, want %d", got, before+1)
		}

		// Through an enrolment: the worker's booking refers the client to
		// the coordinators, until it is withdrawn.
		session := tr.session(testNow.Add(48*time.Hour), 2*time.Hour, 10, nil)
		booked := e.client(wTok)
		tr.enroll(session, booked)
		same("a coordinator, the worker's booking standing", co, cTok, booked)
		if status, _ := co.getPage(path("/clients/%d", booked)); status != 200 {
			t.Errorf("a coordinator, the worker's booking standing: %d", status)
		}
		e.must(200, wTok, "DELETE", path(sessionsURL+"/%d/enrollments/%d", session, booked), nil)
		if same("a coordinator, the booking withdrawn", co, cTok, booked) != 404 {
			t.Errorf("a coordinator still reaches a client whose booking was withdrawn")
		}
		// A coordinator's own booking refers no one: once the worker's
		// request is cancelled, the client is out of reach, place or not.
		reached := e.client(wTok)
		request := e.refer(wTok, reached)
		e.must(201, cTok, "POST", path(sessionsURL+"/%d/enrollments", session), map[string]any{"client_id": reached})
		e.must(200, wTok, "POST", path(v1+"/requests/%d/cancel", request), nil)
		if same("a coordinator through their own booking", co, cTok, reached) != 404 {
			t.Errorf("a coordinator reaches a client through their own booking")
		}
		// The roster names the place by the client's id, as the API's
		// enrollments list does, and no more.
		status, roster := co.getPage(path("/training/%d", session))
		if status != 200 || !strings.Contains(roster, path(`href="/clients/%d">Client %d</a>`, reached, reached)) ||
			strings.Contains(roster, "Client"+strconv.FormatInt(reached, 10)) || strings.Contains(roster, "CASE-") {
			t.Errorf("the roster: %d\n%s", status, roster)
		}

		// The list: a worker's own clients only, and none for a funder.
		status, list := other.getPage("/clients")
		if status != 200 || strings.Contains(list, path(`href="/clients/%d"`, mine)) {
			t.Errorf("another worker's list shows the client: %d", status)
		}
		status, list = w.getPage("/clients")
		if status != 200 || !strings.Contains(list, path(`href="/clients/%d"`, mine)) || !strings.Contains(list, `href="/clients/new"`) {
			t.Errorf("the worker's list: %d\n%s", status, list)
		}
		if status, _ := fu.getPage("/clients"); status != 403 {
			t.Errorf("a funder's /clients: %d", status)
		}
		if _, nav := co.getPage("/"); !strings.Contains(nav, `href="/clients"`) || !strings.Contains(nav, `href="/training"`) || strings.Contains(nav, `href="/clients/new"`) {
			t.Errorf("a coordinator's navigation:\n%s", nav)
		}
		if _, nav := fu.getPage("/"); strings.Contains(nav, `href="/clients"`) || strings.Contains(nav, `href="/training"`) {
			t.Errorf("a funder's navigation offers clients or training")
		}
	})
}

// The search is posted, never read from a query string, and pages of its
// answer are posted too.
func TestPagesClientsSearch(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, tok := e.pageUser(accounts.SocialWorker)
		for i := 0; i < 52; i++ {
			e.client(tok)
		}
		named := e.must(201, tok, "POST", v1+"/clients", map[string]any{"case_number": "ZX-1", "first_name": "Zoë",
			"last_name": "Ybarra", "preferred_channel": "none", "household_size": 1}).ID(t)
		status, _, body := w.postPage("/clients", "q", "ybar")
		if status != 200 || !strings.Contains(body, path(`href="/clients/%d"`, named)) || strings.Contains(body, "Client1<") ||
			!strings.Contains(body, `value="ybar"`) {
			t.Errorf("a search by name: %d\n%s", status, body)
		}
		// A query string is not read.
		status, body = w.getPage("/clients?q=ybar")
		if status != 200 || !strings.Contains(body, "Showing 1 to 50 of 53") {
			t.Errorf("GET /clients?q=: %d", status)
		}
		// The second page is a posted form, which keeps the search.
		if !strings.Contains(body, `<form method="post" action="/clients">`) || !strings.Contains(body, `name="offset" value="50"`) {
			t.Errorf("the pager is not posted:\n%s", body)
		}
		status, _, body = w.postPage("/clients", "offset", "50", "limit", "50")
		if status != 200 || !strings.Contains(body, "Showing 51 to 53 of 53") {
			t.Errorf("the second page: %d", status)
		}
		if res, _ := w.send("POST", "/clients", url.Values{"q": {"ybar"}}); res.StatusCode != 403 {
			t.Errorf("a search without its CSRF token: %d", res.StatusCode)
		}
	})
}

// The client forms: every problem in place with the values typed kept,
// nothing saved; then a client recorded and edited, as the API reads them.
func TestPagesClientForms(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, tok := e.pageUser(accounts.SocialWorker)
		count := func() float64 {
			return e.must(200, tok, "GET", v1+"/clients", nil).JSON(t)["total"].(float64)
		}
		good := []string{"case_number", "F-100", "first_name", "Amara", "last_name", "Okafor", "phone", "+1 312 555 0142",
			"preferred_channel", "sms", "preferred_language", "es", "household_size", "4", "postal_code", "60601",
			"annual_income", "32,150.50", "programs", "snap", "programs", "medicaid", "proof_verified_on", "2026-02-01",
			"date_of_birth", "1980-05-04", "needs", "no_home_internet", "needs_other", "city_voucher"}
		bad := append([]string{}, good...)
		for i := 0; i < len(bad); i += 2 {
			switch bad[i] {
			case "last_name":
				bad[i+1] = ""
			case "annual_income":
				bad[i+1] = "a lot"
			case "date_of_birth":
				bad[i+1] = "2099-01-01"
			case "household_size":
				bad[i+1] = "four"
			}
		}
		status, _, body := w.postPage("/clients/new", bad...)
		if status != 422 || !strings.Contains(body, `id="f-last_name-error"`) || !strings.Contains(body, `id="f-annual_income-error"`) ||
			!strings.Contains(body, `id="f-household_size-error"`) || !strings.Contains(body, "There is a problem") ||
			!strings.Contains(body, `value="Amara"`) || !strings.Contains(body, `value="a lot"`) {
			t.Errorf("a bad new client: %d\n%s", status, body)
		}
		if n := count(); n != 0 {
			t.Fatalf("a bad form saved a client: %v", n)
		}
		// The service's own checks, in place too.
		status, _, body = w.postPage("/clients/new", with(good, "date_of_birth", "2099-01-01")...)
		if status != 422 || !strings.Contains(body, "must not be in the future") || count() != 0 {
			t.Errorf("a birth date to come: %d\n%s", status, body)
		}
		if res, _ := w.send("POST", "/clients/new", url.Values{"case_number": {"F-1"}, "first_name": {"A"}, "last_name": {"B"},
			"preferred_channel": {"none"}, "household_size": {"1"}}); res.StatusCode != 403 || count() != 0 {
			t.Errorf("a new client without the CSRF token: %d", res.StatusCode)
		}

		status, loc, body := w.postPage("/clients/new", good...)
		if status != 303 || !strings.HasPrefix(loc, "/clients/") {
			t.Fatalf("a new client: %d %s\n%s", status, loc, body)
		}
		id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/clients/"), 10, 64)
		got := e.must(200, tok, "GET", path(v1+"/clients/%d", id), nil).JSON(t)
		if got["annual_income_cents"] != float64(3215050) || got["phone"] != "+13125550142" || got["household_size"] != float64(4) ||
			strings.Join(strs(got["programs"]), ",") != "medicaid,snap" || strings.Join(strs(got["needs"]), ",") != "city_voucher,no_home_internet" ||
			got["date_of_birth"] != "1980-05-04" {
			t.Errorf("the client recorded: %v", got)
		}
		// A resend is refused in place: the case number is taken.
		if status, _, body := w.postPage("/clients/new", good...); status != 409 || !strings.Contains(body, `id="f-case_number-error"`) || count() != 1 {
			t.Errorf("the form sent again: %d", status)
		}

		// Edit: the form holds the record; a bad change saves nothing.
		status, form := w.getPage(path("/clients/%d/edit", id))
		if status != 200 || !strings.Contains(form, `value="32150.50"`) || !strings.Contains(form, `value="snap" checked`) ||
			!strings.Contains(form, `value="city_voucher"`) {
			t.Errorf("the edit form: %d\n%s", status, form)
		}
		edit := with(with(good, "email", "not an address"), "preferred_channel", "email")
		status, _, body = w.postPage(path("/clients/%d/edit", id), edit...)
		if status != 422 || !strings.Contains(body, `id="f-email-error"`) || !strings.Contains(body, `value="not an address"`) {
			t.Errorf("a bad edit: %d\n%s", status, body)
		}
		if e.must(200, tok, "GET", path(v1+"/clients/%d", id), nil).JSON(t)["preferred_channel"] != "sms" {
			t.Errorf("a bad edit changed the client")
		}
		edit = append(with(good, "annual_income", ""), "sms_opted_out", "on")
		if status, loc, _ := w.postPage(path("/clients/%d/edit", id), edit...); status != 303 || loc != path("/clients/%d", id) {
			t.Errorf("an edit: %d %s", status, loc)
		}
		got = e.must(200, tok, "GET", path(v1+"/clients/%d", id), nil).JSON(t)
		if got["annual_income_cents"] != nil || got["sms_opted_out"] != true {
			t.Errorf("the edited client: %v", got)
		}
		_, page := w.getPage(path("/clients/%d", id))
		if !strings.Contains(page, "not disclosed") || !strings.Contains(page, "opted out of text messages") {
			t.Errorf("the client's page after the edit:\n%s", page)
		}
		// Another worker cannot post an edit: 404, nothing changed.
		other, _, _ := e.pageUser(accounts.SocialWorker)
		if status, _, _ := other.postPage(path("/clients/%d/edit", id), good...); status != 404 {
			t.Errorf("another worker's edit: %d", status)
		}
		if e.must(200, tok, "GET", path(v1+"/clients/%d", id), nil).JSON(t)["sms_opted_out"] != true {
			t.Errorf("another worker's edit changed the client")
		}
		// A coordinator cannot edit at all.
		co, _, _ := e.pageUser(accounts.Coordinator)
		if status, _ := co.getPage("/clients/new"); status != 403 {
			t.Errorf("a coordinator's /clients/new: %d", status)
		}
	})
}

// with is fields with name set to value (added when absent).
func with(fields []string, name, value string) []string {
	out := append([]string{}, fields...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == name {
			out[i+1] = value
			return out
		}
	}
	return append(out, name, value)
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// The device request: the eligibility answer with its reasons first, and
// nothing filed; then filed once, however often the form is sent.
func TestPagesDeviceRequest(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, tok := e.pageUser(accounts.SocialWorker)
		client := e.must(201, tok, "POST", v1+"/clients", map[string]any{"case_number": "R-1", "first_name": "Noor",
			"last_name": "Haddad", "preferred_channel": "none", "household_size": 2, "programs": []string{"snap"},
			"proof_verified_on": "2026-01-15"}).ID(t)
		requests := func() float64 {
			return e.must(200, tok, "GET", path(v1+"/requests?client_id=%d", client), nil).JSON(t)["total"].(float64)
		}
		form := path("/clients/%d/request", client)
		if status, body := w.getPage(form); status != 200 || !strings.Contains(body, "Check eligibility") {
			t.Fatalf("the request form: %d\n%s", status, body)
		}
		status, _, body := w.postPage(form, "step", "check", "device_kind", "tablet", "urgency", "high", "reason", "school work")
		if status != 200 || !strings.Contains(body, "Noor qualifies") || !strings.Contains(body, "takes part in SNAP") ||
			!strings.Contains(body, "File the request") || requests() != 0 {
			t.Fatalf("the check: %d, %v requests\n%s", status, requests(), body)
		}
		status, _, body = w.postPage(form, "step", "check", "device_kind", "spaceship")
		if status != 422 || !strings.Contains(body, `id="f-device_kind-error"`) || requests() != 0 {
			t.Errorf("a bad kind: %d\n%s", status, body)
		}
		if res, _ := w.send("POST", form, url.Values{"step": {"file"}, "device_kind": {"tablet"}}); res.StatusCode != 403 || requests() != 0 {
			t.Errorf("a request filed without the CSRF token: %d", res.StatusCode)
		}
		status, loc, _ := w.postPage(form, "step", "file", "device_kind", "tablet", "urgency", "high", "reason", "school work")
		if status != 303 || loc != path("/clients/%d", client) || requests() != 1 {
			t.Fatalf("filing: %d %s, %v requests", status, loc, requests())
		}
		// Sent again (a double click, a reload): refused in place, one request.
		status, _, body = w.postPage(form, "step", "file", "device_kind", "tablet", "urgency", "high", "reason", "school work")
		if status != 409 || !strings.Contains(body, "already has an open request for a tablet") || requests() != 1 {
			t.Errorf("filing again: %d, %v requests\n%s", status, requests(), body)
		}
		_, page := w.getPage(path("/clients/%d", client))
		if !strings.Contains(page, "tablet") || !strings.Contains(page, "Device requests") || !strings.Contains(page, "Qualifies") {
			t.Errorf("the client's page after the request:\n%s", page)
		}
		// Another worker: the 404 page, and nothing filed.
		other, _, _ := e.pageUser(accounts.SocialWorker)
		for _, step := range []string{"check", "file"} {
			if status, _, _ := other.postPage(form, "step", step, "device_kind", "laptop"); status != 404 {
				t.Errorf("another worker's %s: %d", step, status)
			}
		}
		if requests() != 1 {
			t.Errorf("another worker filed a request")
		}
		// A coordinator files no requests.
		co, _, _ := e.pageUser(accounts.Coordinator)
		if status, _, _ := co.postPage(form, "step", "file", "device_kind", "laptop"); status != 403 {
			t.Errorf("a coordinator's request: %d", status)
		}
	})
}

// A client's page shows their loans (each a link to the loan's page) and
// the reminders sent about them, as the API lists them to the worker.
func TestPagesClientLoansAndReminders(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, wTok := e.pageUser(accounts.SocialWorker)
		_, co := e.user(accounts.Coordinator)
		client := e.referred(wTok)
		loan := e.loan(co, client, e.device(co, "laptop"))
		e.must(201, co, "POST", remindURL(loan), nil)
		status, body := w.getPage(path("/clients/%d", client))
		if status != 200 || !strings.Contains(body, path(`href="/loans/%d"`, loan)) || !strings.Contains(body, "Reminders sent") ||
			!strings.Contains(body, "manual by sms: <strong>") || !strings.Contains(body, path("loan %d</span>", loan)) {
			t.Errorf("the client's loans and reminders: %d\n%s", status, body)
		}
		api := e.must(200, wTok, "GET", path(v1+"/notifications?client_id=%d", client), nil).JSON(t)["items"].([]any)
		if len(api) != 1 {
			t.Errorf("the API lists %d reminders to the worker", len(api))
		}
	})
}
