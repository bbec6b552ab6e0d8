package pages

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

type errorData struct{ Heading, Message string }

var headings = map[int]string{
	fiber.StatusBadRequest:          "The request could not be read",
	fiber.StatusForbidden:           "You cannot open this page",
	fiber.StatusNotFound:            "Page not found",
	fiber.StatusMethodNotAllowed:    "This page cannot do that",
	fiber.StatusConflict:            "This could not be done",
	fiber.StatusUnprocessableEntity: "Some details are not right",
	fiber.StatusTooManyRequests:     "Too many tries",
	fiber.StatusServiceUnavailable:  "The service is busy",
}

// Error writes the HTML answer to a browser for an error of status with
// message (already fit to show: the server's handler hides internal
// detail). A page that needs a signed-in user gets the sign-in form, in
// place; any other error its page, in the layout.
func (p *Pages) Error(c *fiber.Ctx, status int, message string) error {
	if status == fiber.StatusUnauthorized {
		d := loginData{Ended: endedMessage(c)}
		if c.Method() == fiber.MethodGet {
			d.Next = safeNext(c.OriginalURL())
		}
		return p.renderLogin(c, status, loginForm(), d)
	}
	// An address that is no page (a 404) has not been through the
	// session: read it, so that the error page has the user's navigation.
	// A server fault may be the database's: then not.
	if status < 500 && p.loadSession(c) != nil {
		c.Locals("actor", nil)
	}
	heading, ok := headings[status]
	if !ok {
		heading = "Something went wrong"
	}
	if status == fiber.StatusNotFound {
		message = "There is no such page, or it is not one you can see. Check the address, or go back."
	}
	return p.render(c, status, "error", heading, nil, errorData{Heading: heading, Message: sentence(message)})
}

// sentence writes a message as a page shows it: a capital first, a full
// stop last.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	if !strings.ContainsAny(s[len(s)-1:], ".!?)") {
		s += "."
	}
	return s
}
