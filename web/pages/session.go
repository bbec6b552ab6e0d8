package pages

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
)

// The cookies of the pages. The session cookie holds the session's secret
// id (the database has only its hash). Both are HttpOnly (no script reads
// them), SameSite=Lax (not sent with another site's forms) and Secure when
// the browser came over TLS. They carry no expiry: closing the browser ends
// them, and the server ends the session itself after the idle timeout or
// its lifetime.
const (
	sessionCookie = "devicebank_session"
	csrfCookie    = "devicebank_csrf"
)

func (p *Pages) setCookie(c *fiber.Ctx, name, value string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: p.cfg.Secure != nil && p.cfg.Secure(c)})
}

func (p *Pages) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: p.cfg.Secure != nil && p.cfg.Secure(c), Expires: time.Unix(0, 0), MaxAge: -1})
}

// session makes the browser session's user the request's actor, under the
// same Locals key the API's tokens use. A request without a live session
// goes on without an actor (the sign-in page needs none); an ended session
// is remembered, so that the sign-in form can say why.
func (p *Pages) session(c *fiber.Ctx) error {
	if err := p.loadSession(c); err != nil {
		return err
	}
	return c.Next()
}

// loadSession reads the browser's session into the request, once.
func (p *Pages) loadSession(c *fiber.Ctx) error {
	id := c.Cookies(sessionCookie)
	if id == "" || Actor(c) != nil || c.Locals(sessionEnded) != nil {
		return nil
	}
	actor, err := p.svc.Accounts.AuthenticateSession(c.UserContext(), id)
	switch {
	case err == nil:
		c.Locals("actor", actor)
		c.Locals(sessionSecret, id)
	case apperr.Is(err, apperr.Unauthorized):
		p.clearCookie(c, sessionCookie)
		c.Locals(sessionEnded, err)
	default:
		return err
	}
	return nil
}

type localKey string

const (
	sessionSecret localKey = "session_secret"
	sessionEnded  localKey = "session_ended"
)

// Actor is the signed-in user of a page request; nil when there is none.
func Actor(c *fiber.Ctx) *accounts.Actor {
	a, _ := c.Locals("actor").(*accounts.Actor)
	return a
}

// require answers a page that needs a signed-in user with the sign-in form
// when there is none (in place, with status 401: the address stays, and
// nothing goes in a query string), and refuses a role without the
// permission with the 403 page, by the same accounts.Actor.Can the API
// uses.
func require(perm accounts.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		a := Actor(c)
		if a == nil {
			return errSignIn
		}
		if perm != "" && !a.Can(perm) {
			return apperr.New(apperr.Forbidden, "your role (%s) cannot open this page", a.Role)
		}
		return c.Next()
	}
}

// errSignIn asks the error handler for the sign-in form.
var errSignIn = apperr.New(apperr.Unauthorized, "sign in to continue")
