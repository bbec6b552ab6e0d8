package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// Hostile input to the pages, as an outsider would send it by hand: each
// is refused with a clear answer (no 500) and changes nothing, and its
// cost is bounded.

// A NUL character or bytes that are not UTF-8, in any posted field (or a
// field's name), refuse the form before anything is done: they broke the
// SQL of the client form (a 500), and are refused as the API refuses them.
func TestPagesInputNotText(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, wTok := e.pageUser(accounts.SocialWorker)
		co, _, _ := e.pageUser(accounts.Coordinator)
		clientsNow := func() float64 { return e.must(200, wTok, "GET", "/api/v1/clients", nil).JSON(t)["total"].(float64) }
		good := []string{"first_name", "Ana", "last_name", "Ruiz", "case_number", "C-1", "household_size", "1",
			"preferred_channel", "none", "preferred_language", "en", "postal_code", "12345"}
		for _, bad := range []string{"A\x00na", "A\xffna"} {
			status, _, body := w.postPage("/clients/new", with(good, "first_name", bad)...)
			if status != 422 || !strings.Contains(body, "“first_name”") || !strings.Contains(body, "Nothing was changed") || clientsNow() != 0 {
				t.Errorf("a client named %q: %d, %v clients\n%s", bad, status, clientsNow(), body)
			}
		}
		// A field's name, and the other forms: the same.
		if status, _, body := w.postPage("/clients/new", append(good, "x\x00", "1")...); status != 422 || clientsNow() != 0 {
			t.Errorf("a field named with a NUL: %d\n%s", status, body)
		}
		if status, _, body := co.postPage("/checkin", "asset_tag", "DB-\x00", "loan_id", "1"); status != 422 || !strings.Contains(body, "“asset_tag”") {
			t.Errorf("a scanned tag with a NUL: %d\n%s", status, body)
		}
		if status, _, body := w.postPage("/clients", "q", "An\x00"); status != 422 {
			t.Errorf("a search with a NUL: %d\n%s", status, body)
		}
		p := e.pageClient()
		res, body := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {"a\x00@agency.test"}, "password": {"x"}})
		if res.StatusCode != 422 || !strings.Contains(body, "“email”") {
			t.Errorf("a sign-in with a NUL: %d\n%s", res.StatusCode, body)
		}
		// A good form still goes through.
		if status, _, body := w.postPage("/clients/new", good...); status != 303 || clientsNow() != 1 {
			t.Errorf("a good client: %d\n%s", status, body)
		}
	})
}

// A page of the devices past the end of a one-device list showed the 500
// page (the single device looked for in an empty page), and an offset near
// the largest number overflowed the pager's arithmetic.
func TestPagesInputOffsets(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, coTok := e.user(accounts.Coordinator)
		e.device(coTok, "phone")
		co, _, _ := e.pageUser(accounts.Coordinator)
		for _, q := range []string{"offset=1", "offset=9223372036854775807", "offset=9223372036854775000&limit=500"} {
			status, body := co.getPage("/devices?" + q)
			if status != 200 || strings.Contains(body, "Next page") || strings.Contains(body, "offset=-") {
				t.Errorf("/devices?%s: %d\n%s", q, status, body)
			}
		}
		for _, q := range []string{"offset=-1", "limit=0", "limit=100000", "offset=99999999999999999999"} {
			if status, body := co.getPage("/devices?" + q); status != 422 {
				t.Errorf("/devices?%s: %d\n%s", q, status, body)
			}
		}
		status, body := co.getPage("/loans?offset=9223372036854775807")
		if status != 200 || strings.Contains(body, "Next page") {
			t.Errorf("/loans at the largest offset: %d\n%s", status, body)
		}
	})
}

// The sign-in form's next page is a path of this server only: a tab or a
// line break that a browser drops from the URL would make "/\t/elsewhere"
// the address of another site.
func TestPagesInputSignInNext(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		for next, want := range map[string]string{
			"/\t/evil.example":   "/",
			"/\n/evil.example":   "/",
			"/\x0b/evil.example": "/",
			"//evil.example":     "/",
			"/\\evil.example":    "/",
			"https://evil.test":  "/",
			"/clients?x=1":       "/clients?x=1",
		} {
			p := e.pageClient()
			res, body := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {browserPassword}, "next": {next}})
			if res.StatusCode != 303 || res.Header.Get("Location") != want {
				t.Errorf("next %q: %d %q, want %q\n%s", next, res.StatusCode, res.Header.Get("Location"), want, body)
			}
		}
	})
}

// The attendance form posted with thousands of repeated boxes costs what
// the roster costs: each client's line once (it was looked for in every
// box for every box, and recorded as often as it was repeated).
func TestPagesInputAttendanceRepeated(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		client := e.client(tr.sw)
		start := testNow.Add(-3 * time.Hour)
		session := tr.pastSession(start, 2*time.Hour, "device_basics", client)
		co, _, cTok := e.pageUser(accounts.Coordinator)
		id := path("%d", client)
		form := url.Values{"_csrf": {co.token("/")}}
		for range 25000 {
			form.Add("client", id)
			form.Add("present", id)
		}
		began := time.Now()
		res, body := co.send("POST", path("/training/%d/attendance", session), form)
		if took := time.Since(began); res.StatusCode != 303 || took > 5*time.Second {
			t.Fatalf("attendance with 25,000 repeated boxes: %d in %v\n%s", res.StatusCode, took, body)
		}
		if got := e.places(cTok, session)[client]; got["attendance"] != "present" {
			t.Errorf("the attendance recorded: %v", got)
		}
		// A client not on the roster, among them: nothing recorded, the
		// value shown cut short.
		other := e.client(tr.sw)
		res, body = co.send("POST", path("/training/%d/attendance", session), url.Values{"_csrf": {form.Get("_csrf")},
			"client": {path("%d", other), strings.Repeat("9", 5000)}, "present": {path("%d", other)}})
		if res.StatusCode != 422 || strings.Contains(body, strings.Repeat("9", 100)) || e.places(cTok, session)[other] != nil {
			t.Errorf("attendance of a client not on the roster: %d\n%s", res.StatusCode, body)
		}
	})
}

// The rules form names each rule's parent: parents that go round in a
// circle (a group its own parent, or two groups each other's) built the
// tree for ever, a stack overflow that ends the whole server. Refused in
// place now, nothing saved.
func TestPagesInputRulesCircle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		for name, form := range map[string]url.Values{
			"its own parent": {"node": {"rules"}, "rules-kind": {"all_of"}, "rules-parent": {"rules"}},
			"each other's":   {"node": {"rules", "a"}, "rules-kind": {"all_of"}, "rules-parent": {"a"}, "a-kind": {"any_of"}, "a-parent": {"rules"}},
		} {
			form.Set("action", "save")
			form.Set("name", "Circle")
			form.Set("region", "48")
			status, body := admin.postForm("/eligibility/rules", "/eligibility/rules", form)
			if status != 422 || !strings.Contains(body, "inside itself") || e.ruleVersion() != 1 {
				t.Errorf("a group %s: %d, version %d\n%s", name, status, e.ruleVersion(), body)
			}
		}
	})
}

// The signing form carries the version of the terms its agreement printed:
// terms changed between the printing and the signing sign nothing (the
// client would have signed terms they never read); the page then carries
// the new version, to print and sign.
func TestPagesInputSignTermsChanged(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		l := e.loanPeople()
		_, admin := e.user(accounts.Admin)
		loan := e.loan(l.coToken, e.referred(l.swToken), e.device(l.coToken, "phone"))
		sign := path("/loans/%d/sign", loan)
		_, page := l.sw.getPage(sign)
		if !strings.Contains(page, `name="terms_version" value="1"`) {
			t.Fatalf("the signing form has no terms version:\n%s", page)
		}
		e.must(201, admin, "PUT", v1+"/agreement/terms", map[string]any{"body": "New terms."})
		form := url.Values{"_csrf": {l.sw.token("/")}, "method": {"typed"}, "typed_name": {"Ana Client"}, "terms_version": {"1"}}
		res, body := l.sw.send("POST", sign, form)
		if res.StatusCode != 409 || !strings.Contains(body, "now version 2") || !strings.Contains(body, `name="terms_version" value="2"`) {
			t.Errorf("signing terms that changed: %d\n%s", res.StatusCode, body)
		}
		e.must(404, l.swToken, "GET", path(v1+"/loans/%d/agreement", loan), nil)
		form.Set("terms_version", "x")
		if res, _ := l.sw.send("POST", sign, form); res.StatusCode != 422 {
			t.Errorf("a terms version that is no number: %d", res.StatusCode)
		}
		form.Set("terms_version", "2")
		if res, body := l.sw.send("POST", sign, form); res.StatusCode != 303 {
			t.Fatalf("signing the new terms: %d\n%s", res.StatusCode, body)
		}
		if got := e.must(200, l.swToken, "GET", path(v1+"/loans/%d/agreement", loan), nil).JSON(t); got["terms_version"] != float64(2) {
			t.Errorf("the signing recorded: %v", got)
		}
	})
}

// Two browsers sending the same form at once (a double click, or two
// people on one record) do the thing once: one approval of a request, one
// signing of an agreement, one attendance record.
func TestPagesInputConcurrentPosts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const n = 4
		race := func(what string, post func(i int) int) []int {
			t.Helper()
			out := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() { defer wg.Done(); out[i] = post(i) }()
			}
			wg.Wait()
			ok := 0
			for _, s := range out {
				if s == 303 {
					ok++
				} else if s != 409 {
					t.Errorf("%s: a post answered %d", what, s)
				}
			}
			if ok != 1 {
				t.Errorf("%s: %d of %d posts done, want 1: %v", what, ok, n, out)
			}
			return out
		}
		_, _, sw := e.pageUser(accounts.SocialWorker)
		_, _, admin := e.pageUser(accounts.Admin)
		client := e.situated(sw, map[string]any{"annual_income_cents": 2732000, "proof_verified_on": nil})
		req := e.must(201, sw, "POST", requestsURL, map[string]any{"client_id": client, "device_kind": "tablet"}).ID(t)
		var coords []*pageClient
		for range n {
			co, _, _ := e.pageUser(accounts.Coordinator)
			coords = append(coords, co)
		}
		tokens := make([]string, n)
		for i, co := range coords {
			tokens[i] = co.token("/")
		}
		race("approve", func(i int) int {
			res, _ := coords[i].send("POST", path("/requests/%d/approve", req), url.Values{"_csrf": {tokens[i]}, "justification": {"proof seen"}})
			return res.StatusCode
		})
		if got := e.must(200, admin, "GET", path(requestsURL+"/%d", req), nil).JSON(t)["status"]; got == "needs_review" {
			t.Errorf("the request after the approvals: %v", got)
		}

		_, coTok := e.user(accounts.Coordinator)
		_, _, swTok, swEmail := e.pageUserEmail(accounts.SocialWorker)
		loan := e.loan(coTok, e.referred(swTok), e.device(coTok, "phone"))
		var signers []*pageClient // the client's worker, in n browsers
		for range n {
			p := e.pageClient()
			p.signIn(swEmail, browserPassword)
			signers = append(signers, p)
		}
		for i, p := range signers {
			tokens[i] = p.token("/")
		}
		race("sign", func(i int) int {
			res, _ := signers[i].send("POST", path("/loans/%d/sign", loan), url.Values{"_csrf": {tokens[i]}, "method": {"typed"}, "typed_name": {"Ana Client"}})
			return res.StatusCode
		})
		signed := 0
		for _, ev := range e.events("loan", loan) {
			if ev.Action == "agreement.signed" {
				signed++
			}
		}
		if signed != 1 {
			t.Errorf("the agreement signed %d times", signed)
		}

		tr := newTrainers(e)
		student := e.client(tr.sw)
		session := tr.pastSession(testNow.Add(-3*time.Hour), 2*time.Hour, "device_basics", student)
		for i, co := range coords {
			tokens[i] = co.token("/")
		}
		id := path("%d", student)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, _ := coords[i].send("POST", path("/training/%d/attendance", session), url.Values{"_csrf": {tokens[i]}, "client": {id}, "present": {id}})
				if res.StatusCode != 303 {
					t.Errorf("attendance at once: %d", res.StatusCode)
				}
			}()
		}
		wg.Wait()
		recorded := 0
		for _, ev := range e.must(200, tr.coord, "GET", path(v1+"/clients/%d/history?limit=500", student), nil).JSON(t)["items"].([]any) {
			if ev.(map[string]any)["action"] == "training.attendance_recorded" {
				recorded++
			}
		}
		if recorded != 1 {
			t.Errorf("attendance posted %d times at once recorded %d times", n, recorded)
		}
	})
}

// The session form sent again (back and send, a second click) scheduled a
// second session: a session has no number of its own to refuse it by.
// The same title, place and times already scheduled are refused in place.
func TestPagesInputSessionSentTwice(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		co, _, tok := e.pageUser(accounts.Coordinator)
		count := func() float64 { return e.must(200, tok, "GET", sessionsURL, nil).JSON(t)["total"].(float64) }
		good := []string{"title", "Your new tablet", "topic", "device_basics", "language", "en", "location", "Library",
			"starts_at", "2026-03-12T17:30", "ends_at", "2026-03-12T19:30", "capacity", "8", "instructor", "M. Ortiz"}
		if status, _, body := co.postPage("/training/new", good...); status != 303 || count() != 1 {
			t.Fatalf("a session: %d\n%s", status, body)
		}
		status, _, body := co.postPage("/training/new", good...)
		if status != 409 || !strings.Contains(body, "scheduled already") || !strings.Contains(body, `value="Your new tablet"`) || count() != 1 {
			t.Errorf("the same form again: %d, %v sessions\n%s", status, count(), body)
		}
		// Another session at the same time, elsewhere, is no resend.
		if status, _, body := co.postPage("/training/new", with(good, "location", "Room 2")...); status != 303 || count() != 2 {
			t.Errorf("a second room: %d\n%s", status, body)
		}
		// A bad form is still told all its problems.
		if status, _, body := co.postPage("/training/new", with(with(good, "capacity", "many"), "title", "")...); status != 422 ||
			!strings.Contains(body, `id="f-capacity-error"`) || !strings.Contains(body, `id="f-title-error"`) {
			t.Errorf("a bad form: %d\n%s", status, body)
		}
	})
}

// A page's form is bounded as the API's bodies are: a compressed body is
// refused before it is read (415), and one past the body limit is refused
// (413); neither changes anything.
func TestPagesInputBodyBounds(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, wTok := e.pageUser(accounts.SocialWorker)
		clientsNow := func() float64 { return e.must(200, wTok, "GET", "/api/v1/clients", nil).JSON(t)["total"].(float64) }
		form := url.Values{"_csrf": {w.token("/")}, "first_name": {"Ana"}, "last_name": {"Ruiz"}, "case_number": {"C-1"},
			"household_size": {"1"}, "preferred_channel": {"none"}, "preferred_language": {"en"}, "postal_code": {"12345"}}
		for _, coding := range []string{"gzip", "deflate", "identity, gzip"} {
			if res, _ := w.send("POST", "/clients/new", form, "Content-Encoding", coding); res.StatusCode != 415 || clientsNow() != 0 {
				t.Errorf("a form sent with Content-Encoding %s: %d, %v clients", coding, res.StatusCode, clientsNow())
			}
		}
		big := url.Values{}
		for k, v := range form {
			big[k] = v
		}
		big.Set("last_name", strings.Repeat("R", 2<<20))
		// The server answers on the declared length and closes the
		// connection without reading the rest: the client may see the
		// connection reset instead of the answer. Either way, nothing saved.
		req, _ := http.NewRequest("POST", e.base+"/clients/new", strings.NewReader(big.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if res, err := w.c.Do(req); err != nil {
			t.Logf("a form past the body limit: %v", err)
		} else {
			res.Body.Close()
			if res.StatusCode != 413 {
				t.Errorf("a form past the body limit: %d", res.StatusCode)
			}
		}
		if clientsNow() != 0 {
			t.Errorf("a form past the body limit saved a client")
		}
	})
}
