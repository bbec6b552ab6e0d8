package web_test

import (
	"net/url"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// After sign-in the form goes back to the page asked for, and only to a
// page of this server: a browser drops tabs and line breaks from an
// address, so "/<tab>/elsewhere" is "//elsewhere", another site (where a
// copy of the sign-in form could ask for the password again).
func TestPagesSignInStaysOnThisServer(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.SocialWorker, browserPassword)
		for next, want := range map[string]string{"/clients": "/clients", "//evil.example": "/", "/\t/evil.example": "/",
			"/\\evil.example": "/", "https://evil.example/": "/", "/\x0b/evil.example": "/", "/ /evil.example": "/ /evil.example"} {
			p := e.pageClient()
			res, body := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {browserPassword}, "next": {next}})
			if res.StatusCode != 303 || res.Header.Get("Location") != want {
				t.Errorf("sign-in with next %q: %d to %q, want %q\n%s", next, res.StatusCode, res.Header.Get("Location"), want, body)
			}
		}
	})
}
