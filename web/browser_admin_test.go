package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// An admin walks every admin page: a staff account made and edited, a
// funding source, the rules with a mistake shown under its rule and then
// fixed, the reminder policy, the terms.
func TestBrowserAdminPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Admin, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)
		if status := b.submit(`header nav a[href="/admin"]`); status != 200 || b.text("h1") != "Administration" {
			t.Fatalf("the Admin link: %d, %q", status, b.text("h1"))
		}
		b.check("admin")

		// Staff: a new account, with a mistake first.
		b.submit(`main a[href="/users"]`)
		b.submit(`main a[href="/users/new"]`)
		b.check("user-new")
		b.fill("email", "sam@", "name", "Sam Worker")
		if status := b.submit(`main form[action="/users"] button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-email-error"), "email address") {
			t.Errorf("a bad email: %d, %q", status, b.text("main"))
		}
		if b.value("#f-name") != "Sam Worker" {
			t.Errorf("the name typed is lost")
		}
		b.check("user-new-errors")
		b.fill("email", "sam@agency.test")
		if status := b.submit(`main form[action="/users"] button[type="submit"]`); status != 201 || len(b.text("#one-time-password")) < 16 {
			t.Fatalf("a new account: %d, %q", status, b.text("main"))
		}
		b.check("user-created")
		b.submit(`main a[href^="/users/"]`)
		if !strings.HasPrefix(b.text("h1"), "Sam Worker") {
			t.Fatalf("the account's page: %q", b.text("h1"))
		}
		b.check("user")
		b.fill("name", "Sam Q. Worker")
		if status := b.submit(`main form[method="post"]:not([action$="password-reset"]) button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "saved") {
			t.Errorf("save the account: %d, %q", status, b.text("main"))
		}
		if status := b.submit(`main form[action$="password-reset"] button`); status != 200 || len(b.text("#one-time-password")) < 16 {
			t.Errorf("reset the password: %d, %q", status, b.text("main"))
		}
		b.check("user-password-reset")

		// Funding sources.
		b.open("/funding-sources")
		b.check("funding-sources")
		b.submit(`main a[href="/funding-sources/new"]`)
		b.fill("name", "City Grant", "grant_starts_on", "2026-06-01", "grant_ends_on", "2026-05-01")
		if status := b.submit(`main form button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-grant_ends_on-error"), "must not be before") {
			t.Errorf("a grant that ends before it starts: %d, %q", status, b.text("main"))
		}
		b.check("funding-source-errors")
		b.fill("grant_ends_on", "2027-05-31")
		if status := b.submit(`main form button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "saved") {
			t.Errorf("a new funding source: %d, %q", status, b.text("main"))
		}
		b.check("funding-source")

		// The rules: a mistake is shown next to its field, then fixed; a
		// rule added and removed.
		if status := b.open("/eligibility/rules"); status != 200 || b.value("#f-rules-all_of-1-months") != "12" {
			t.Fatalf("the rules: %d, %q", status, b.text("main"))
		}
		b.check("eligibility-rules")
		b.fill("rules-all_of-1-months", "0")
		save := `main form[action="/eligibility/rules"] button[value="save"]`
		if status := b.submit(save); status != 422 {
			t.Errorf("an invalid rule: %d", status)
		}
		if got := b.text("#r-rules-all_of-1 #f-rules-all_of-1-months-error"); !strings.Contains(got, "must be 1 to 120") {
			t.Errorf("the problem next to its field: %q", got)
		}
		if got := b.text(".error-summary"); !strings.Contains(got, "Rule 2: months: must be 1 to 120") {
			t.Errorf("the summary: %q", got)
		}
		b.check("eligibility-rules-errors")
		b.fill("rules-all_of-1-months", "6")
		b.eval(`document.getElementById("f-rules-add").value = "age_range"`)
		if status := b.submit(`main button[value="add:rules"]`); status != 200 || !strings.Contains(b.text("#r-rules-all_of-5 legend"), "Age range") ||
			b.value("#f-rules-all_of-1-months") != "6" {
			t.Fatalf("add a rule: %d, %q", status, b.text("main"))
		}
		b.check("eligibility-rules-added")
		if status := b.submit(`main button[value="remove:rules-all_of-5"]`); status != 200 || b.text("#r-rules-all_of-5") != "" {
			t.Errorf("remove the rule: %d", status)
		}
		if status := b.submit(save); status != 200 || !strings.Contains(b.text(".notice"), "saved") || b.value("#f-rules-all_of-1-months") != "6" {
			t.Errorf("the fixed rules: %d, %q", status, b.text("main"))
		}

		// The reminder policy.
		b.open("/reminders/policy")
		b.check("reminder-policy")
		b.fill("due_soon_days", "3, 100", "send_at", "")
		if status := b.submit(`main form[action="/reminders/policy"] button[type="submit"]`); status != 422 ||
			!strings.Contains(b.text("#f-due_soon_days-error"), "day 2") || b.text("#f-send_at-error") == "" {
			t.Errorf("a bad policy: %d, %q", status, b.text("main"))
		}
		b.check("reminder-policy-errors")
		b.fill("due_soon_days", "5, 2", "send_at", "08:30")
		if status := b.submit(`main form[action="/reminders/policy"] button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "saved") {
			t.Errorf("a good policy: %d, %q", status, b.text("main"))
		}
		if pol, _ := e.svc.Notifications.Policy(context.Background()); pol.SendAt != "08:30" || pol.DueSoonDays[0] != 5 {
			t.Errorf("the policy saved: %+v", pol)
		}

		// The terms and the agency details.
		b.open("/agreement/terms")
		b.check("agreement-terms")
		b.submit(`main a[href="/agreement/terms?language=fr"]`)
		b.eval(`document.getElementById("f-body").value = ""`)
		if status := b.submit(`main form[action="/agreement/terms"] button[type="submit"]`); status != 422 || b.text("#f-body-error") == "" {
			t.Errorf("empty terms: %d, %q", status, b.text("main"))
		}
		b.check("agreement-terms-errors")
		b.fill("body", "Conditions nouvelles.\n\nDeuxième paragraphe.")
		if status := b.submit(`main form[action="/agreement/terms"] button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "Version 2") {
			t.Errorf("new French terms: %d, %q", status, b.text("main"))
		}
		b.submit(`main a[href="/agreement/terms/fr/2"]`)
		if !strings.Contains(b.text("main"), "Deuxième paragraphe.") {
			t.Errorf("version 2: %q", b.text("main"))
		}
		b.check("agreement-terms-version")

		// The retention policy, with a mistake first.
		b.open("/retention/policy")
		b.check("retention-policy")
		b.fill("inactive_client_years", "0")
		if status := b.submit(`main form[action="/retention/policy"] button[type="submit"]`); status != 422 ||
			!strings.Contains(b.text("#f-inactive_client_years-error"), "from 1 to 50") {
			t.Errorf("a bad retention policy: %d, %q", status, b.text("main"))
		}
		b.check("retention-policy-errors")
		b.fill("inactive_client_years", "6")
		if status := b.submit(`main form[action="/retention/policy"] button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "saved") {
			t.Errorf("a good retention policy: %d, %q", status, b.text("main"))
		}

		// A client erased from their page.
		_, sw := e.user(accounts.SocialWorker)
		client := e.client(sw)
		b.open(path("/clients/%d", client))
		if status := b.submit(path(`main a[href="/clients/%d/erase"]`, client)); status != 200 || !strings.HasPrefix(b.text("h1"), "Erase Ana") {
			t.Fatalf("the erasure page: %d, %q", status, b.text("main"))
		}
		b.check("client-erase")
		b.fill("reason", "the client asked on 2026-12-01")
		erase := path(`main form[action="/clients/%d/erase"] button[type="submit"]`, client)
		if status := b.submit(erase); status != 422 || !strings.Contains(b.text("#f-confirm-error"), "tick the box") {
			t.Errorf("an erasure not confirmed: %d, %q", status, b.text("main"))
		}
		b.eval(`document.getElementById("f-confirm").checked = true`)
		if status := b.submit(erase); status != 200 || b.text("h1") != "Client erased" {
			t.Errorf("the erasure: %d, %q", status, b.text("main"))
		}
		b.check("client-erased")
	})
}

// A user an admin deactivates on their page is signed out: their next
// page asks them to sign in.
func TestBrowserAdminDeactivatesAUser(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, adminEmail := e.staff(accounts.Admin, browserPassword)
		workerID, workerEmail := e.staff(accounts.SocialWorker, browserPassword)
		w := e.browser()
		w.signIn(workerEmail, browserPassword)

		b := e.browser()
		b.signIn(adminEmail, browserPassword)
		b.open(path("/users/%d", workerID))
		b.eval(`document.getElementById("f-active").checked = false`)
		if status := b.submit(`main form[method="post"]:not([action$="password-reset"]) button[type="submit"]`); status != 200 || !strings.Contains(b.text("main"), "deactivated") {
			t.Fatalf("deactivate: %d, %q", status, b.text("main"))
		}
		b.check("user-deactivated")

		if status := w.open("/password"); status != 401 || w.text("h1") != "Sign in" {
			t.Errorf("the deactivated user's next page: %d, %q", status, w.text("h1"))
		}
		w.fill("email", workerEmail, "password", browserPassword)
		if status := w.submit(`main button[type="submit"]`); status == 200 || w.text("h1") != "Sign in" {
			t.Errorf("the deactivated user signs in again: %d, %q", status, w.text("h1"))
		}
	})
}
