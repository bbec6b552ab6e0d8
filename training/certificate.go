package training

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/jung-kurt/gofpdf"

	"github.com/devicebank/devicebank/eligibility"
)

// Certificate is what a certificate of completion says.
type Certificate struct {
	Agency      string
	ClientName  string
	Module      string
	CompletedOn time.Time // the session's start, in the agency's zone
	Hours       float64
	Instructor  string
	Score       *int
}

// PDF renders the certificate as a one-page A4 landscape PDF. It uses the
// PDF core fonts, which cover Western European letters (Latin-1); letters
// beyond them print as '?' until an embedded Unicode font is added.
func (c Certificate) PDF() ([]byte, error) { return c.render(true) }

// render draws the certificate, compressed or not (tests read the text).
func (c Certificate) render(compress bool) ([]byte, error) {
	pdf := gofpdf.New("L", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetCatalogSort(true) // the same certificate gives the same bytes
	pdf.SetTitle("Certificate of completion: "+c.Module, true)
	pdf.SetAuthor(c.Agency, true)
	pdf.SetCreationDate(c.CompletedOn)
	pdf.SetModificationDate(c.CompletedOn)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 to the core fonts' cp1252
	pdf.AddPage()
	w, h := pdf.GetPageSize()
	pdf.SetLineWidth(1.2)
	pdf.Rect(12, 12, w-24, h-24, "D")

	line := func(size float64, style string, y float64, text string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.SetXY(20, y)
		pdf.CellFormat(w-40, size*0.6, tr(text), "", 0, "C", false, 0, "")
	}
	line(16, "", 35, c.Agency)
	line(34, "B", 55, "Certificate of completion")
	line(16, "", 85, "This certifies that")
	line(30, "B", 100, c.ClientName)
	line(16, "", 125, "has completed the digital-literacy module")
	line(22, "B", 138, moduleTitle(c.Module))
	details := fmt.Sprintf("on %s, %s hours of training", c.CompletedOn.Format("2 January 2006"), eligibility.FormatHours(c.Hours))
	if c.Score != nil {
		details += fmt.Sprintf(", assessment score %d", *c.Score)
	}
	line(14, "", 158, details)
	if c.Instructor != "" {
		line(14, "I", 175, "Instructor: "+c.Instructor)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// moduleTitle writes a topic code as a title: device_basics -> Device basics.
func moduleTitle(topic string) string {
	t := strings.ReplaceAll(topic, "_", " ")
	if t == "" {
		return t
	}
	r := []rune(t)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}
