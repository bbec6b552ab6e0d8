package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/web"
	"github.com/devicebank/devicebank/web/pages"
)

// These tests reach the pages over plain HTTP, as a browser without
// JavaScript would; the browser tests (browser_test.go) drive Chromium.

// pageClient is a browser-like HTTP client: cookies, no redirects followed.
type pageClient struct {
	e *env
	c *http.Client
}

func (e *env) pageClient() *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (p *pageClient) send(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	p.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.e.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := p.c.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// token is the CSRF token of the form at path.
func (p *pageClient) token(path string) string {
	p.e.t.Helper()
	_, body := p.send("GET", path, nil)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		p.e.t.Fatalf("no CSRF token in %s:\n%s", path, body)
	}
	return m[1]
}

func (p *pageClient) signIn(email, password string) {
	p.e.t.Helper()
	res, body := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {password}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/" {
		p.e.t.Fatalf("sign in: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
}

// Every page answers each role as the role's permissions say, by the same
// accounts.Actor.Can the API uses: 200, or the 403 page.
func TestPagesFollowThePermissions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv := web.New(e.svc, web.Config{})
		for _, role := range accounts.Roles {
			_, email := e.staff(role, browserPassword)
			p := e.pageClient()
			p.signIn(email, browserPassword)
			for _, r := range srv.Pages().Routes() {
				// A page of one record (a path with :id) is tried by its own
				// tests, with a record each role may or may not reach.
				if r.Method != "GET" || r.Path == "/login" || strings.Contains(r.Path, ":") {
					continue
				}
				want := 200
				if r.Permission != "" && r.Permission != pages.Public && !role.Can(r.Permission) {
					want = 403
				}
				res, body := p.send("GET", r.Path, nil)
				if res.StatusCode != want || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
					t.Errorf("%s GET %s: %d %s, want %d", role, r.Path, res.StatusCode, res.Header.Get("Content-Type"), want)
				}
				if want == 403 && !strings.Contains(body, "You cannot open this page") {
					t.Errorf("%s GET %s: the 403 page says\n%s", role, r.Path, body)
				}
			}
		}
		// Signed out, a page is the sign-in form, in place (401), with no
		// client of the page told anything else.
		res, body := e.pageClient().send("GET", "/users", nil)
		if res.StatusCode != 401 || !strings.Contains(body, `action="/login"`) || !strings.Contains(body, `name="next" value="/users"`) {
			t.Errorf("/users signed out: %d\n%s", res.StatusCode, body)
		}
	})
}

// A form posted without its token is refused with the 403 page before
// anything is done, over plain HTTP as in the browser.
func TestPagesCSRF(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		p := e.pageClient()
		for _, form := range []url.Values{
			{"email": {email}, "password": {browserPassword}},
			{"email": {email}, "password": {browserPassword}, "_csrf": {""}},
			{"email": {email}, "password": {browserPassword}, "_csrf": {"forged"}},
		} {
			res, body := p.send("POST", "/login", form)
			if res.StatusCode != 403 || !strings.Contains(body, "Nothing was changed") || strings.Contains(res.Header.Get("Set-Cookie"), "devicebank_session=dbs_") {
				t.Errorf("sign-in with _csrf %q: %d\n%s", form.Get("_csrf"), res.StatusCode, body)
			}
		}
		// A token of the sign-in form is no good once signed in: the
		// session's id is the secret then.
		before := p.token("/login")
		p.signIn(email, browserPassword)
		form := url.Values{"_csrf": {before}, "current_password": {browserPassword},
			"new_password": {"lantern orbit pickle meadow"}, "new_password_again": {"lantern orbit pickle meadow"}}
		if res, _ := p.send("POST", "/password", form); res.StatusCode != 403 {
			t.Errorf("a password change with the signed-out token: %d", res.StatusCode)
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})
		form.Set("_csrf", p.token("/password"))
		if res, body := p.send("POST", "/password", form); res.StatusCode != 303 {
			t.Errorf("a password change with its token: %d\n%s", res.StatusCode, body)
		}
	})
}

// Cookies are Secure when a trusted proxy says the browser came over
// HTTPS, and only then.
func TestPagesSecureCookies(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Coordinator, browserPassword)
		behind := e.with(web.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, SignInPerMinute: 1000})
		for _, c := range []struct {
			via    *env
			proto  string
			secure bool
		}{{e, "https", false}, {behind, "https", true}, {behind, "http", false}} {
			p := c.via.pageClient()
			res, body := p.send("GET", "/login", nil, "X-Forwarded-Proto", c.proto)
			token := csrfInput.FindStringSubmatch(body)[1]
			if got := strings.Contains(strings.ToLower(res.Header.Get("Set-Cookie")), "secure"); got != c.secure {
				t.Errorf("CSRF cookie via %s, X-Forwarded-Proto %s: Secure %v\n%s", c.via.base, c.proto, got, res.Header.Get("Set-Cookie"))
			}
			res, _ = p.send("POST", "/login", url.Values{"_csrf": {token}, "email": {email}, "password": {browserPassword}}, "X-Forwarded-Proto", c.proto)
			var session string
			for _, sc := range res.Header.Values("Set-Cookie") {
				if strings.HasPrefix(sc, "devicebank_session=dbs_") {
					session = strings.ToLower(sc)
				}
			}
			if !strings.Contains(session, "httponly") || !strings.Contains(session, "samesite=lax") || strings.Contains(session, "secure") != c.secure {
				t.Errorf("session cookie via %s, X-Forwarded-Proto %s: %q (Secure wanted: %v)", c.via.base, c.proto, session, c.secure)
			}
		}
	})
}

// The form and the API's sign-in count failures against one limit per
// address.
func TestPagesShareTheSignInLimit(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Coordinator, browserPassword)
		limited := e.with(web.Config{SignInPerMinute: 3})
		limited.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": "wrong one"})
		limited.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nobody@agency.test", "password": "wrong two"})
		p := limited.pageClient()
		if res, _ := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {"wrong three"}}); res.StatusCode != 401 {
			t.Fatalf("third failure, on the form: %d", res.StatusCode)
		}
		res, body := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {browserPassword}})
		if res.StatusCode != 429 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "any failed sign-ins from your address") {
			t.Errorf("fourth sign-in, on the form: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		limited.must(429, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})
	})
}

// A server fault is a page too, naming the request, without its detail.
func TestPagesServerErrorPage(t *testing.T) {
	e := newEnv(t, dbtest.Open(t, storage.SQLite))
	_, email := e.staff(accounts.Admin, browserPassword)
	p := e.pageClient()
	p.signIn(email, browserPassword)
	e.db.Close()
	res, body := p.send("GET", "/users", nil)
	if res.StatusCode != 500 || !strings.Contains(body, "Something went wrong") || !strings.Contains(body, res.Header.Get("X-Request-Id")) ||
		strings.Contains(body, "sql") || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("a page when the database is gone: %d\n%s", res.StatusCode, body)
	}
}
