// Package documents draws every PDF the product hands out (training
// certificates, and the papers a client signs) one way: A4, the same
// margins, and DejaVu Sans embedded in the binary, so that names in any
// Latin, Greek or Cyrillic script print as written.
//
// Output is deterministic: a document's dates come from its own data, the
// catalog is sorted and gofpdf adds no random ids, so the same inputs give
// the same bytes (a signed or hashed document can be rendered again).
package documents

import (
	"bytes"
	_ "embed"
	"strings"
	"time"
	"unicode"

	"github.com/jung-kurt/gofpdf"
)

// The fonts and their licence are in fonts/ (DejaVu 2.37, from Debian's
// fonts-dejavu-core).
var (
	//go:embed fonts/DejaVuSans.ttf
	regular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	bold []byte
)

// Family is the font family every document is drawn in ("" and "B" styles).
const Family = "DejaVu"

// Margin is the page margin in millimetres.
const Margin = 20.0

// Orientation of a page.
const (
	Portrait  = "P"
	Landscape = "L"
)

// Doc is a PDF being drawn: a gofpdf document set up the product's way.
type Doc struct {
	*gofpdf.Fpdf
}

// New starts an A4 document in orientation with the embedded font
// registered and selected (11 pt), its title and author set, and its
// creation and modification date set to date (the date of what the
// document records, never the time it is drawn).
//
// gofpdf parses a TrueType font inside each document and keeps the result
// unexported, so each document parses its two fonts again; measured, that
// is most of a document's cost (see docs/PERFORMANCE.md).
func New(orientation, title, author string, date time.Time) *Doc {
	return NewOn(A4, orientation, title, author, date)
}

// Paper is a page size.
type Paper string

// The page sizes documents are drawn on.
const (
	A4     Paper = "A4"
	Letter Paper = "Letter"
)

// NewOn is New on paper rather than A4.
func NewOn(paper Paper, orientation, title, author string, date time.Time) *Doc {
	pdf := gofpdf.New(orientation, "mm", string(paper), "")
	pdf.SetMargins(Margin, Margin, Margin)
	pdf.SetAutoPageBreak(true, Margin)
	pdf.SetCompression(true)
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(date)
	pdf.SetModificationDate(date)
	pdf.SetTitle(Printable(title), true)
	pdf.SetAuthor(Printable(author), true)
	pdf.SetCreator("DeviceBank", true)
	// gofpdf pads the font's tables by appending to the slice it is given:
	// each document gets its own copy, or two drawn at once would write
	// into the one embedded in the binary.
	pdf.AddUTF8FontFromBytes(Family, "", bytes.Clone(regular))
	pdf.AddUTF8FontFromBytes(Family, "B", bytes.Clone(bold))
	pdf.SetFont(Family, "", 11)
	return &Doc{pdf}
}

// Centered writes text centred between x and x+w at height y, in size
// points, bold or not.
func (d *Doc) Centered(x, y, w, size float64, boldText bool, text string) {
	d.SetFont(Family, style(boldText), size)
	d.SetXY(x, y)
	d.CellFormat(w, size*0.6, text, "", 0, "C", false, 0, "")
}

// Title writes a bold heading across the page at the current line and
// moves below it.
func (d *Doc) Title(text string) {
	d.SetFont(Family, "B", 18)
	d.MultiCell(0, 9, text, "", "L", false)
	d.Ln(3)
	d.SetFont(Family, "", 11)
}

// Paragraph writes text as a wrapped left-aligned paragraph across the
// page at the current line, followed by a gap.
func (d *Doc) Paragraph(text string) {
	d.SetFont(Family, "", 11)
	d.MultiCell(0, 5.5, text, "", "L", false)
	d.Ln(2.5)
}

// Printable is text as the embedded font can take it: gofpdf refuses a
// character beyond the Basic Multilingual Plane (an emoji, a rare CJK
// ideograph) and fails the whole document, so each is printed as U+FFFD,
// the replacement character.
func Printable(text string) string {
	if strings.IndexFunc(text, beyondBMP) < 0 {
		return text
	}
	return strings.Map(func(r rune) rune {
		if beyondBMP(r) {
			return unicode.ReplacementChar
		}
		return r
	}, text)
}

func beyondBMP(r rune) bool { return r > 0xFFFF }

// The methods that take text are gofpdf's, through Printable: every
// document draws through them, so no record's text can fail a document.

// MultiCell is gofpdf's MultiCell of Printable(text).
func (d *Doc) MultiCell(w, h float64, text, border, align string, fill bool) {
	d.Fpdf.MultiCell(w, h, Printable(text), border, align, fill)
}

// CellFormat is gofpdf's CellFormat of Printable(text).
func (d *Doc) CellFormat(w, h float64, text, border string, ln int, align string, fill bool, link int, linkStr string) {
	d.Fpdf.CellFormat(w, h, Printable(text), border, ln, align, fill, link, linkStr)
}

// Cell is gofpdf's Cell of Printable(text).
func (d *Doc) Cell(w, h float64, text string) { d.Fpdf.Cell(w, h, Printable(text)) }

// Text is gofpdf's Text of Printable(text).
func (d *Doc) Text(x, y float64, text string) { d.Fpdf.Text(x, y, Printable(text)) }

// Write is gofpdf's Write of Printable(text).
func (d *Doc) Write(h float64, text string) { d.Fpdf.Write(h, Printable(text)) }

// GetStringWidth is gofpdf's GetStringWidth of Printable(text).
func (d *Doc) GetStringWidth(text string) float64 { return d.Fpdf.GetStringWidth(Printable(text)) }

// Bytes finishes the document and returns it, or the first drawing error.
func (d *Doc) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func style(boldText bool) string {
	if boldText {
		return "B"
	}
	return ""
}
