package web_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/retention"
	"github.com/devicebank/devicebank/storage"
)

// postForm posts fields to path with the CSRF token of the page at from.
func (p *pageClient) postForm(from, path string, fields url.Values) (int, string) {
	p.e.t.Helper()
	form := url.Values{"_csrf": {p.token(from)}}
	for k, v := range fields {
		form[k] = v
	}
	res, body := p.send("POST", path, form)
	return res.StatusCode, body
}

// signedIn is a page client signed in as a new user of role.
func (e *env) signedIn(role accounts.Role) (*pageClient, int64) {
	e.t.Helper()
	id, email := e.staff(role, browserPassword)
	p := e.pageClient()
	p.signIn(email, browserPassword)
	return p, id
}

func (e *env) ruleVersion() int {
	e.t.Helper()
	r, err := e.svc.Eligibility.CurrentRuleSet(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Version
}

var oneTimePassword = regexp.MustCompile(`<code id="one-time-password">([^<]+)</code>`)

// Only an admin opens and posts the admin pages; every other role gets
// the 403 page and changes nothing, and a record that does not exist is
// the 404 page.
func TestAdminPagesByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, adminToken := e.user(accounts.Admin)
		source := e.fundingSource(adminToken, "Rotary Fund")
		subject, _ := e.staff(accounts.SocialWorker, browserPassword)
		pages := []string{"/admin", "/users", "/users/new", path("/users/%d", subject), "/funding-sources", "/funding-sources/new",
			path("/funding-sources/%d", source), "/eligibility/rules", "/reminders/policy", "/agreement/terms", "/agreement/terms/en/1",
			"/retention/policy"}
		posts := map[string]url.Values{
			"/users":                   {"email": {"someone@agency.test"}, "name": {"Someone"}, "role": {"admin"}},
			path("/users/%d", subject): {"name": {"Renamed"}, "role": {"admin"}, "active": {"true"}},
			path("/users/%d/password-reset", subject): {"stamp": {"x"}},
			"/funding-sources":                        {"name": {"Another Fund"}},
			path("/funding-sources/%d", source):       {"name": {"Renamed Fund"}},
			"/eligibility/rules":                      {"name": {"x"}, "region": {"48"}, "rules": {`{"kind": "income", "percent": 100}`}},
			"/reminders/policy":                       {"send_at": {"09:00"}, "catch_up_days": {"1"}, "training_hours_before": {"0"}},
			"/agreement/terms":                        {"language": {"en"}, "base": {"1"}, "body": {"New terms."}},
			"/retention/policy": {"notification_texts_days": {"30"}, "sms_replies_days": {"30"}, "ended_sessions_days": {"30"},
				"inactive_client_years": {"3"}},
		}
		for _, role := range accounts.Roles {
			p, _ := e.signedIn(role)
			want := 403
			if role == accounts.Admin {
				want = 200
			}
			for _, page := range pages {
				res, body := p.send("GET", page, nil)
				if res.StatusCode != want || want == 403 && !strings.Contains(body, "You cannot open this page") {
					t.Errorf("%s GET %s: %d, want %d", role, page, res.StatusCode, want)
				}
			}
			_, home := p.send("GET", "/", nil)
			if strings.Contains(home, `href="/admin"`) != (role == accounts.Admin) {
				t.Errorf("%s: the link to /admin on the home page is wrong", role)
			}
			if role == accounts.Admin {
				continue
			}
			for page, form := range posts {
				if status, _ := p.postForm("/password", page, form); status != 403 {
					t.Errorf("%s POST %s: %d, want 403", role, page, status)
				}
			}
		}
		// Nothing was changed by the refused posts.
		if _, err := e.svc.Accounts.UserByEmail(context.Background(), "someone@agency.test"); err == nil {
			t.Errorf("a refused post created a user")
		}
		if u, _ := e.svc.Accounts.User(context.Background(), subject); u.Name == "Renamed" || u.Role != accounts.SocialWorker {
			t.Errorf("a refused post changed the user: %+v", u)
		}
		if e.ruleVersion() != 1 {
			t.Errorf("a refused post saved rules")
		}
		admin, _ := e.signedIn(accounts.Admin)
		for _, page := range []string{"/users/999999", "/users/abc", "/funding-sources/999999", "/agreement/terms/en/99", "/agreement/terms/xx/1"} {
			if res, body := admin.send("GET", page, nil); res.StatusCode != 404 || !strings.Contains(body, "Page not found") {
				t.Errorf("GET %s: %d", page, res.StatusCode)
			}
		}
	})
}

// Every admin form posted without its CSRF token is refused and changes
// nothing.
func TestAdminPagesCSRF(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		subject, _ := e.staff(accounts.SocialWorker, browserPassword)
		u, _ := e.svc.Accounts.User(context.Background(), subject)
		_, sw := e.user(accounts.SocialWorker)
		client := e.client(sw)
		for page, form := range map[string]url.Values{
			"/users":                   {"email": {"someone@agency.test"}, "name": {"Someone"}, "role": {"admin"}},
			path("/users/%d", subject): {"name": {"Renamed"}, "role": {"social_worker"}, "active": {"true"}},
			path("/users/%d/password-reset", subject): {"stamp": {accounts.PasswordStamp(u)}},
			"/funding-sources":                        {"name": {"A Fund"}},
			"/eligibility/rules":                      {"name": {"x"}, "region": {"48"}, "rules": {`{"kind": "income", "percent": 100}`}},
			"/reminders/policy":                       {"send_at": {"10:00"}, "catch_up_days": {"1"}, "training_hours_before": {"0"}},
			"/agreement/terms":                        {"language": {"en"}, "base": {"1"}, "body": {"New terms."}},
			"/retention/policy": {"notification_texts_days": {"30"}, "sms_replies_days": {"30"}, "ended_sessions_days": {"30"},
				"inactive_client_years": {"3"}},
			path("/clients/%d/erase", client): {"reason": {"asked"}, "confirm": {"true"}},
		} {
			if res, body := admin.send("POST", page, form); res.StatusCode != 403 || !strings.Contains(body, "Nothing was changed") {
				t.Errorf("POST %s without its token: %d", page, res.StatusCode)
			}
		}
		if _, err := e.svc.Accounts.UserByEmail(context.Background(), "someone@agency.test"); err == nil {
			t.Errorf("a user was created without the token")
		}
		if after, _ := e.svc.Accounts.User(context.Background(), subject); after.Name != u.Name || accounts.PasswordStamp(after) != accounts.PasswordStamp(u) {
			t.Errorf("the user changed without the token")
		}
		if _, n, _ := e.svc.Funding.List(context.Background(), anyAdmin, storage.Page{Limit: 10}); n != 0 {
			t.Errorf("a funding source was made without the token")
		}
		if e.ruleVersion() != 1 {
			t.Errorf("rules were saved without the token")
		}
		if pol, _ := e.svc.Notifications.Policy(context.Background()); pol.SendAt != "09:00" {
			t.Errorf("the policy changed without the token: %+v", pol)
		}
		if pol, _ := retention.Current(context.Background(), e.svc.DB); pol != retention.DefaultPolicy {
			t.Errorf("the retention policy changed without the token: %+v", pol)
		}
		e.must(200, sw, "GET", path(v1+"/clients/%d", client), nil)
	})
}

// An admin makes an account with a one-time password shown once, edits
// it, links a funder's funding sources, deactivates it (which ends the
// user's session) and resets its password, shown once and never twice.
func TestAdminUserPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, adminToken := e.user(accounts.Admin)
		a, b := e.fundingSource(adminToken, "A Fund"), e.fundingSource(adminToken, "B Fund")
		admin, adminID := e.signedIn(accounts.Admin)

		// Bad input: in place, nothing made.
		status, page := admin.postForm("/users/new", "/users", url.Values{"email": {"not an email"}, "name": {""}, "role": {"boss"}})
		for _, field := range []string{"email", "name", "role"} {
			if !strings.Contains(page, `id="f-`+field+`-error"`) || !strings.Contains(page, `<a href="#f-`+field+`">`) {
				t.Errorf("the error of %s is not in place and at the top", field)
			}
		}
		if status != 422 || !strings.Contains(page, `value="not an email"`) || oneTimePassword.MatchString(page) {
			t.Errorf("a bad new user: %d\n%s", status, page)
		}
		if _, n, _ := e.svc.Accounts.ListUsers(context.Background(), storage.Page{Limit: 10}); n != 2 {
			t.Errorf("%d users after a bad form, want 2", n)
		}

		form := url.Values{"email": {"Robin.Funder@agency.test"}, "name": {"Robin Funder"}, "role": {"funder"}}
		res, page := admin.send("POST", "/users", withToken(admin, "/users/new", form))
		m := oneTimePassword.FindStringSubmatch(page)
		if res.StatusCode != 201 || m == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("a new user: %d %v\n%s", res.StatusCode, res.Header, page)
		}
		u, err := e.svc.Accounts.UserByEmail(context.Background(), "robin.funder@agency.test")
		if err != nil || !u.MustChangePassword || u.Role != accounts.Funder {
			t.Fatalf("the user made: %+v %v", u, err)
		}
		// The password is one-time: it signs in with a new one.
		e.must(422, "", "POST", "/api/v1/auth/token", map[string]any{"email": u.Email, "password": m[1]})
		// The form sent again makes no second account and shows no password.
		res, page = admin.send("POST", "/users", withToken(admin, "/users/new", form))
		if res.StatusCode != 409 || !strings.Contains(page, "is already in use") || oneTimePassword.MatchString(page) {
			t.Errorf("the new-user form sent again: %d\n%s", res.StatusCode, page)
		}

		// A funder's funding sources are check boxes.
		userPage := path("/users/%d", u.ID)
		_, page = admin.send("GET", userPage, nil)
		if !strings.Contains(page, `name="funding_source_ids" value="`+strconv.FormatInt(a, 10)+`"`) || strings.Contains(page, m[1]) {
			t.Fatalf("the funder's page:\n%s", page)
		}
		status, _ = admin.postForm(userPage, userPage, url.Values{"name": {"Robin F. Funder"}, "role": {"funder"}, "active": {"true"},
			"funding_source_ids": {strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)}})
		if u, _ = e.svc.Accounts.User(context.Background(), u.ID); status != 303 || u.Name != "Robin F. Funder" || u.FundingSourceIDs == nil || len(*u.FundingSourceIDs) != 2 {
			t.Errorf("link two sources: %d %+v", status, u)
		}
		// Bad input: in place, nothing saved (not even the good name).
		status, page = admin.postForm(userPage, userPage, url.Values{"name": {"Robin Again"}, "role": {"funder"}, "active": {"true"},
			"funding_source_ids": {"999999"}})
		if u, _ = e.svc.Accounts.User(context.Background(), u.ID); status != 422 || !strings.Contains(page, `id="f-funding_source_ids-error"`) ||
			u.Name != "Robin F. Funder" || len(*u.FundingSourceIDs) != 2 || !strings.Contains(page, `value="Robin Again"`) {
			t.Errorf("an unknown source: %d %+v\n%s", status, u, page)
		}
		status, page = admin.postForm(userPage, userPage, url.Values{"name": {"  "}, "role": {"funder"}, "active": {"true"}})
		if status != 422 || !strings.Contains(page, `id="f-name-error"`) {
			t.Errorf("an empty name: %d\n%s", status, page)
		}
		// The admin's own page offers no role or deactivation.
		if _, page = admin.send("GET", path("/users/%d", adminID), nil); strings.Contains(page, `name="active"`) || strings.Contains(page, `name="role"`) {
			t.Errorf("the admin's own page offers to change their role")
		}

		// Deactivating ends the user's session: their next page is the sign-in form.
		worker, workerID := e.signedIn(accounts.SocialWorker)
		workerPage := path("/users/%d", workerID)
		status, _ = admin.postForm(workerPage, workerPage, url.Values{"name": {"Worker"}, "role": {"social_worker"}})
		if w, _ := e.svc.Accounts.User(context.Background(), workerID); status != 303 || w.Active {
			t.Errorf("deactivate: %d %+v", status, w)
		}
		if res, body := worker.send("GET", "/", nil); res.StatusCode != 303 && res.StatusCode != 401 || strings.Contains(body, "Hello") {
			t.Errorf("a deactivated user's session still opens a page: %d", res.StatusCode)
		}
		if res, _ := worker.send("GET", "/password", nil); res.StatusCode != 401 {
			t.Errorf("a deactivated user's session: /password %d", res.StatusCode)
		}

		// A reset: the password is on the answer only; sent again, no second reset.
		_, page = admin.send("GET", workerPage, nil)
		stamp := regexp.MustCompile(`name="stamp" value="([^"]+)"`).FindStringSubmatch(page)
		reset := url.Values{"stamp": {stamp[1]}}
		res, page = admin.send("POST", workerPage+"/password-reset", withToken(admin, workerPage, reset))
		m = oneTimePassword.FindStringSubmatch(page)
		if res.StatusCode != 200 || m == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reset: %d\n%s", res.StatusCode, page)
		}
		after, _ := e.svc.Accounts.User(context.Background(), workerID)
		res, page = admin.send("POST", workerPage+"/password-reset", withToken(admin, workerPage, reset))
		if res.StatusCode != 409 || oneTimePassword.MatchString(page) || !strings.Contains(page, "nothing was done") {
			t.Errorf("the reset sent again: %d\n%s", res.StatusCode, page)
		}
		if again, _ := e.svc.Accounts.User(context.Background(), workerID); accounts.PasswordStamp(again) != accounts.PasswordStamp(after) {
			t.Errorf("the reset sent again reset the password again")
		}
		if _, page = admin.send("GET", workerPage, nil); strings.Contains(page, m[1]) {
			t.Errorf("the one-time password is shown again")
		}
		if _, err := e.svc.Accounts.ResetPasswordIf(context.Background(), nil, workerID, "stale"); err == nil {
			t.Errorf("a reset with a stale stamp was done")
		}
	})
}

// withToken is form with the CSRF token of the page at from.
func withToken(p *pageClient, from string, form url.Values) url.Values {
	out := url.Values{"_csrf": {p.token(from)}}
	for k, v := range form {
		out[k] = v
	}
	return out
}

func TestAdminFundingPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		status, page := admin.postForm("/funding-sources/new", "/funding-sources", url.Values{"name": {""}, "grant_starts_on": {"2026-02-30"},
			"grant_ends_on": {"2026-01-01"}})
		if status != 422 || !strings.Contains(page, `id="f-name-error"`) || !strings.Contains(page, `id="f-grant_starts_on-error"`) ||
			!strings.Contains(page, `value="2026-02-30"`) {
			t.Errorf("a bad funding source: %d\n%s", status, page)
		}
		status, _ = admin.postForm("/funding-sources/new", "/funding-sources", url.Values{"name": {"City Grant"}, "funder_organization": {"The City"},
			"grant_starts_on": {"2026-01-01"}, "grant_ends_on": {"2026-12-31"}})
		sources, n, _ := e.svc.Funding.List(context.Background(), anyAdmin, storage.Page{Limit: 10})
		if status != 303 || n != 1 || sources[0].FunderOrganization != "The City" || sources[0].GrantEndsOn.String() != "2026-12-31" {
			t.Fatalf("a new funding source: %d %+v", status, sources)
		}
		page1 := path("/funding-sources/%d", sources[0].ID)
		status, page = admin.postForm(page1, page1, url.Values{"name": {"City Grant"}, "grant_starts_on": {"2027-01-01"}, "grant_ends_on": {"2026-12-31"}})
		if status != 422 || !strings.Contains(page, "must not be before grant_starts_on") {
			t.Errorf("ends before it starts: %d\n%s", status, page)
		}
		e.fundingSource(e.adminToken(), "Other Fund")
		status, page = admin.postForm(page1, page1, url.Values{"name": {"other fund"}})
		if status != 409 || !strings.Contains(page, `id="f-name-error"`) {
			t.Errorf("a taken name: %d\n%s", status, page)
		}
		if s, _ := e.svc.Funding.Get(context.Background(), anyAdmin, sources[0].ID); s.Name != "City Grant" || s.GrantStartsOn.String() != "2026-01-01" {
			t.Errorf("a refused edit changed the source: %+v", s)
		}
		status, _ = admin.postForm(page1, page1, url.Values{"name": {"City Grant 2026"}, "funder_organization": {"The City"}})
		if s, _ := e.svc.Funding.Get(context.Background(), anyAdmin, sources[0].ID); status != 303 || s.Name != "City Grant 2026" || !s.GrantStartsOn.IsZero() {
			t.Errorf("an edit: %d %+v", status, s)
		}
		if _, page = admin.send("GET", "/funding-sources", nil); !strings.Contains(page, "City Grant 2026") || !strings.Contains(page, "Other Fund") {
			t.Errorf("the list:\n%s", page)
		}
	})
}

func (e *env) adminToken() string {
	_, token := e.user(accounts.Admin)
	return token
}

// pageForm is the values the form posting to action in page would send
// as it stands (its inputs, check boxes ticked, selects' chosen options),
// read from the HTML these pages write.
func pageForm(t *testing.T, page, action string) url.Values {
	t.Helper()
	start := strings.Index(page, `action="`+action+`"`)
	if start < 0 {
		t.Fatalf("no form posting to %s in\n%s", action, page)
	}
	form := page[start : start+strings.Index(page[start:], "</form>")]
	out := url.Values{}
	attr := regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	for _, m := range regexp.MustCompile(`<input ([^>]*)>`).FindAllStringSubmatch(form, -1) {
		a := map[string]string{}
		for _, kv := range attr.FindAllStringSubmatch(m[1], -1) {
			a[kv[1]] = html.UnescapeString(kv[2])
		}
		if a["name"] == "" || a["type"] == "checkbox" && !strings.Contains(m[1], " checked") {
			continue
		}
		out.Add(a["name"], a["value"])
	}
	for _, m := range regexp.MustCompile(`(?s)<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>`).FindAllStringSubmatch(form, -1) {
		options := regexp.MustCompile(`<option value="([^"]*)"( selected)?>`).FindAllStringSubmatch(m[2], -1)
		chosen := options[0][1]
		for _, o := range options {
			if o[2] != "" {
				chosen = o[1]
			}
		}
		out.Set(m[1], html.UnescapeString(chosen))
	}
	return out
}

// A rule set is a form of its rules: a mistake is shown next to the field
// at fault, under its rule, and summed up at the top, with nothing saved;
// rules are added and removed without saving, and a good set is saved as
// the next version.
func TestAdminRulesPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		res, page := admin.send("GET", "/eligibility/rules", nil)
		if res.StatusCode != 200 || !strings.Contains(page, "version 1") || !strings.Contains(page, `name="rules-all_of-0-any_of-0-percent" type="number" value="200"`) {
			t.Fatalf("the rules page: %d\n%s", res.StatusCode, page)
		}
		form := pageForm(t, page, "/eligibility/rules")
		form.Set("action", "save")
		form.Set("name", "")
		form.Set("rules-all_of-1-months", "0")
		form.Set("rules-all_of-0-any_of-1-programs", "snap, Not A Code")
		form.Set("rules-all_of-4-months", "a year")
		form.Set("priority-urgency-high", "lots")
		status, page := admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		for _, want := range []string{
			`id="f-rules-all_of-1-months-error"`, `<a href="#f-rules-all_of-1-months">Rule 2: months: must be 1 to 120</a>`,
			`id="f-rules-all_of-0-any_of-1-programs-error"`, "Rule 1 › rule 2: programs: item 2: must be a code",
			`id="f-rules-all_of-4-months-error"`, "Rule 5: months: must be a whole number",
			`id="f-name-error"`, `id="f-priority-urgency-high-error"`, `value="snap, Not A Code"`, `value="a year"`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the invalid rules' page lacks %q", want)
			}
		}
		if status != 422 || e.ruleVersion() != 1 {
			t.Errorf("invalid rules: %d, version %d", status, e.ruleVersion())
		}

		// Add an age range and an empty group; remove rule 4. Nothing is saved.
		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "add:rules")
		form.Set("rules-add", "age_range")
		status, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		if status != 200 || !strings.Contains(page, `name="rules-all_of-5-min_age"`) || !strings.Contains(page, `value="a year"`) || e.ruleVersion() != 1 {
			t.Fatalf("add a rule: %d, version %d\n%s", status, e.ruleVersion(), page)
		}
		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "add:rules-all_of-0")
		form.Set("rules-all_of-0-add", "all_of")
		_, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "remove:rules-all_of-3")
		status, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		if status != 200 || strings.Contains(page, "hotspot per household") || !strings.Contains(page, `name="rules-all_of-4-min_age"`) {
			t.Fatalf("remove a rule: %d\n%s", status, page)
		}
		// The empty group is a problem at its place.
		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "save")
		status, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		if status != 422 || !strings.Contains(page, `<p class="error" id="f-rules-all_of-0-any_of-2">`) || !strings.Contains(page, "this group has no rules") || e.ruleVersion() != 1 {
			t.Errorf("an empty group: %d\n%s", status, page)
		}
		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "remove:rules-all_of-0-any_of-2")
		_, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)

		form = pageForm(t, page, "/eligibility/rules")
		form.Set("action", "save")
		form.Set("name", "Stricter")
		form.Set("rules-all_of-1-months", "6")
		form.Set("rules-all_of-0-any_of-1-programs", "snap, wic")
		form.Set("rules-all_of-3-months", "12")
		form.Set("rules-all_of-4-min_age", "18")
		form.Set("priority-urgency-high", "50")
		status, page = admin.postForm("/eligibility/rules", "/eligibility/rules", form)
		if status != 303 || e.ruleVersion() != 2 {
			t.Fatalf("good rules: %d, version %d\n%s", status, e.ruleVersion(), page)
		}
		cur, _ := e.svc.Eligibility.CurrentRuleSet(context.Background())
		rules := cur.RuleSet.Rules.AllOf
		if cur.Name != "Stricter" || len(rules) != 5 || rules[1].Months != 6 || len(rules[0].AnyOf[1].Programs) != 2 || rules[4].MinAge == nil || *rules[4].MinAge != 18 ||
			rules[4].MaxAge != nil || cur.RuleSet.Priority.Urgency["high"] != 50 || cur.RuleSet.Priority.Needs["fleeing_violence"] != 40 {
			t.Errorf("the rules saved: %+v", cur.RuleSet)
		}
	})
}

// The reminder policy's problems are next to their fields and steps, and
// nothing is saved until all is right.
func TestAdminPolicyPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		res, page := admin.send("GET", "/reminders/policy", nil)
		if res.StatusCode != 200 || !strings.Contains(page, `value="3, 1"`) || !strings.Contains(page, `name="overdue_2_days" type="number" min="1" max="365" inputmode="numeric" value="14"`) {
			t.Fatalf("the policy page: %d\n%s", res.StatusCode, page)
		}
		form := url.Values{"due_soon_days": {"3, 99"}, "due_today": {"true"}, "overdue_0_present": {"1"}, "overdue_0_days": {"2"},
			"overdue_1_present": {"1"}, "overdue_1_days": {""}, "overdue_2_present": {"1"}, "overdue_2_days": {"10"},
			"data_plan_ending_days": {"seven"}, "training_hours_before": {"2"}, "send_at": {"25:00"}, "quiet_hours.start": {"21:00"},
			"catch_up_days": {"2"}}
		status, page := admin.postForm("/reminders/policy", "/reminders/policy", form)
		for _, field := range []string{"data_plan_ending_days", "quiet_hours.start"} {
			if !strings.Contains(page, `id="f-`+field+`-error"`) {
				t.Errorf("no error at %s", field)
			}
		}
		if status != 422 || !strings.Contains(page, `is not a whole number of days`) {
			t.Errorf("a bad policy: %d\n%s", status, page)
		}
		delete(form, "data_plan_ending_days")
		status, page = admin.postForm("/reminders/policy", "/reminders/policy", form)
		for _, want := range []string{`id="f-due_soon_days-error"`, "day 2: must be between 1 and 60", `id="f-overdue_0-error"`,
			"who to notify: must name at least one", `id="f-overdue_2-error"`, `id="f-send_at-error"`, `id="f-quiet_hours.start-error"`,
			`<a href="#f-overdue_0">Overdue step 1: who to notify`} {
			if !strings.Contains(page, want) {
				t.Errorf("the bad policy's page lacks %q", want)
			}
		}
		if pol, _ := e.svc.Notifications.Policy(context.Background()); status != 422 || len(pol.Overdue) != 3 || pol.SendAt != "09:00" {
			t.Errorf("a bad policy: %d, saved %+v", status, pol)
		}
		form = url.Values{"due_soon_days": {"5 2"}, "overdue_0_present": {"1"}, "overdue_0_days": {"3"}, "overdue_0_notify": {"client", "coordinators"},
			"overdue_1_present": {"1"}, "overdue_1_days": {""}, "training_hours_before": {"0"}, "send_at": {"10:30"}, "catch_up_days": {"1"}}
		status, _ = admin.postForm("/reminders/policy", "/reminders/policy", form)
		pol, _ := e.svc.Notifications.Policy(context.Background())
		if status != 303 || pol.SendAt != "10:30" || len(pol.Overdue) != 1 || len(pol.Overdue[0].Notify) != 2 || pol.DueToday || pol.QuietHours.Start != "" ||
			len(pol.DueSoonDays) != 2 || pol.DueSoonDays[0] != 5 {
			t.Errorf("a good policy: %d %+v", status, pol)
		}
	})
}

// The terms are saved a version at a time, over the version the page was
// opened on, once; the agency's details are shown as the operator set
// them.
func TestAdminTermsPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		res, page := admin.send("GET", "/agreement/terms?language=es", nil)
		if res.StatusCode != 200 || !strings.Contains(page, "In force: version 1") || !strings.Contains(page, `name="base" value="1"`) ||
			!strings.Contains(page, "Agency details") || !strings.Contains(page, "the operator sets") && !strings.Contains(page, "operator sets them") {
			t.Fatalf("the terms page: %d\n%s", res.StatusCode, page)
		}
		form := url.Values{"language": {"es"}, "base": {"1"}, "body": {"Términos nuevos.\n\nSegundo párrafo."}}
		res, _ = admin.send("POST", "/agreement/terms", withToken(admin, "/agreement/terms", form))
		if res.StatusCode != 303 || res.Header.Get("Location") != "/agreement/terms?language=es&saved=2" {
			t.Fatalf("save: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		res, page = admin.send("POST", "/agreement/terms", withToken(admin, "/agreement/terms", form))
		if res.StatusCode != 409 || !strings.Contains(page, "nothing was saved") {
			t.Errorf("the form sent again: %d\n%s", res.StatusCode, page)
		}
		if cur, _ := e.svc.Agreements.Current(context.Background(), "es"); cur.Version != 2 || !strings.HasPrefix(cur.Body, "Términos nuevos.") {
			t.Errorf("the Spanish terms: %+v", cur)
		}
		status, page := admin.postForm("/agreement/terms", "/agreement/terms", url.Values{"language": {"en"}, "base": {"1"}, "body": {"  "}})
		if status != 422 || !strings.Contains(page, `id="f-body-error"`) {
			t.Errorf("empty terms: %d\n%s", status, page)
		}
		if _, page = admin.send("GET", "/agreement/terms/es/2", nil); !strings.Contains(page, "<p>Segundo párrafo.</p>") {
			t.Errorf("version 2:\n%s", page)
		}
		if _, page = admin.send("GET", "/agreement/terms?language=es", nil); !strings.Contains(page, `href="/agreement/terms/es/1"`) {
			t.Errorf("the versions list:\n%s", page)
		}
	})
}

// anyAdmin is an actor who sees every funding source.
var anyAdmin = &accounts.Actor{Role: accounts.Admin}

// A reset form sent twice at once (a double click) resets once: one
// answer has the password, the other says nothing was done.
func TestAdminResetPasswordDoubleClick(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		id, _ := e.staff(accounts.Coordinator, browserPassword)
		userPage := path("/users/%d", id)
		_, page := admin.send("GET", userPage, nil)
		form := pageForm(t, page, userPage+"/password-reset")
		statuses := make(chan int, 2)
		for i := 0; i < 2; i++ {
			go func() {
				res, err := admin.c.PostForm(e.base+userPage+"/password-reset", form)
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			}()
		}
		a, b := <-statuses, <-statuses
		if a+b != 200+409 {
			t.Errorf("two resets at once: %d and %d, want 200 and 409", a, b)
		}
	})
}

// The terms form sent twice at once saves one version.
func TestAdminTermsDoubleClick(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin, _ := e.signedIn(accounts.Admin)
		_, page := admin.send("GET", "/agreement/terms?language=fr", nil)
		form := pageForm(t, page, "/agreement/terms")
		form.Set("body", "Conditions nouvelles.")
		statuses := make(chan int, 2)
		for i := 0; i < 2; i++ {
			go func() {
				res, err := admin.c.PostForm(e.base+"/agreement/terms", form)
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			}()
		}
		a, b := <-statuses, <-statuses
		if a+b != 303+409 {
			t.Errorf("two saves at once: %d and %d, want 303 and 409", a, b)
		}
		if cur, _ := e.svc.Agreements.Current(context.Background(), "fr"); cur.Version != 2 {
			t.Errorf("the French terms are at version %d, want 2", cur.Version)
		}
	})
}
