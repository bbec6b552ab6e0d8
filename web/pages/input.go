package pages

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
)

// checkText refuses a posted form holding a value (or a field name) that
// is not text: a NUL character, which neither database stores in text and
// which breaks the SQL the queries are written in, or bytes that are not
// UTF-8. A browser sends neither from a page's fields, so the form is
// refused as a whole, its fields named, before anything is done; the API's
// JSON decoding refuses the same. The uploaded file of an import is the
// import's to check.
func checkText(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodPost {
		return c.Next()
	}
	seen := map[string]bool{}
	check := func(k, v []byte) {
		if utf8.Valid(k) && utf8.Valid(v) && bytes.IndexByte(k, 0) < 0 && bytes.IndexByte(v, 0) < 0 {
			return
		}
		name := strings.ToValidUTF8(strings.ReplaceAll(string(k), "\x00", ""), "")
		if len(name) > 40 {
			name = name[:40]
		}
		seen[strings.ToValidUTF8(name, "")] = true
	}
	c.Request().PostArgs().VisitAll(check)
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		if form, err := c.MultipartForm(); err == nil {
			for k, vs := range form.Value {
				for _, v := range vs {
					check([]byte(k), []byte(v))
				}
			}
		}
	}
	if len(seen) == 0 {
		return c.Next()
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, "“"+n+"”")
	}
	sort.Strings(names)
	if len(names) > 5 {
		names = append(names[:5], "others")
	}
	return apperr.New(apperr.Invalid, "the form could not be accepted: %s held a NUL character or bytes that are not text (UTF-8). "+
		"Nothing was changed. Go back, correct it and send it again", strings.Join(names, ", "))
}
