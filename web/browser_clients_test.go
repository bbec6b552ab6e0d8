package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
)

// click clicks the element sel matches (a check box, say), without
// waiting for a page.
func (b *browser) click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// A social worker, on a phone-sized page as in the field, records a
// client (a mistake first, shown in place), sees whether they qualify,
// asks for a tablet after seeing the answer, and books them into a
// training session; another worker who opens the client's page gets the
// 404 page.
func TestBrowserClients(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		tr := &trainers{e: e, coord: co}
		session := tr.session(testNow.Add(48*time.Hour), 2*time.Hour, 8, map[string]any{"title": "Your new tablet"})
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		_, otherEmail := e.staff(accounts.SocialWorker, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)

		if status := b.open("/clients"); status != 200 || b.text("h1") != "Clients" || !strings.Contains(b.text("main"), "No clients found") {
			t.Fatalf("GET /clients: %d, %q", status, b.text("main"))
		}
		b.check("clients-empty")
		if status := b.submit(`main a[href="/clients/new"]`); status != 200 || b.text("h1") != "New client" {
			t.Fatalf("the new client form: %d, %q", status, b.text("h1"))
		}
		b.check("client-new")

		const form = `main form[action="/clients/new"] button[type="submit"]`
		b.fill("case_number", "F-2041", "first_name", "Amara", "phone", "312 555 0142",
			"household_size", "3", "annual_income", "about twenty", "postal_code", "60601", "proof_verified_on", "2026-02-01")
		b.click(`#f-programs-0`) // SNAP
		b.click(`#f-needs-0`)    // no home internet
		if status := b.submit(form); status != 422 || !strings.Contains(b.text("#f-last_name-error"), "is required") ||
			!strings.Contains(b.text("#f-annual_income-error"), "amount in dollars") || !strings.Contains(b.text(".error-summary"), "Last name") {
			t.Fatalf("a client with mistakes: %d, %q", status, b.text("main"))
		}
		if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#f-first_name"))); got != "Amara" {
			t.Errorf("the first name typed is not kept: %q", got)
		}
		b.check("client-new-errors")
		if n := e.must(200, co, "GET", v1+"/clients", nil).JSON(t)["total"]; n != float64(0) {
			t.Fatalf("a form with mistakes saved a client: %v", n)
		}
		b.fill("last_name", "Okafor", "annual_income", "21000")
		if status := b.submit(form); status != 200 || b.text("h1") != "Amara Okafor" {
			t.Fatalf("the client recorded: %d, %q", status, b.text("main"))
		}
		if got := b.text(".outcome"); got != "Qualifies" || !strings.Contains(b.text(".reasons"), "SNAP") {
			t.Errorf("the client's eligibility: %q, %q", got, b.text(".reasons"))
		}
		b.check("client")
		clientPath, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			t.Fatal(err)
		}

		// A tablet: the answer first, then filed.
		if status := b.submit(`main a[href$="/request"]`); status != 200 || !strings.HasPrefix(b.text("h1"), "Ask for a device") {
			t.Fatalf("the request form: %d, %q", status, b.text("h1"))
		}
		b.check("client-request")
		b.fill("device_kind", "tablet", "reason", "school forms and telehealth")
		if status := b.submit(`main form input[value="check"] ~ button`); status != 200 || !strings.Contains(b.text("#answer-title"), "Amara qualifies") {
			t.Fatalf("the eligibility answer: %d, %q", status, b.text("main"))
		}
		b.check("client-request-answer")
		if n := e.must(200, co, "GET", v1+"/requests", nil).JSON(t)["total"]; n != float64(0) {
			t.Fatalf("a request was filed before it was confirmed: %v", n)
		}
		if status := b.submit(`.answer button[type="submit"]`); status != 200 || b.text("h1") != "Amara Okafor" ||
			!strings.Contains(b.text("main"), "tablet") {
			t.Fatalf("filing: %d, %q", status, b.text("main"))
		}
		if n := e.must(200, co, "GET", v1+"/requests", nil).JSON(t)["total"]; n != float64(1) {
			t.Errorf("requests filed: %v", n)
		}

		// Booked into training from the session's page.
		if status := b.open(path("/training/%d", session)); status != 200 || b.text("h1") != "Your new tablet" {
			t.Fatalf("the session: %d, %q", status, b.text("h1"))
		}
		b.check("training-session-worker")
		b.eval(`document.querySelector('#f-client_id').selectedIndex = 1`)
		if status := b.submit(`main form[action$="/enrol"] button`); status != 200 || !strings.Contains(b.text("main"), "1 of 8 taken") {
			t.Fatalf("booking: %d, %q", status, b.text("main"))
		}
		b.open(clientPath)
		if !strings.Contains(b.text("#training ~ ul"), "Your new tablet") {
			t.Errorf("the client's training: %q", b.text("main"))
		}
		b.check("client-with-request-and-training")

		// Another worker: the 404 page.
		o := e.browser()
		o.signIn(otherEmail, browserPassword)
		if status := o.open(clientPath); status != 404 || o.text("h1") != "Page not found" || strings.Contains(o.text("main"), "Okafor") {
			t.Errorf("another worker opens the client: %d, %q", status, o.text("main"))
		}
		o.check("client-not-found")
	})
}
