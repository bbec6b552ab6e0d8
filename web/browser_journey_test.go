package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
)

// The whole journey of a tablet, each person in their own browser: a
// social worker records a client and asks for a tablet; the rules cannot
// decide (no proof seen yet), so a coordinator reviews and approves the
// request, issues the tablet by its tag with a signature drawn on the
// pad, and downloads the signed agreement; the worker sees the loan on
// the client's page; the tablet comes back, is checked in by its tag and
// inspected; the funder whose grant paid for it finds it in their report.
func TestBrowserJourney(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		grant := e.fundingSource(admin, "Digital Inclusion Grant")
		funderID, funderEmail := e.staff(accounts.Funder, browserPassword)
		e.must(200, admin, "PATCH", path(v1+"/users/%d", funderID), map[string]any{"funding_source_ids": []int64{grant}})
		_, co := e.user(accounts.Coordinator)
		tablet := e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": "tablet", "make": "Acme", "model": "Tab 10",
			"funding_source_id": grant}).JSON(t)
		tag := tablet["asset_tag"].(string)
		_, workerEmail := e.staff(accounts.SocialWorker, browserPassword)
		_, coordinatorEmail := e.staff(accounts.Coordinator, browserPassword)

		// The worker records the client and asks for a tablet.
		w := e.browser()
		w.signIn(workerEmail, browserPassword)
		w.open("/clients/new")
		w.fill("case_number", "J-1001", "first_name", "Lena", "last_name", "Moreau", "household_size", "2",
			"phone", "312 555 0187", "annual_income", "18000", "postal_code", "60601")
		if status := w.submit(`main form[action="/clients/new"] button[type="submit"]`); status != 200 || w.text("h1") != "Lena Moreau" {
			t.Fatalf("the client recorded: %d, %q", status, w.text("main"))
		}
		clientPath, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			t.Fatal(err)
		}
		w.submit(`main a[href$="/request"]`)
		w.fill("device_kind", "tablet", "reason", "job applications")
		if status := w.submit(`main form input[value="check"] ~ button`); status != 200 || !strings.Contains(w.text("#answer-title"), "review") {
			t.Fatalf("the eligibility answer: %d, %q", status, w.text("main"))
		}
		if status := w.submit(`.answer button[type="submit"]`); status != 200 || !strings.Contains(w.text("#requests ~ ul"), "needs review") {
			t.Fatalf("the request filed: %d, %q", status, w.text("main"))
		}

		// The coordinator reviews and approves it: it is ready, the
		// tablet held for it.
		c := e.browser()
		c.signIn(coordinatorEmail, browserPassword)
		if status := c.open("/requests"); status != 200 || !strings.Contains(c.text("table"), "Lena Moreau") {
			t.Fatalf("the requests to decide: %d, %q", status, c.text("main"))
		}
		c.check("requests")
		c.submit(`table a[href^="/requests/"]`)
		if !strings.Contains(c.text("main"), "no proof of income or programs has been verified yet") {
			t.Errorf("the request's page does not say why it needs review: %q", c.text("main"))
		}
		c.check("request")
		c.fill("justification", "proof of income seen at the office")
		if status := c.submit(`main form[action$="/approve"] button[type="submit"]`); status != 200 || !strings.Contains(c.text(".notice"), "approved") ||
			!strings.Contains(c.text(".facts"), "ready") {
			t.Fatalf("approving: %d, %q", status, c.text("main"))
		}
		c.check("request-approved")

		// Issued by its tag, signed on the pad, the agreement downloaded.
		c.open("/loans/new")
		if err := chromedp.Do(c.ctx, chromedp.Click(chromedp.CSS(`#f-request_id`))); err != nil {
			t.Fatal(err)
		}
		c.fill("asset_tag", tag)
		if status := c.submit(`main form button[type="submit"]`); status != 200 || c.text("h1") != "Sign the agreement" {
			t.Fatalf("issuing: %d, %q", status, c.text("main"))
		}
		c.drawSignature()
		if status := c.submit(`#sign-form button[type="submit"]`); status != 200 || !strings.Contains(c.text(".notice"), "The agreement was signed") {
			t.Fatalf("signing: %d, %q", status, c.text("main"))
		}
		if pdf := c.download(`a[href$="/agreement.pdf"]`); !strings.HasPrefix(string(pdf), "%PDF") {
			t.Errorf("the agreement downloaded is not a PDF: %q", pdf[:min(len(pdf), 8)])
		}

		// The worker sees the loan on the client's page.
		w.open(clientPath)
		if got := w.text("#loans ~ ul"); !strings.Contains(got, "tablet") || !strings.Contains(got, "open") {
			t.Errorf("the client's page does not show the loan: %q", w.text("main"))
		}
		w.check("journey-client-with-loan")

		// Back: checked in by its tag, inspected and wiped.
		c.open("/checkin")
		c.fill("asset_tag", tag)
		c.submit(`main form[method="get"] button`)
		c.fill("condition", "good")
		if status := c.submit(`main form[method="post"] button`); status != 200 || c.text("h1") != "Inspect "+tag {
			t.Fatalf("the return: %d, %q", status, c.text("main"))
		}
		c.click(`#f-wiped`)
		if status := c.submit(`main form button[type="submit"]`); status != 200 || !strings.Contains(c.text(".notice"), "available again") {
			t.Fatalf("the inspection: %d, %q", status, c.text("main"))
		}

		// The outbox, as the dashboard links it.
		if status := c.open("/notifications"); status != 200 || c.text("h1") != "Notifications" {
			t.Errorf("the notifications: %d, %q", status, c.text("main"))
		}
		c.check("notifications")

		// The funder's report of this month counts the loan.
		f := e.browser()
		f.signIn(funderEmail, browserPassword)
		from, to := e.thisMonth()
		f.open("/reports")
		f.fill("from", from, "to", to)
		if status := f.submit(`main form[action="/reports"] button[type="submit"]`); status != 200 {
			t.Fatalf("the funder's report: %d, %q", status, f.text("main"))
		}
		desc, err := chromedp.Run(f.ctx, chromedp.Evaluate[string](`document.getElementById("chart-desc").textContent`))
		if err != nil || !strings.Contains(desc, "1 issued") || !strings.Contains(desc, "1 returned") {
			t.Errorf("the funder's report does not count the loan: %q %v", desc, err)
		}
		if strings.Contains(f.text("main"), "Moreau") || strings.Contains(f.text("main"), "J-1001") {
			t.Errorf("the funder's report names the client")
		}
		f.check("journey-funder-report")
	})
}
