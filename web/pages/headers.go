package pages

import "github.com/gofiber/fiber/v2"

// ContentSecurityPolicy is the policy of every HTML answer: nothing from
// elsewhere, no inline script or style (scripts are files served by the
// binary), forms only to this server, and no framing (clickjacking).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SetHeaders sets the headers of an HTML answer; the server's error
// handler calls it for the HTML error pages too. (nosniff, no-store and
// Referrer-Policy are on every answer already.)
func SetHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, ContentSecurityPolicy)
	c.Set(fiber.HeaderXFrameOptions, "DENY") // for browsers older than frame-ancestors
}

func withPageHeaders(c *fiber.Ctx) error {
	SetHeaders(c)
	return c.Next()
}
