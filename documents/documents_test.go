package documents_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/training"
)

var signedOn = time.Date(2026, 4, 2, 17, 30, 0, 0, time.UTC)

// draw renders a one-page portrait document with a title and a paragraph.
func draw(t testing.TB, title, body string) []byte {
	t.Helper()
	d := documents.New(documents.Portrait, title, "Northside Family Services", signedOn)
	d.AddPage()
	d.Title(title)
	d.Paragraph(body)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every script the agency's clients write their names in prints as
// written, in both weights, and the same document is the same bytes.
func TestDocumentUnicodeAndDeterministic(t *testing.T) {
	title := "Loan agreement — Ольга Ёлкина"
	body := "José Núñez, Zoë Brontë, Françoise Lefèvre, Łukasz Wąsik, Nguyễn Thị Ánh and Σοφία Παπαδοπούλου sign below."
	b := draw(t, title, body)
	if again := draw(t, title, body); !bytes.Equal(b, again) {
		t.Error("the same document drawn twice differs")
	}
	if other := draw(t, title, body+" "); bytes.Equal(b, other) {
		t.Error("two different documents are the same bytes")
	}
	// The dates are the document's own, not the time it was drawn.
	if !bytes.Contains(b, []byte("/CreationDate (D:20260402173000")) || !bytes.Contains(b, []byte("/ModDate (D:20260402173000")) {
		t.Error("the document's dates are not the date it records")
	}
	text := strings.Join(strings.Fields(doctest.Text(t, b)), " ")
	for _, want := range []string{title, body} {
		if !strings.Contains(text, want) {
			t.Errorf("the document does not say %q; it reads:\n%s", want, text)
		}
	}
}

// BenchmarkDocument measures the shared setup: a page with a title and a
// paragraph, which is the fonts' parsing and subsetting.
func BenchmarkDocument(b *testing.B) {
	var size int
	for b.Loop() {
		size = len(draw(b, "Loan agreement", "José Núñez signs below."))
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkCertificate measures a whole training certificate.
func BenchmarkCertificate(b *testing.B) {
	score := 85
	c := training.Certificate{Agency: "Northside Family Services", ClientName: "Nguyễn Thị Ánh", Module: "device_basics",
		CompletedOn: signedOn, Hours: 2.5, Instructor: "M. Ortiz", Score: &score}
	var size int
	for b.Loop() {
		pdf, err := c.PDF()
		if err != nil {
			b.Fatal(err)
		}
		size = len(pdf)
	}
	b.ReportMetric(float64(size), "bytes")
}
