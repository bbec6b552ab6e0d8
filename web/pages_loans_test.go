package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The loan pages over plain HTTP, as a browser without JavaScript reaches
// them: who may open what, forms without their token, bad input shown in
// place with nothing saved, and forms sent twice or at once doing a thing
// once.

// loanPeople are the staff of the loan tests, each with a session and the
// coordinator and social worker with API tokens too.
type loanPeople struct {
	co, sw, sw2, admin, funder *pageClient
	coToken, swToken           string
}

func (e *env) loanPeople() *loanPeople {
	e.t.Helper()
	signed := func(role accounts.Role) (*pageClient, string) {
		id, email := e.staff(role, browserPassword)
		token, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, id, "test")
		if err != nil {
			e.t.Fatal(err)
		}
		p := e.pageClient()
		p.signIn(email, browserPassword)
		return p, token
	}
	l := &loanPeople{}
	l.co, l.coToken = signed(accounts.Coordinator)
	l.sw, l.swToken = signed(accounts.SocialWorker)
	l.sw2, _ = signed(accounts.SocialWorker)
	l.admin, _ = signed(accounts.Admin)
	l.funder, _ = signed(accounts.Funder)
	return l
}

// readyTablet has the social worker ask for a tablet for a new eligible
// client, with a tablet free: the request is ready at once, holding it. It
// returns the client, the request and the tablet's asset tag and id.
func (e *env) readyTablet(sw, co string) (client, request int64, tag string, device int64) {
	e.t.Helper()
	r := e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": "tablet", "make": "Acme", "model": "Tab"}).JSON(e.t)
	tag, device = r["asset_tag"].(string), int64(r["id"].(float64))
	client = e.situated(sw, map[string]any{"programs": []string{"snap"}, "needs": []string{}})
	req := e.must(201, sw, "POST", v1+"/requests", map[string]any{"client_id": client, "device_kind": "tablet"}).JSON(e.t)
	if req["status"] != "ready" {
		e.t.Fatalf("the request is %v, not ready", req["status"])
	}
	return client, int64(req["id"].(float64)), tag, device
}

// openLoans is how many loans the API lists with query.
func (e *env) loansAt(token, query string) int {
	e.t.Helper()
	return e.totalAt(token, v1+"/loans"+query)
}

// Each role sees the loan pages as the API shows loans: a social worker
// their own clients' loans and the 404 page for another's, a coordinator
// and an admin every loan with its actions, a funder none.
func TestPagesLoansByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		client := e.referred(l.swToken)
		loan := e.loan(l.coToken, client, e.device(l.coToken, "laptop"))
		page := path("/loans/%d", loan)
		name := e.must(200, l.swToken, "GET", path(v1+"/clients/%d", client), nil).JSON(t)["last_name"].(string)

		for who, c := range map[string]struct {
			p              *pageClient
			list, one, pdf int
			actions        bool
		}{
			"coordinator":           {l.co, 200, 200, 200, true},
			"admin":                 {l.admin, 200, 200, 200, true},
			"its social worker":     {l.sw, 200, 200, 200, false},
			"another social worker": {l.sw2, 200, 404, 404, false},
			"funder":                {l.funder, 403, 403, 403, false},
		} {
			status, body := c.p.getPage("/loans")
			if status != c.list || (c.list == 200 && strings.Contains(body, page+`"`) != (c.one == 200)) {
				t.Errorf("%s: /loans %d, loan %d listed: %v", who, status, loan, strings.Contains(body, page+`"`))
			}
			status, body = c.p.getPage(page)
			switch c.one {
			case 200:
				if status != 200 || !strings.Contains(body, "<h1>Loan "+strconv.FormatInt(loan, 10)+"</h1>") ||
					!strings.Contains(body, path(`<a href="/clients/%d">Ana %s</a>`, client, name)) ||
					!strings.Contains(body, page+"/agreement.pdf") || !strings.Contains(body, "Not signed yet") {
					t.Errorf("%s: %s %d\n%s", who, page, status, body)
				}
				if got := strings.Contains(body, `action="`+page+`/renew"`) && strings.Contains(body, `action="`+page+`/reminders"`); got != c.actions {
					t.Errorf("%s: the loan's actions offered: %v", who, got)
				}
			case 404:
				if status != 404 || !strings.Contains(body, "Page not found") || strings.Contains(body, name) {
					t.Errorf("%s: %s %d\n%s", who, page, status, body)
				}
			case 403:
				if status != 403 || !strings.Contains(body, "You cannot open this page") {
					t.Errorf("%s: %s %d", who, page, status)
				}
			}
			res, pdf := c.p.send("GET", page+"/agreement.pdf", nil)
			if res.StatusCode != c.pdf || (c.pdf == 200 && (res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF") ||
				res.Header.Get("Content-Disposition") != path(`attachment; filename="loan-%d-agreement.pdf"`, loan))) {
				t.Errorf("%s: the agreement PDF: %d %v", who, res.StatusCode, res.Header)
			}
			manage := c.actions
			for _, p := range []string{"/loans/new", "/checkin", page + "/sign"} {
				want := 403
				if manage || (p == page+"/sign" && c.one != 403) {
					want = c.one
					if p != page+"/sign" {
						want = 200
					}
				}
				if status, _ := c.p.getPage(p); status != want {
					t.Errorf("%s: %s %d, want %d", who, p, status, want)
				}
			}
		}
		// The navigation offers each role the pages it may open.
		for p, want := range map[*pageClient]string{l.co: "LoansIssueCheck in", l.sw: "Loans", l.funder: ""} {
			_, home := p.getPage("/")
			got := ""
			for _, label := range []string{"Loans", "Issue", "Check in"} {
				for _, href := range []string{"/loans", "/loans/new", "/checkin"} {
					if strings.Contains(home, `<a href="`+href+`">`+label+`</a>`) {
						got += label
					}
				}
			}
			if got != want {
				t.Errorf("the navigation has %q, want %q", got, want)
			}
		}

		// The API's filters, with its words for a bad one.
		if status, body := l.co.getPage("/loans?status=returned"); status != 200 || strings.Contains(body, page+`"`) || !strings.Contains(body, "No loans match") {
			t.Errorf("returned loans: %d\n%s", status, body)
		}
		if status, body := l.co.getPage("/loans?status=open&agreement=unsigned"); status != 200 || !strings.Contains(body, page+`"`) ||
			!strings.Contains(body, `<option value="unsigned" selected>`) {
			t.Errorf("open unsigned loans: %d\n%s", status, body)
		}
		if status, body := l.co.getPage("/loans?status=gone"); status != 422 || !strings.Contains(body, `id="f-status-error"`) || !strings.Contains(body, "must be one of open, overdue, returned, lost") {
			t.Errorf("a bad status: %d\n%s", status, body)
		}
		// A record of no loan is the 404 page.
		for _, p := range []string{"/loans/999999", "/loans/abc", "/loans/0/sign", "/checkin/999999/inspection"} {
			if status, _ := l.co.getPage(p); status != 404 {
				t.Errorf("%s: %d", p, status)
			}
		}
	})
}

// A form posted without its CSRF token changes nothing.
func TestPagesLoansCSRF(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		_, request, tag, device := e.readyTablet(l.swToken, l.coToken)
		loan := e.loan(l.coToken, e.referred(l.swToken), e.device(l.coToken, "phone"))
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/loans/new", url.Values{"request_id": {strconv.FormatInt(request, 10)}, "asset_tag": {tag}, "due_on": {"2026-06-01"}}},
			{path("/loans/%d/sign", loan), url.Values{"method": {"paper"}}},
			{path("/loans/%d/renew", loan), url.Values{"due_on": {"2026-08-01"}}},
			{path("/loans/%d/lost", loan), url.Values{}},
			{path("/loans/%d/reminders", loan), url.Values{}},
			{"/checkin", url.Values{"loan_id": {strconv.FormatInt(loan, 10)}, "condition": {"good"}}},
			{path("/checkin/%d/inspection", device), url.Values{"outcome": {"retire"}, "wiped": {"yes"}}},
		} {
			for _, token := range []string{"", "forged"} {
				if token != "" {
					c.form.Set("_csrf", token)
				}
				if res, body := l.co.send("POST", c.path, c.form); res.StatusCode != 403 || !strings.Contains(body, "Nothing was changed") {
					t.Errorf("%s with _csrf %q: %d", c.path, token, res.StatusCode)
				}
			}
		}
		if n := e.loansAt(l.coToken, ""); n != 1 {
			t.Errorf("%d loans after the refused forms", n)
		}
		m := e.must(200, l.coToken, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)
		if m["status"] != "open" || m["due_on"] != "2026-04-10" {
			t.Errorf("the loan after the refused forms: %v", m)
		}
		e.must(404, l.coToken, "GET", path(v1+"/loans/%d/agreement", loan), nil)
		if d := e.must(200, l.coToken, "GET", path(v1+"/devices/%d", device), nil).JSON(t); d["status"] != "available" {
			t.Errorf("the tablet after the refused forms: %v", d["status"])
		}
	})
}

// Issuing: bad input is shown in place with what was typed, and nothing is
// lent; then the device is issued and the page goes on to the signing.
func TestPagesIssueBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		client, request, tag, _ := e.readyTablet(l.swToken, l.coToken)
		status, body := l.co.getPage(path("/loans/new?request=%d", request))
		if status != 200 || !strings.Contains(body, path(`value="%d" id="f-request_id" checked`, request)) || !strings.Contains(body, "held for it: "+tag) ||
			!strings.Contains(body, `value="2026-06-08"`) || !strings.Contains(body, "data-scan autofocus") {
			t.Fatalf("the issue form: %d\n%s", status, body)
		}
		for _, c := range []struct {
			fields []string
			status int
			errors []string
		}{
			{[]string{"due_on", ""}, 422, []string{"request_id", "asset_tag", "due_on"}},
			{[]string{"request_id", strconv.FormatInt(request, 10), "asset_tag", "NO-SUCH-TAG", "due_on", "2026-02-30"}, 422, []string{"asset_tag", "due_on"}},
			{[]string{"request_id", "999999", "asset_tag", tag, "due_on", "2026-05-01"}, 422, []string{"request_id"}},
			{[]string{"request_id", strconv.FormatInt(request, 10), "asset_tag", tag, "due_on", "2026-03-01"}, 422, []string{"due_on"}},
			{[]string{"request_id", strconv.FormatInt(request, 10), "asset_tag", tag, "due_on", "2026-05-01", "data_plan_id", "77"}, 422, []string{"data_plan_id"}},
		} {
			status, _, body := l.co.postPage("/loans/new", c.fields...)
			if status != c.status {
				t.Errorf("%v: %d, want %d\n%s", c.fields, status, c.status, body)
			}
			for _, f := range c.errors {
				if !strings.Contains(body, `id="f-`+f+`-error"`) || !strings.Contains(body, `<a href="#f-`+f+`">`) {
					t.Errorf("%v: no error next to %s and at the top\n%s", c.fields, f, body)
				}
			}
			for i := 0; i+1 < len(c.fields); i += 2 {
				if v := c.fields[i+1]; v != "" && c.fields[i] != "request_id" && c.fields[i] != "data_plan_id" && !strings.Contains(body, `value="`+v+`"`) {
					t.Errorf("%v: %s typed is not shown again", c.fields, c.fields[i])
				}
			}
		}
		if n := e.loansAt(l.coToken, ""); n != 0 {
			t.Fatalf("%d loans after bad forms", n)
		}
		status, loc, body := l.co.postPage("/loans/new", "request_id", strconv.FormatInt(request, 10), "asset_tag", " "+strings.ToLower(tag)+" ", "due_on", "2026-06-08")
		if status != 303 || !strings.HasSuffix(loc, "/sign") {
			t.Fatalf("issue: %d %s\n%s", status, loc, body)
		}
		loans := e.must(200, l.coToken, "GET", path(v1+"/loans?client_id=%d", client), nil).JSON(t)["items"].([]any)
		if len(loans) != 1 || loc != path("/loans/%d/sign", int64(loans[0].(map[string]any)["id"].(float64))) {
			t.Errorf("the loan issued: %v, went to %s", loans, loc)
		}
	})
}

// One device issued by many posts at once, from two coordinators' browsers
// and a double click: one loan, and every other post is told in place.
func TestPagesIssueConcurrently(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		_, request, tag, device := e.readyTablet(l.swToken, l.coToken)
		other := e.pageClient()
		_, email := e.staff(accounts.Coordinator, browserPassword)
		other.signIn(email, browserPassword)
		forms := map[*pageClient]url.Values{}
		for _, p := range []*pageClient{l.co, other} {
			forms[p] = url.Values{"_csrf": {p.token("/loans/new")}, "request_id": {strconv.FormatInt(request, 10)}, "asset_tag": {tag}, "due_on": {"2026-06-08"}}
		}
		const posts = 8
		statuses := make([]int, posts)
		bodies := make([]string, posts)
		var wg sync.WaitGroup
		for i := 0; i < posts; i++ {
			p := l.co
			if i%2 == 1 {
				p = other
			}
			wg.Add(1)
			go func(i int, p *pageClient) {
				defer wg.Done()
				res, body := p.send("POST", "/loans/new", forms[p])
				statuses[i], bodies[i] = res.StatusCode, body
			}(i, p)
		}
		wg.Wait()
		issued := 0
		for i, s := range statuses {
			switch {
			case s == 303:
				issued++
			case s == 409 && strings.Contains(bodies[i], "There is a problem") && (strings.Contains(bodies[i], "not available") || strings.Contains(bodies[i], "changed by someone else") ||
				strings.Contains(bodies[i], "not ready") || strings.Contains(bodies[i], "is fulfilled")):
			default:
				t.Errorf("post %d: %d\n%s", i, s, bodies[i])
			}
		}
		if issued != 1 {
			t.Errorf("%d posts issued the device, want 1 (%v)", issued, statuses)
		}
		if n := e.loansAt(l.coToken, path("?device_id=%d", device)); n != 1 {
			t.Errorf("%d loans of the device, want 1", n)
		}
	})
}

// The agreement signed through the page once: a form sent again is told
// in place; bad signatures are shown next to their field, nothing signed.
func TestPagesSignOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		loan := e.loan(l.coToken, e.referred(l.swToken), e.device(l.coToken, "phone"))
		sign := path("/loans/%d/sign", loan)
		status, body := l.sw.getPage(sign)
		if status != 200 || !strings.Contains(body, `id="sign-form"`) || !strings.Contains(body, "<canvas") || !strings.Contains(body, path(`href="/loans/%d/agreement.pdf"`, loan)) {
			t.Fatalf("the signing page: %d\n%s", status, body)
		}
		for _, c := range []struct {
			fields []string
			field  string
		}{
			{nil, "method"},
			{[]string{"method", "drawn", "signature_png", ""}, "signature_png"},
			{[]string{"method", "drawn", "signature_png", "data:image/png;base64,AAAA"}, "signature_png"},
			{[]string{"method", "typed", "typed_name", "  "}, "typed_name"},
			{[]string{"method", "carved"}, "method"},
		} {
			status, _, body := l.sw.postPage(sign, c.fields...)
			if status != 422 || !strings.Contains(body, `id="f-`+c.field+`-error"`) || !strings.Contains(body, `<a href="#f-`+c.field+`">`) {
				t.Errorf("%v: %d, no error at %s\n%s", c.fields, status, c.field, body)
			}
		}
		e.must(404, l.coToken, "GET", path(v1+"/loans/%d/agreement", loan), nil)

		form := url.Values{"_csrf": {l.sw.token(sign)}, "method": {"typed"}, "typed_name": {"Ana Client"}}
		res, _ := l.sw.send("POST", sign, form)
		if res.StatusCode != 303 || res.Header.Get("Location") != path("/loans/%d?done=signed", loan) {
			t.Fatalf("sign: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		res, body = l.sw.send("POST", sign, form) // sent again: the back button, a double click
		if res.StatusCode != 409 || !strings.Contains(body, "already signed") || !strings.Contains(body, "There is a problem") {
			t.Errorf("signed twice: %d\n%s", res.StatusCode, body)
		}
		if a := e.must(200, l.coToken, "GET", path(v1+"/loans/%d/agreement", loan), nil).JSON(t); a["method"] != "typed" {
			t.Errorf("the signing: %v", a)
		}
		if n := countAction(e.historyAt(l.coToken, path(v1+"/devices/%v/history", e.must(200, l.coToken, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["device_id"].(float64))), "agreement.signed"); n != 1 {
			t.Errorf("%d signings recorded, want 1", n)
		}
		status, body = l.sw.getPage(path("/loans/%d?done=signed", loan))
		if status != 200 || !strings.Contains(body, "The agreement was signed") || !strings.Contains(body, "Print the signed agreement") {
			t.Errorf("the loan after signing: %d\n%s", status, body)
		}
		res, _ = l.sw.send("GET", path("/loans/%d/agreement.pdf", loan), nil)
		if res.Header.Get("Content-Disposition") != path(`attachment; filename="loan-%d-agreement-signed.pdf"`, loan) {
			t.Errorf("the signed PDF: %v", res.Header)
		}
	})
}

// Check-in by tag, the return sent twice, and the inspection, which puts
// the device back into the pool only with the wipe confirmed.
func TestPagesCheckinAndInspection(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		device := e.must(201, l.coToken, "POST", v1+"/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "P", "asset_tag": "PH-77"}).ID(t)
		loan := e.loan(l.coToken, e.referred(l.swToken), device)

		if status, body := l.co.getPage("/checkin?asset_tag=NOPE"); status != 422 || !strings.Contains(body, `id="f-asset_tag-error"`) || !strings.Contains(body, `value="NOPE"`) {
			t.Errorf("an unknown tag: %d\n%s", status, body)
		}
		status, body := l.co.getPage("/checkin?asset_tag=ph-77")
		if status != 200 || !strings.Contains(body, path(`name="loan_id" value="%d"`, loan)) || !strings.Contains(body, "due 2026-04-10") {
			t.Fatalf("the device's open loan: %d\n%s", status, body)
		}
		status, _, body = l.co.postPage("/checkin", "loan_id", strconv.FormatInt(loan, 10), "asset_tag", "PH-77", "condition", "shattered", "notes", "screen")
		if status != 422 || !strings.Contains(body, `id="f-condition-error"`) || !strings.Contains(body, `value="screen"`) {
			t.Errorf("a bad condition: %d\n%s", status, body)
		}
		if m := e.must(200, l.coToken, "GET", path(v1+"/loans/%d", loan), nil).JSON(t); m["status"] != "open" {
			t.Fatalf("the loan after a bad return: %v", m["status"])
		}
		form := url.Values{"_csrf": {l.co.token("/checkin")}, "loan_id": {strconv.FormatInt(loan, 10)}, "asset_tag": {"PH-77"}, "condition": {"fair"}, "notes": {"scratched"}}
		res, _ := l.co.send("POST", "/checkin", form)
		if res.StatusCode != 303 || res.Header.Get("Location") != path("/checkin/%d/inspection", device) {
			t.Fatalf("return: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		res, body = l.co.send("POST", "/checkin", form)
		if res.StatusCode != 409 || !strings.Contains(body, "not open") || !strings.Contains(body, path(`href="/checkin/%d/inspection"`, device)) {
			t.Errorf("returned twice: %d\n%s", res.StatusCode, body)
		}
		if m := e.must(200, l.coToken, "GET", path(v1+"/loans/%d", loan), nil).JSON(t); m["status"] != "returned" || m["return_condition"] != "fair" {
			t.Errorf("the loan returned: %v", m)
		}

		insp := path("/checkin/%d/inspection", device)
		status, _, body = l.co.postPage(insp, "outcome", "ready", "condition", "fair")
		if status != 422 || !strings.Contains(body, `id="f-wiped-error"`) || !strings.Contains(body, "only after its data is wiped") {
			t.Errorf("ready without the wipe: %d\n%s", status, body)
		}
		if d := e.must(200, l.coToken, "GET", path(v1+"/devices/%d", device), nil).JSON(t); d["status"] != "inspection" {
			t.Fatalf("the device after a refused inspection: %v", d["status"])
		}
		status, loc, _ := l.co.postPage(insp, "outcome", "ready", "condition", "fair", "wiped", "yes")
		if status != 303 || loc != path("/checkin?inspected=%d", device) {
			t.Fatalf("inspection: %d %s", status, loc)
		}
		if status, body := l.co.getPage(loc); status != 200 || !strings.Contains(body, "PH-77 was inspected: it is available again") {
			t.Errorf("after the inspection: %d\n%s", status, body)
		}
		if d := e.must(200, l.coToken, "GET", path(v1+"/devices/%d", device), nil).JSON(t); d["status"] != "available" || d["last_wiped_at"] == nil {
			t.Errorf("the device inspected: %v", d)
		}
		// A social worker has neither check-in nor inspection.
		for _, p := range []string{"/checkin", insp} {
			if status, _ := l.sw.getPage(p); status != 403 {
				t.Errorf("a social worker's %s: %d", p, status)
			}
		}
	})
}

// The actions of a loan's page: their errors in place, the loan unchanged,
// and the reminder's once-only rule of the API.
func TestPagesLoanActions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnvWith(t, db, app.Options{}) // the default "remind now" window
		l := e.loanPeople()
		loan := e.loan(l.coToken, e.referred(l.swToken), e.device(l.coToken, "laptop"))
		page := path("/loans/%d", loan)

		status, _, body := l.co.postPage(page+"/renew", "due_on", "2026-04-01")
		if status != 422 || !strings.Contains(body, `id="f-due_on-error"`) || !strings.Contains(body, "must be after the current due date") || !strings.Contains(body, `value="2026-04-01"`) {
			t.Errorf("renew to an earlier date: %d\n%s", status, body)
		}
		status, loc, _ := l.co.postPage(page+"/renew", "due_on", "2026-05-10")
		if status != 303 || loc != page+"?done=renewed" {
			t.Fatalf("renew: %d %s", status, loc)
		}
		if m := e.must(200, l.coToken, "GET", v1+page, nil).JSON(t); m["due_on"] != "2026-05-10" || m["renewals"] != float64(1) {
			t.Errorf("renewed: %v", m)
		}
		// A social worker may not renew: 403, nothing changed.
		if status, _, _ := l.sw.postPage(page+"/renew", "due_on", "2026-06-10"); status != 403 {
			t.Errorf("a social worker renews: %d", status)
		}

		status, loc, _ = l.co.postPage(page+"/reminders", "note", "bring the charger")
		if status != 303 || loc != page+"?done=reminded" {
			t.Fatalf("remind: %d %s", status, loc)
		}
		res, body := l.co.send("POST", page+"/reminders", url.Values{"_csrf": {l.co.token(page)}})
		if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.Contains(body, "There is a problem") {
			t.Errorf("a second reminder at once: %d %v\n%s", res.StatusCode, res.Header, body)
		}
		if n := e.totalAt(l.coToken, path(v1+"/notifications?loan_id=%d&kind=manual", loan)); n != 1 {
			t.Errorf("%d manual reminders, want 1", n)
		}
		if status, body := l.co.getPage(page); status != 200 || !strings.Contains(body, "Reminders sent") || !strings.Contains(body, "<td>manual</td>") {
			t.Errorf("the reminders on the loan's page: %d\n%s", status, body)
		}

		status, loc, _ = l.co.postPage(page+"/lost", "notes", "left on a bus")
		if status != 303 || loc != page+"?done=lost" {
			t.Fatalf("lost: %d %s", status, loc)
		}
		status, _, body = l.co.postPage(page+"/lost", "notes", "again")
		if status != 409 || !strings.Contains(body, "is lost, not open") {
			t.Errorf("lost twice: %d\n%s", status, body)
		}
		status, _, body = l.co.postPage(page+"/recovered", "condition", "")
		if status != 422 || !strings.Contains(body, `id="f-condition-error"`) {
			t.Errorf("recovered without a condition: %d\n%s", status, body)
		}
		if status, loc, _ := l.co.postPage(page+"/recovered", "condition", "poor"); status != 303 || loc != page+"?done=recovered" {
			t.Errorf("recovered: %d %s", status, loc)
		}
		if m := e.must(200, l.coToken, "GET", v1+page, nil).JSON(t); m["status"] != "lost" || m["recovered_condition"] != "poor" {
			t.Errorf("the loan recovered: %v", m)
		}
		_ = fmt.Sprint
	})
}
