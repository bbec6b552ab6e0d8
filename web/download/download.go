// Package download sends files as downloads, the same way for the API and
// the pages: named attachments, never cached, never sniffed.
package download

import "github.com/gofiber/fiber/v2"

// CSV answers with a CSV file as a download named name.csv, never cached.
func CSV(c *fiber.Ctx, name string, csv []byte) error {
	return send(c, "text/csv; charset=utf-8", FileName(name)+".csv", csv)
}

// PDF answers with a PDF file as a download named name.pdf, never cached.
func PDF(c *fiber.Ctx, name string, pdf []byte) error {
	return send(c, "application/pdf", FileName(name)+".pdf", pdf)
}

func send(c *fiber.Ctx, contentType, file string, body []byte) error {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+file+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(body)
}

// FileName is s with only the letters, digits, hyphens and underscores
// a file name may safely carry in a header, at most 80 of them ("module"
// when none is left).
func FileName(s string) string {
	b := []byte{}
	for i := 0; i < len(s) && len(b) < 80; i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' {
			b = append(b, ch)
		}
	}
	if len(b) == 0 {
		return "module"
	}
	return string(b)
}
