package pages

import (
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
)

type loginData struct {
	// Next is the page to go to after signing in (a path of this server).
	Next string
	// Ended says why the session ended, when it did.
	Ended string
	// AskNew shows the new password field: the password was one-time.
	AskNew bool
}

func loginForm() *Form {
	return NewForm("email", "Email", "password", "Password", "new_password", "New password")
}

func (p *Pages) loginForm(c *fiber.Ctx) error {
	if Actor(c) != nil {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return p.renderLogin(c, fiber.StatusOK, loginForm(), loginData{Ended: endedMessage(c)})
}

func (p *Pages) renderLogin(c *fiber.Ctx, status int, f *Form, d loginData) error {
	_, d.AskNew = f.Errors["new_password"]
	return p.render(c, status, "login", "Sign in", f, d)
}

// endedMessage says why the request's session ended ("" if it did not).
func endedMessage(c *fiber.Ctx) string {
	if err, ok := c.Locals(sessionEnded).(*apperr.Error); ok {
		return "You have been signed out: " + err.Message + "."
	}
	return ""
}

// login signs in with the accounts service's SignInSession: the same
// password check, throttle and one-time password rule as the API's
// sign-in. A session id the browser had is ended and replaced by a new
// one, so an id planted in the browser before sign-in is worth nothing.
func (p *Pages) login(c *fiber.Ctx) error {
	f := loginForm()
	f.Values["email"] = c.FormValue("email")
	d := loginData{Next: safeNext(c.FormValue("next"))}
	in := accounts.SignIn{Email: strings.TrimSpace(c.FormValue("email")), Password: c.FormValue("password"), NewPassword: c.FormValue("new_password")}
	var bad apperr.Fields
	bad.Check(in.Email == "", "email", "enter your email address")
	bad.Check(in.Password == "", "password", "enter your password")
	if err := bad.Err(); err != nil {
		f.Fail(err)
		return p.renderLogin(c, fiber.StatusUnprocessableEntity, f, d)
	}
	plain, _, err := p.svc.Accounts.SignInSession(c.UserContext(), in, p.cfg.ClientAddress(c))
	if err != nil {
		if p.cfg.SignInFailed != nil {
			p.cfg.SignInFailed(err)
		}
		if !f.Fail(err) {
			return err
		}
		if e, ok := err.(*apperr.Error); ok && e.Code == apperr.Unauthorized {
			// Next to the password, which is typed again; which of the two
			// is wrong is not told.
			f.Problem = ""
			f.Errors = apperr.Fields{"password": e.Message}
		}
		status := fiber.StatusUnprocessableEntity
		if e, ok := err.(*apperr.Error); ok {
			status = apperr.HTTPStatus(e.Code)
			if e.RetryAfter > 0 {
				c.Set(fiber.HeaderRetryAfter, e.RetryAfterSeconds())
			}
		}
		return p.renderLogin(c, status, f, d)
	}
	if old := c.Cookies(sessionCookie); old != "" {
		if err := p.svc.Accounts.EndSession(c.UserContext(), old); err != nil {
			return err
		}
	}
	p.setCookie(c, sessionCookie, plain)
	p.clearCookie(c, csrfCookie) // the session's id is the CSRF secret now
	if d.Next == "" {
		d.Next = "/"
	}
	return c.Redirect(d.Next, fiber.StatusSeeOther)
}

// safeNext keeps a page to return to only when it is a path of this
// server: "//elsewhere" and "https://…" would send the user away, and so
// would "/\t/elsewhere", as browsers drop tabs and line breaks from a URL:
// no control character is kept.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.IndexFunc(next, unicode.IsControl) >= 0 || len(next) > 200 {
		return ""
	}
	return next
}

func (p *Pages) logout(c *fiber.Ctx) error {
	if err := p.svc.Accounts.EndSession(c.UserContext(), c.Cookies(sessionCookie)); err != nil {
		return err
	}
	p.clearCookie(c, sessionCookie)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

func passwordForm() *Form {
	return NewForm("current_password", "Current password", "new_password", "New password", "new_password_again", "New password again")
}

type passwordData struct{ Changed bool }

func (p *Pages) passwordForm(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "password", "Change your password", passwordForm(), passwordData{Changed: c.Query("changed") == "1"})
}

// changePassword is the accounts service's ChangePassword, as the API's:
// the same checks and throttle; the session used is kept, the user's other
// sessions and tokens end.
func (p *Pages) changePassword(c *fiber.Ctx) error {
	f := passwordForm()
	in := accounts.PasswordChange{CurrentPassword: c.FormValue("current_password"), NewPassword: c.FormValue("new_password")}
	if again := c.FormValue("new_password_again"); again != in.NewPassword {
		f.Errors = apperr.Fields{"new_password_again": "does not match the new password"}
		return p.render(c, fiber.StatusUnprocessableEntity, "password", "Change your password", f, passwordData{})
	}
	if err := p.svc.Accounts.ChangePassword(c.UserContext(), Actor(c), in, p.cfg.ClientAddress(c)); err != nil {
		if !f.Fail(err) {
			return err
		}
		if e, ok := err.(*apperr.Error); ok && e.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, e.RetryAfterSeconds())
		}
		return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "password", "Change your password", f, passwordData{})
	}
	return c.Redirect("/password?changed=1", fiber.StatusSeeOther)
}
