package agreements

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/documents/doctest"
)

// sampleDocument is a full agreement: a logo, a phone with three
// accessories, a data plan, the shipped terms in lang.
func sampleDocument(t testing.TB, lang, client string) *Document {
	t.Helper()
	body, ok := Shipped(lang)
	if !ok {
		t.Fatalf("no shipped terms in %s", lang)
	}
	logo, err := documents.CleanImage(samplePNG(t, 240, 120), documents.LogoRules)
	if err != nil {
		t.Fatal(err)
	}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	capMB := 10240
	return &Document{
		Agency: Agency{Name: "Northside Family Services", Address: "1200 W Lake St, Chicago, IL 60607",
			Phone: "+1 312-555-0199", Email: "devices@northside.example", Logo: logo, Currency: currency.USD},
		LoanID: 4711, Terms: &Terms{ID: 3, Language: lang, Version: 2, Body: body},
		ClientName: client, CaseNumber: "CASE-2026-0042",
		DeviceKind: "phone", Make: "Motorola", Model: "moto g 5G", Serial: "ZY22H8", IMEI: "356938035643809",
		AssetTag:    "DB-000123",
		Accessories: []Accessory{{"Charger", 1999}, {"USB-C cable", 899}, {"Case", 1250}},
		Plan:        &Plan{Carrier: "Mint Mobile", LineNumber: "+1 312-555-0142", DataCapMB: &capMB, EndsOn: date(t, "2027-06-30")},
		IssuedAt:    time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC), Location: chicago,
		DueOn: date(t, "2027-02-26"),
	}
}

func date(t testing.TB, s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// samplePNG is a w × h image with a diagonal stroke.
func samplePNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range min(w, h) {
		img.Set(i, i, color.Black)
		img.Set(i+1, i, color.Black)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAgreementPrintsEveryPartInItsLanguage(t *testing.T) {
	footers := map[string]string{
		"en": "Loan 4711 · terms version 2 (en) · page %d of %d",
		"es": "Préstamo 4711 · condiciones versión 2 (es) · página %d de %d",
		"fr": "Prêt 4711 · conditions version 2 (fr) · page %d sur %d",
	}
	for lang, want := range map[string][]string{
		"en": {"Device loan agreement", "Loan no. 4711", "Case number", "phone", "Charger (replacement cost: $ 19.99)", "10 GB",
			"June 30, 2027", "November 30, 2026", "February 26, 2027", "Terms version 2 (English)", "erases everything",
			"Witnessed by (staff)"},
		"es": {"Contrato de préstamo de equipo", "Préstamo n.º 4711", "Número de caso", "teléfono", "30 de junio de 2027",
			"26 de febrero de 2027", "Condiciones, versión 2 (español)", "US$ 19,99"},
		"fr": {"Contrat de prêt d'appareil", "Prêt n° 4711", "Numéro de dossier", "téléphone", "30 juin 2027",
			"26 février 2027", "Conditions, version 2 (français)", "Témoin"},
	} {
		doc := sampleDocument(t, lang, "Nguyễn Thị Ánh")
		pdf, err := doc.PDF()
		if err != nil {
			t.Fatal(err)
		}
		text := doctest.Text(t, pdf)
		// pdftotext may break a line anywhere a cell wraps: compare with
		// whitespace collapsed.
		flat := strings.Join(strings.Fields(text), " ")
		for _, s := range append(want, "Nguyễn Thị Ánh", "CASE-2026-0042", "Motorola moto g 5G", "ZY22H8", "356938035643809",
			"DB-000123", "Mint Mobile", "+1 312-555-0142", "Northside Family Services", "devices@northside.example",
			"1200 W Lake St, Chicago, IL 60607") {
			if !strings.Contains(flat, strings.Join(strings.Fields(s), " ")) {
				t.Errorf("%s: the agreement does not say %q:\n%s", lang, s, text)
			}
		}
		pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
		if len(pages) < 2 {
			t.Errorf("%s: %d page(s)", lang, len(pages))
		}
		for i, page := range pages {
			if footer := fmt.Sprintf(footers[lang], i+1, len(pages)); !strings.Contains(page, footer) {
				t.Errorf("%s: page %d does not end with %q:\n%s", lang, i+1, footer, page)
			}
		}
		if got := doctest.Barcodes(t, pdf, 1, doctest.Code128); len(got) != 1 || got[0] != "DB-000123" {
			t.Errorf("%s: the asset tag barcode reads %q", lang, got)
		}
		if again, _ := doc.PDF(); !bytes.Equal(again, pdf) {
			t.Errorf("%s: the same agreement drew different bytes", lang)
		}
	}
}

func TestAgreementSignatureBlocks(t *testing.T) {
	signedAt := time.Date(2026, 12, 1, 15, 4, 0, 0, time.UTC)
	sig, err := documents.CleanImage(samplePNG(t, 400, 120), documents.ImageRules{Formats: []string{"png"}, MustHaveInk: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		signing *Signing
		want    []string
	}{
		{nil, []string{"Date:"}},
		{&Signing{Method: Paper, WitnessName: "Dana Coordinator", SignedAt: signedAt}, []string{"Signed on paper", "Dana Coordinator", "Signed December 1, 2026, 09:04 CST"}},
		{&Signing{Method: Typed, TypedName: "Σοφία Ольга Łukasz", WitnessName: "Dana Coordinator", SignedAt: signedAt}, []string{"Signed by typing the name:", "Σοφία Ольга Łukasz"}},
		{&Signing{Method: Drawn, SignaturePNG: sig, WitnessName: "Zoë Françoise", SignedAt: signedAt}, []string{"Zoë Françoise", "Signed December 1, 2026"}},
	} {
		doc := sampleDocument(t, "en", "José Núñez")
		doc.Signed = c.signing
		pdf, err := doc.PDF()
		if err != nil {
			t.Fatal(err)
		}
		flat := strings.Join(strings.Fields(doctest.Text(t, pdf)), " ")
		for _, s := range c.want {
			if !strings.Contains(flat, s) {
				t.Errorf("%+v: the signature block does not say %q:\n%s", c.signing, s, flat)
			}
		}
		if c.signing == nil && strings.Contains(flat, "Signed ") {
			t.Errorf("an unsigned agreement says it is signed:\n%s", flat)
		}
	}
}

// BenchmarkAgreement renders the whole agreement of sampleDocument (two
// pages, a logo, a barcode, both weights of the embedded font) and
// reports its size.
func BenchmarkAgreement(b *testing.B) {
	doc := sampleDocument(b, "en", "Nguyễn Thị Ánh")
	var size int
	for b.Loop() {
		pdf, err := doc.PDF()
		if err != nil {
			b.Fatal(err)
		}
		size = len(pdf)
	}
	b.ReportMetric(float64(size), "bytes/pdf")
	if os.Getenv("AGREEMENT_PDF") != "" { // to look at one: AGREEMENT_PDF=/tmp/a.pdf
		pdf, _ := doc.PDF()
		_ = os.WriteFile(os.Getenv("AGREEMENT_PDF"), pdf, 0o600)
	}
}
