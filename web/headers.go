package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
)

// secureHeaders sets the headers every answer carries, and is called again
// by handleError for answers refused before any middleware ran (a body over
// the limit).
//
// X-Content-Type-Options stops a browser from guessing a type other than the
// one declared. No answer is to be stored by browsers or proxies
// (Cache-Control: no-store), since most carry client records or tokens; the
// one exception is the OpenAPI document, which describes the service and
// names no one. (Marking every answer rather than picking those with client
// data means a new route cannot be forgotten.)
func secureHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// A link followed from a page or a document tells no other site where
	// it came from (a path names a client's id).
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	if c.Path() != openAPIPath {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
}

// openAPIPath is where the OpenAPI document is served.
const openAPIPath = "/api/v1/openapi.json"

func withSecureHeaders(c *fiber.Ctx) error {
	secureHeaders(c)
	return c.Next()
}

// rejectEncodedBody refuses a request whose body is compressed (any
// Content-Encoding but identity) before anything reads the body: Fiber's
// Ctx.Body inflates gzip, deflate and brotli bodies without a limit, so a
// small compressed body could expand to gigabytes in memory. No client of
// the API needs to compress what it sends. A body sent with identity alone
// is read as sent.
func rejectEncodedBody(c *fiber.Ctx) error {
	encoded := false
	c.Request().Header.VisitAll(func(k, v []byte) {
		if !strings.EqualFold(string(k), fiber.HeaderContentEncoding) {
			return
		}
		for _, coding := range strings.Split(string(v), ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				encoded = true
			}
		}
	})
	if encoded {
		// RFC 9110 15.5.16: say which content codings would be accepted.
		c.Set(fiber.HeaderAcceptEncoding, "identity")
		return apperr.New(apperr.UnsupportedMediaType, "request bodies must not be compressed: send them without a Content-Encoding")
	}
	// Only identity is left, which changes nothing; but Fiber's Ctx.Body
	// reads a list of codings ("identity, identity") as an error and gives
	// its text for the body, so the header goes.
	c.Request().Header.Del(fiber.HeaderContentEncoding)
	return c.Next()
}
