package training

import (
	"fmt"
	"strings"
	"time"

	"github.com/devicebank/devicebank/documents"
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

// PDF renders the certificate as a one-page A4 landscape PDF in the
// documents font, so names in any Latin, Greek or Cyrillic script print as
// written. The same certificate gives the same bytes.
func (c Certificate) PDF() ([]byte, error) {
	pdf := documents.New(documents.Landscape, "Certificate of completion: "+c.Module, c.Agency, c.CompletedOn)
	pdf.AddPage()
	w, h := pdf.GetPageSize()
	pdf.SetLineWidth(1.2)
	pdf.Rect(12, 12, w-24, h-24, "D")

	line := func(size float64, bold bool, y float64, text string) {
		pdf.Centered(documents.Margin, y, w-2*documents.Margin, size, bold, text)
	}
	line(16, false, 35, c.Agency)
	line(34, true, 55, "Certificate of completion")
	line(16, false, 85, "This certifies that")
	line(30, true, 100, c.ClientName)
	line(16, false, 125, "has completed the digital-literacy module")
	line(22, true, 138, moduleTitle(c.Module))
	details := fmt.Sprintf("on %s, %s hours of training", c.CompletedOn.Format("2 January 2006"), eligibility.FormatHours(c.Hours))
	if c.Score != nil {
		details += fmt.Sprintf(", assessment score %d", *c.Score)
	}
	line(14, false, 158, details)
	if c.Instructor != "" {
		line(14, false, 175, "Instructor: "+c.Instructor)
	}
	return pdf.Bytes()
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
