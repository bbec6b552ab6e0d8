package documents_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/documents/doctest"
)

// A full sheet on either paper scans: every tag on the page reads back as
// a Code 128 barcode and as a QR code, and the page says the agency's
// name and every tag; the same labels are the same bytes.
func TestLabelsScan(t *testing.T) {
	for _, paper := range []documents.Paper{documents.Letter, documents.A4} {
		t.Run(string(paper), func(t *testing.T) {
			n := documents.LabelsPerSheet(paper)
			var labels []documents.Label
			var tags []string
			for i := range n + 1 { // one more than a sheet: a second page
				tag := fmt.Sprintf("DB-%06d", 100+i*37)
				tags = append(tags, tag)
				labels = append(labels, documents.Label{Agency: "Northside Family Services", Tag: tag})
			}
			pdf, err := documents.Labels(paper, labels, signedOn)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := documents.Labels(paper, labels, signedOn); !bytes.Equal(pdf, again) {
				t.Error("the same labels drawn twice differ")
			}
			page1 := tags[:n]
			slices.Sort(page1)
			for _, sym := range []string{doctest.Code128, doctest.QRCode} {
				got := doctest.Barcodes(t, pdf, 1, sym)
				slices.Sort(got)
				if !slices.Equal(got, page1) {
					t.Errorf("%s on page 1 reads %v, want %v", sym, got, page1)
				}
			}
			if got := doctest.Barcodes(t, pdf, 2, doctest.QRCode); !slices.Equal(got, tags[n:]) {
				t.Errorf("page 2 reads %v, want %v", got, tags[n:])
			}
			text := doctest.Text(t, pdf)
			if c := strings.Count(text, "Northside Family Services"); c != n+1 {
				t.Errorf("the agency is named %d times, want %d", c, n+1)
			}
		})
	}
}
