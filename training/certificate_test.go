package training

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/documents/doctest"
)

func TestCertificatePDF(t *testing.T) {
	score := 85
	c := Certificate{Agency: "Northside Family Services", ClientName: "Ana Peña", Module: "device_basics",
		CompletedOn: time.Date(2026, 4, 2, 17, 30, 0, 0, time.UTC), Hours: 2.5, Instructor: "M. Ortiz", Score: &score}
	b, err := c.PDF()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b[len(b)-32:], []byte("%%EOF")) {
		t.Fatalf("not a PDF: %q…", b[:min(20, len(b))])
	}
	again, err := c.PDF()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Error("the same certificate rendered twice differs: it should be reproducible")
	}
	text := doctest.Text(t, b)
	for _, want := range []string{"Certificate of completion", "Ana Peña", "Device basics", "2 April 2026, 2.5 hours of training, assessment score 85",
		"Instructor: M. Ortiz", "Northside Family Services"} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate does not say %q; it reads:\n%s", want, text)
		}
	}
}
