package web_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/web/pages"
)

// The browser tests drive Debian's Chromium, headless, through chromedp,
// against the real server (web.New on the services, on :0, on every
// reachable database). Each page they open is checked for its security
// headers, its size, and by axe-core for serious or critical accessibility
// violations, and photographed at 360 and 1280 pixels wide.

// axeSource is axe-core (testdata/axe, MPL-2.0), loaded into each page.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// chromium is the browser's path; without it the tests skip, except under
// CI=true, where Chromium is mandatory.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium (/usr/bin/chromium) cannot be found; it is mandatory under CI=true (apt-get install chromium)")
	}
	t.Skip("Chromium not installed (apt-get install chromium); the browser tests are skipped")
	return ""
}

// screenshotDir is where the pages' screenshots go:
// test-artifacts/screenshots at the top of the repository, or
// $DEVICEBANK_SCREENSHOTS.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("DEVICEBANK_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one Chromium with its own profile (so its own cookies), on
// an env's server.
type browser struct {
	t    *testing.T
	e    *env
	ctx  context.Context
	last *network.Response // the answer to the last page opened
}

// maxPageBytes is the most a page may weigh with its CSS and scripts.
const maxPageBytes = 100 * 1024

func (e *env) browser() *browser {
	t := e.t
	t.Helper()
	exe := chromium(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, e: e, ctx: ctx}
}

// open navigates to path and returns the answer's status.
func (b *browser) open(path string) int {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.e.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	b.last = res
	return int(res.Status)
}

// fill sets form fields by name.
func (b *browser) fill(fields ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(`[name="`+fields[i]+`"]`), fields[i+1])); err != nil {
			b.t.Fatalf("fill %s: %v", fields[i], err)
		}
	}
}

// submit clicks the button matched by sel, waits for the page it leads
// to, and returns its status (of the last page, after redirects).
func (b *browser) submit(sel string) int {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("submit %s: %v", sel, err)
	}
	b.last = res
	return int(res.Status)
}

// text is the text of the first element sel matches ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`(function(){ const n = document.querySelector(`+jsString(sel)+`); return n ? n.innerText : "" })()`))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) eval(js string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
}

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// cookie is the browser's cookie of that name, or nil.
func (b *browser) cookie(name string) *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.e.base + "/"}})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) setCookie(name, value string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: b.e.base + "/"}); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in through the form and fails unless it lands on the home
// page.
func (b *browser) signIn(email, password string) {
	b.t.Helper()
	if status := b.open("/login"); status != 200 {
		b.t.Fatalf("GET /login: %d", status)
	}
	b.fill("email", email, "password", password)
	if status := b.submit(`main button[type="submit"]`); status != 200 || !strings.HasPrefix(b.text("h1"), "Hello") {
		b.t.Fatalf("sign in as %s: %d, %q", email, status, b.text("main"))
	}
}

// check checks the page the browser shows, named name: the security
// headers of its answer, its weight, axe-core's verdict, and photographs
// it (once per name and test binary).
func (b *browser) check(name string) {
	b.t.Helper()
	h := map[string]string{}
	for k, v := range b.last.Headers {
		h[strings.ToLower(k)] = fmt.Sprint(v)
	}
	for k, want := range map[string]string{
		"content-security-policy": pages.ContentSecurityPolicy,
		"x-content-type-options":  "nosniff",
		"referrer-policy":         "same-origin",
		"cache-control":           "no-store",
	} {
		if h[k] != want {
			b.t.Errorf("%s: %s is %q, want %q", name, k, h[k], want)
		}
	}
	if csp := h["content-security-policy"]; !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		b.t.Errorf("%s: Content-Security-Policy %q", name, csp)
	}
	if !strings.HasPrefix(h["content-type"], "text/html") {
		b.t.Errorf("%s: Content-Type %q", name, h["content-type"])
	}

	weight, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`(function(){
		let n = performance.getEntriesByType("navigation")[0].decodedBodySize;
		for (const r of performance.getEntriesByType("resource")) n += r.decodedBodySize;
		return n })()`))
	if err != nil {
		b.t.Fatal(err)
	}
	if weight == 0 || weight > maxPageBytes {
		b.t.Errorf("%s weighs %d bytes with its CSS and scripts; at most %d", name, weight, maxPageBytes)
	}
	// No script may run in the page but files of this server.
	inline, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](
		`Array.from(document.scripts).filter(s => !s.src || new URL(s.src).origin !== location.origin).length`))
	if err != nil || inline != 0 {
		b.t.Errorf("%s: %d inline or foreign scripts (%v)", name, inline, err)
	}

	b.axe(name)
	b.screenshots(name)
}

// axe runs axe-core in the page and fails on serious or critical
// violations.
func (b *browser) axe(name string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
		b.t.Fatalf("load axe-core: %v", err)
	}
	type violation struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]violation](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe-core on %s: %v", name, err)
	}
	for _, v := range found {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			b.t.Errorf("%s: axe-core %s violation %s (%s) at %s", name, v.Impact, v.ID, v.Help, strings.Join(where, ", "))
		}
	}
}

// shot remembers the names photographed by this test binary, so that a
// page opened on both databases is photographed once.
var shot sync.Map

func (b *browser) screenshots(name string) {
	b.t.Helper()
	if _, done := shot.LoadOrStore(name, true); done {
		return
	}
	dir := screenshotDir(b.t)
	for _, width := range []int64{360, 1280} {
		if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: 800, DeviceScaleFactor: 1, Mobile: width < 600}); err != nil {
			b.t.Fatal(err)
		}
		// At 360 px nothing may stick out sideways.
		if width == 360 {
			wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if err != nil || wide {
				b.t.Errorf("%s scrolls sideways at 360 px (%v)", name, err)
			}
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(b.ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		b.t.Fatal(err)
	}
}

// staff creates a user with role and password and returns their email.
func (e *env) staff(role accounts.Role, password string) (int64, string) {
	e.t.Helper()
	n := e.seq.Add(1)
	email := fmt.Sprintf("%s%d@agency.test", role, n)
	u, err := e.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{
		Email: email, Name: fmt.Sprintf("Pat %s %d", strings.ReplaceAll(string(role), "_", " "), n), Role: role, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, email
}

const browserPassword = "correct horse battery"

func TestBrowserSignInAndOut(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		b := e.browser()

		// Signed out, the home page sends to the sign-in form.
		if status := b.open("/"); status != 200 || b.text("h1") != "Sign in" {
			t.Fatalf("GET / signed out: %d, %q", status, b.text("h1"))
		}
		b.check("sign-in")

		// A wrong password is shown in place, next to the fields and at the top.
		b.fill("email", email, "password", "not my password at all")
		if status := b.submit(`main button[type="submit"]`); status != 401 {
			t.Errorf("a wrong password: status %d, want 401", status)
		}
		if got := b.text("#f-password-error"); !strings.Contains(got, "email or password is wrong") {
			t.Errorf("the password field's error: %q", got)
		}
		if got := b.text(".error-summary"); !strings.Contains(got, "There is a problem") {
			t.Errorf("the error summary: %q", got)
		}
		if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#f-email"))); got != email {
			t.Errorf("the email typed is not kept: %q", got)
		}
		if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#f-password"))); got != "" {
			t.Errorf("the password typed is sent back: %q", got)
		}
		b.check("sign-in-wrong-password")

		// A session id planted before sign-in is not the one after.
		b.setCookie("devicebank_session", "dbs_planted")
		b.signIn(email, browserPassword)
		b.check("home-social-worker")
		c := b.cookie("devicebank_session")
		if c == nil || c.Value == "dbs_planted" || !strings.HasPrefix(c.Value, "dbs_") {
			t.Fatalf("session cookie after sign-in: %+v", c)
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Secure || !c.Session {
			t.Errorf("session cookie: HttpOnly %v, SameSite %q, Secure %v (plain HTTP), session %v", c.HTTPOnly, c.SameSite, c.Secure, c.Session)
		}
		first := c.Value

		// Signing out ends the session on the server, not only the cookie.
		if status := b.submit(`header form[action="/logout"] button`); status != 200 || b.text("h1") != "Sign in" {
			t.Fatalf("sign out: %d, %q", status, b.text("h1"))
		}
		if c := b.cookie("devicebank_session"); c != nil {
			t.Errorf("the session cookie outlived sign-out: %+v", c)
		}
		b.setCookie("devicebank_session", first)
		if status := b.open("/password"); status != 401 || b.text("h1") != "Sign in" {
			t.Errorf("the signed-out session's cookie still opens a page: %d, %q", status, b.text("h1"))
		}

		// A second sign-in gets a new session id.
		b.signIn(email, browserPassword)
		if c := b.cookie("devicebank_session"); c == nil || c.Value == first {
			t.Errorf("the second sign-in kept the session id")
		}
	})
}

func TestBrowserSignInThrottle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Coordinator, browserPassword)
		b := e.browser()
		b.open("/login")
		for i := 1; i <= 5; i++ {
			b.fill("email", email, "password", fmt.Sprintf("wrong guess number %d", i))
			if status := b.submit(`main button[type="submit"]`); status != 401 {
				t.Fatalf("wrong password %d: %d", i, status)
			}
		}
		// The sixth try waits, as the API's sign-in does, even with the
		// right password; the form says so in place.
		b.fill("email", email, "password", browserPassword)
		if status := b.submit(`main button[type="submit"]`); status != 429 {
			t.Fatalf("after five wrong passwords: %d, want 429", status)
		}
		if got := b.text(".error-summary"); !strings.Contains(got, "too many wrong passwords") {
			t.Errorf("the throttle's message: %q", got)
		}
		b.check("sign-in-throttled")
		// The API's sign-in counts the same failures.
		r := e.do("", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})
		if r.Status != 429 {
			t.Errorf("the API's sign-in after five wrong passwords in the browser: %d", r.Status)
		}
		e.clock.Set(e.clock.Now().Add(2 * time.Second))
		b.signIn(email, browserPassword)
	})
}

func TestBrowserChangePassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id, email := e.staff(accounts.Funder, browserPassword)
		token, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, id, "script")
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.signIn(email, browserPassword)
		b.check("home-funder")
		b.open("/password")
		b.check("password")

		const newPassword = "lantern orbit pickle meadow"
		b.fill("current_password", "not the password", "new_password", newPassword, "new_password_again", newPassword)
		if status := b.submit(`main button[type="submit"]`); status != 422 {
			t.Errorf("a wrong current password: %d", status)
		}
		if got := b.text("#f-current_password-error"); !strings.Contains(got, "not your current password") {
			t.Errorf("the current password's error: %q", got)
		}
		b.check("password-wrong")
		b.fill("current_password", browserPassword, "new_password", newPassword, "new_password_again", "something else")
		if b.submit(`main button[type="submit"]`); !strings.Contains(b.text("#f-new_password_again-error"), "does not match") {
			t.Errorf("a mismatch: %q", b.text("main"))
		}
		b.fill("current_password", browserPassword, "new_password", "password123", "new_password_again", "password123")
		if b.submit(`main button[type="submit"]`); b.text("#f-new_password-error") == "" {
			t.Errorf("a weak password was not refused in place: %q", b.text("main"))
		}

		b.fill("current_password", browserPassword, "new_password", newPassword, "new_password_again", newPassword)
		if status := b.submit(`main button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "password was changed") {
			t.Fatalf("change the password: %d, %q", status, b.text("main"))
		}
		// This session goes on; the API token ended with the old password.
		if status := b.open("/"); status != 200 {
			t.Errorf("the session that changed the password: %d", status)
		}
		e.must(401, token, "GET", "/api/v1/me", nil)
		e.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": newPassword})
	})
}

func TestBrowserFormsWithoutCSRFTokenAreRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		b := e.browser()

		// The sign-in form, without its token: refused, and no session.
		b.open("/login")
		b.eval(`document.querySelector('main input[name="_csrf"]').remove()`)
		b.fill("email", email, "password", browserPassword)
		if status := b.submit(`main button[type="submit"]`); status != 403 {
			t.Errorf("sign-in without its CSRF token: %d", status)
		}
		if !strings.Contains(b.text("main"), "Nothing was changed") {
			t.Errorf("the refusal: %q", b.text("main"))
		}
		if b.cookie("devicebank_session") != nil {
			t.Errorf("a session began without the CSRF token")
		}
		b.check("csrf-refused")

		// The password form, with another browser's token: refused, and
		// the password stays.
		b.signIn(email, browserPassword)
		b.open("/password")
		b.eval(`document.querySelector('main input[name="_csrf"]').value = "` + strings.Repeat("A", 43) + `"`)
		b.fill("current_password", browserPassword, "new_password", "lantern orbit pickle meadow", "new_password_again", "lantern orbit pickle meadow")
		if status := b.submit(`main button[type="submit"]`); status != 403 {
			t.Errorf("a password change with a wrong CSRF token: %d", status)
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})

		// Sign-out too: the session goes on.
		b.open("/")
		b.eval(`document.querySelector('header input[name="_csrf"]').remove()`)
		if status := b.submit(`header form[action="/logout"] button`); status != 403 {
			t.Errorf("sign-out without its CSRF token: %d", status)
		}
		if status := b.open("/"); status != 200 || !strings.HasPrefix(b.text("h1"), "Hello") {
			t.Errorf("the session after a refused sign-out: %d, %q", status, b.text("h1"))
		}
	})
}

func TestBrowserSessionEndsWithTheUser(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		for _, change := range []map[string]any{{"active": false}, {"role": "funder"}} {
			id, email := e.staff(accounts.SocialWorker, browserPassword)
			b := e.browser()
			b.signIn(email, browserPassword)
			e.must(200, admin, "PATCH", path("/api/v1/users/%d", id), change)
			if status := b.open("/"); status != 200 || b.text("h1") != "Sign in" {
				t.Errorf("after %v, the session still opens the home page: %d, %q", change, status, b.text("h1"))
			}
			if status := b.open("/password"); status != 401 || b.text("h1") != "Sign in" {
				t.Errorf("after %v: /password %d, %q", change, status, b.text("h1"))
			}
		}
	})
}

func TestBrowserSessionTimeouts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Coordinator, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)
		b.check("home-coordinator")

		// Used every 25 minutes, the session goes on (past 30 minutes in all).
		for i := 0; i < 3; i++ {
			e.clock.Set(e.clock.Now().Add(25 * time.Minute))
			if status := b.open("/"); status != 200 || !strings.HasPrefix(b.text("h1"), "Hello") {
				t.Fatalf("after %d × 25 minutes of use: %d, %q", i+1, status, b.text("h1"))
			}
		}
		// Left alone for over 30 minutes (and the minute use is counted
		// to), it ends, and the form says why.
		e.clock.Set(e.clock.Now().Add(32 * time.Minute))
		if status := b.open("/password"); status != 401 || b.text("h1") != "Sign in" {
			t.Fatalf("after 32 idle minutes: %d, %q", status, b.text("h1"))
		}
		if got := b.text(".notice"); !strings.Contains(got, "30 minutes without activity") {
			t.Errorf("the notice: %q", got)
		}
		b.check("sign-in-timed-out")
		// Signing in from there comes back to the page asked for.
		b.fill("email", email, "password", browserPassword)
		if status := b.submit(`main button[type="submit"]`); status != 200 || b.text("h1") != "Change your password" {
			t.Errorf("signed in again: %d, %q", status, b.text("h1"))
		}

		// However used, a session ends 12 hours after sign-in.
		for elapsed := time.Duration(0); elapsed < 12*time.Hour-25*time.Minute; elapsed += 25 * time.Minute {
			e.clock.Set(e.clock.Now().Add(25 * time.Minute))
			if status := b.open("/"); status != 200 {
				t.Fatalf("%s after sign-in: %d", elapsed, status)
			}
		}
		e.clock.Set(e.clock.Now().Add(25 * time.Minute))
		if status := b.open("/password"); status != 401 || !strings.Contains(b.text(".notice"), "12 hours after you signed in") {
			t.Errorf("12 hours after sign-in: %d, %q", status, b.text(".notice"))
		}
	})
}

func TestBrowserErrorPagesAndRoles(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, adminEmail := e.staff(accounts.Admin, browserPassword)
		_, workerEmail := e.staff(accounts.SocialWorker, browserPassword)
		for i := 0; i < 52; i++ {
			e.user(accounts.Coordinator)
		}
		b := e.browser()
		b.signIn(adminEmail, browserPassword)
		b.check("home-admin")
		if status := b.open("/users"); status != 200 || !strings.Contains(b.text(".pager"), "Showing 1 to 50 of 54") {
			t.Fatalf("the staff list: %d, %q", status, b.text(".pager"))
		}
		b.check("staff")
		if status := b.submit(`.pager a[rel="next"]`); status != 200 || !strings.Contains(b.text(".pager"), "Showing 51 to 54 of 54") {
			t.Errorf("the staff list's second page: %d, %q", status, b.text(".pager"))
		}
		if status := b.open("/nothing-here"); status != 404 || b.text("h1") != "Page not found" {
			t.Errorf("a page that does not exist: %d, %q", status, b.text("h1"))
		}
		b.check("not-found")

		// A social worker has no staff page: 403, and no link to it.
		w := e.browser()
		w.signIn(workerEmail, browserPassword)
		if strings.Contains(w.text("nav"), "Staff") {
			t.Errorf("a social worker's navigation offers the staff page: %q", w.text("nav"))
		}
		if status := w.open("/users"); status != 403 || w.text("h1") != "You cannot open this page" {
			t.Errorf("a social worker opens /users: %d, %q", status, w.text("h1"))
		}
		w.check("forbidden")
		// The API keeps answering JSON, whatever the browser asks for.
		r := e.do("", "GET", "/api/v1/nothing-here", nil, "Accept", "text/html")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("the API's 404 for a browser: %s", ct)
		}
	})
}

// A one-time password (the first admin's, or one an admin reset) signs in
// only with a new password, which the form asks for in place.
func TestBrowserOneTimePassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u, err := e.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{Email: "new.admin@agency.test",
			Name: "Robin Admin", Role: accounts.Admin, Password: browserPassword, MustChangePassword: true})
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.open("/login")
		b.fill("email", u.Email, "password", browserPassword)
		if status := b.submit(`main button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-new_password-error"), "one-time") {
			t.Fatalf("a one-time password: %d, %q", status, b.text("main"))
		}
		b.check("sign-in-one-time-password")
		const own = "harbour violet engine sketch"
		b.fill("password", browserPassword, "new_password", own)
		if status := b.submit(`main button[type="submit"]`); status != 200 || !strings.HasPrefix(b.text("h1"), "Hello") {
			t.Fatalf("with a new password: %d, %q", status, b.text("main"))
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": u.Email, "password": own})
	})
}

// The report page: the form, its errors in place, and a report with a
// chart and suppressed figures, each checked as every page is.
func TestBrowserReport(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		for _, kind := range []string{"laptop", "phone"} {
			e.loan(co, e.referred(sw), e.device(co, kind))
		}
		_, email := e.staff(accounts.Coordinator, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)
		if status := b.open("/reports"); status != 200 || b.text("h1") != "Utilization report" {
			t.Fatalf("GET /reports: %d, %q", status, b.text("h1"))
		}
		b.check("reports-form")

		from, to := e.thisMonth()
		b.fill("from", from, "to", "")
		if status := b.submit(`main form[action="/reports"] button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-to-error"), "is required") ||
			!strings.Contains(b.text(".error-summary"), "To: is required") {
			t.Errorf("a report without its last day: %d, %q", status, b.text("main"))
		}
		b.check("reports-errors")

		b.fill("from", from, "to", to)
		if status := b.submit(`main form[action="/reports"] button[type="submit"]`); status != 200 || !strings.Contains(b.text("#report"), "Report from "+from) {
			t.Fatalf("the report: %d, %q", status, b.text("main"))
		}
		if got := b.text(`caption[id="t-2-0"]`); got != "People served" {
			t.Errorf("the people's table: %q", got)
		}
		// An SVG element has no innerText: its text alternative is read
		// as its text content.
		desc, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("chart-desc").textContent`))
		if err != nil || !strings.Contains(desc, "2 issued") {
			t.Errorf("the chart's description: %q %v", desc, err)
		}
		if !strings.Contains(b.text("main"), "<5") {
			t.Errorf("no suppressed count of clients: %q", b.text("main"))
		}
		b.check("reports")
	})
}
