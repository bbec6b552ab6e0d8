package pages

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
)

// CSRF protection: every form carries a token, _csrf, that only a page of
// this server could have given the browser, and a form posted without the
// right one is refused before its handler runs (403), so it changes
// nothing.
//
// The token is an HMAC of a secret only the browser and the server know,
// which is never sent in a page: the session's id once signed in (so the
// token is bound to the session, and a new one comes with each sign-in),
// and before that a random value in its own HttpOnly cookie (so that the
// sign-in form cannot be posted from elsewhere either). Nothing is kept on
// the server: any instance behind a load balancer checks any token, which
// Fiber's csrf middleware, with its tokens in one instance's memory, would
// not. SameSite=Lax cookies stop most cross-site posts already; the token
// is what holds in browsers that ignore SameSite and against a same-site
// attacker.

// CSRFField is the form field that carries the token.
const CSRFField = "_csrf"

// csrfToken is the token for the request's browser, setting the pre-session
// cookie when it has none.
func (p *Pages) csrfToken(c *fiber.Ctx) string {
	secret := p.csrfSecret(c)
	if secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		secret = base64.RawURLEncoding.EncodeToString(b)
		p.setCookie(c, csrfCookie, secret)
		c.Locals(csrfCookie, secret)
	}
	return csrfOf(secret)
}

func (p *Pages) csrfSecret(c *fiber.Ctx) string {
	if s, ok := c.Locals(sessionSecret).(string); ok {
		return s
	}
	if s, ok := c.Locals(csrfCookie).(string); ok {
		return s
	}
	return c.Cookies(csrfCookie)
}

func csrfOf(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("devicebank csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// errCSRF is the refusal of a form without its token.
var errCSRF = apperr.New(apperr.Forbidden, "this form could not be accepted: it has expired or did not come from a DeviceBank page. "+
	"Nothing was changed. Go back, reload the page and send it again")

// checkCSRF refuses an unsafe request whose form does not carry the
// browser's token.
func (p *Pages) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	secret := p.csrfSecret(c)
	sent := c.FormValue(CSRFField)
	if secret == "" || sent == "" || !hmac.Equal([]byte(sent), []byte(csrfOf(secret))) {
		return errCSRF
	}
	return c.Next()
}
