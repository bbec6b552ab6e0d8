package documents

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// sheet is the layout of a sheet of adhesive labels: the page is cut into
// Cols × Rows labels of W × H mm, the first at (Left, Top), Gap mm
// between columns.
type sheet struct {
	Cols, Rows     int
	W, H           float64
	Left, Top, Gap float64
}

// The sheets labels are printed on: 3 × 10 on US Letter (the common
// 1" × 2⅝" address-label sheet) and 3 × 8 on A4 (70 × 37 mm labels).
var sheets = map[Paper]sheet{
	Letter: {Cols: 3, Rows: 10, W: 66.675, H: 25.4, Left: 4.7625, Top: 12.7, Gap: 3.175},
	A4:     {Cols: 3, Rows: 8, W: 70, H: 37, Left: 0, Top: 0.5, Gap: 0},
}

// LabelsPerSheet is how many labels one page of paper holds.
func LabelsPerSheet(paper Paper) int {
	s := sheets[paper]
	return s.Cols * s.Rows
}

// Label is what one label shows: the agency's name and the asset tag, as
// text, as a Code 128 barcode and as a QR code.
type Label struct {
	Agency string
	Tag    string
}

// Labels draws labels on sheets of paper, left to right and top to
// bottom, on as many pages as they need. date is the document's date
// (from the labelled records, never the time it is drawn). A tag Code 128
// cannot encode (a character outside ASCII) is an error.
func Labels(paper Paper, labels []Label, date time.Time) ([]byte, error) {
	s, ok := sheets[paper]
	if !ok {
		return nil, fmt.Errorf("documents: no label sheet for paper %q", paper)
	}
	d := NewOn(paper, Portrait, "Asset labels", "", date)
	d.SetMargins(0, 0, 0)
	d.SetAutoPageBreak(false, 0)
	per := s.Cols * s.Rows
	for i, l := range labels {
		if i%per == 0 {
			d.AddPage()
		}
		n := i % per
		x := s.Left + float64(n%s.Cols)*(s.W+s.Gap)
		y := s.Top + float64(n/s.Cols)*s.H
		if err := d.label(x, y, s.W, s.H, l); err != nil {
			return nil, err
		}
	}
	return d.Bytes()
}

// label draws one label at (x, y), w × h mm: the QR code on the left, and
// on the right the agency's name, the Code 128 bars and the tag. Each code
// keeps the quiet zone of white its standard asks for (4 modules around a
// QR code, 10 either side of Code 128 bars), without which a scanner may
// not find it.
func (d *Doc) label(x, y, w, h float64, l Label) error {
	const pad = 1.5 // mm inside the label's edge
	qrCode, err := qr.Encode(l.Tag, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("documents: QR code of %q: %w", l.Tag, err)
	}
	side := min(h, w*0.36) // the QR code with its quiet zone
	d.barcode(qrCode, 4, x, y+(h-side)/2, side, side)
	rx, rw := x+side, w-side-pad
	size := min(8, h/4) // points
	d.SetFont(Family, "", size)
	d.SetXY(rx, y+pad)
	d.CellFormat(rw, size*0.4, d.Fit(l.Agency, rw), "", 0, "C", false, 0, "")
	barTop := y + pad + size*0.4 + 1
	barH := h - (barTop - y) - pad - size*0.45 - 1
	if err := d.Code128(l.Tag, rx, barTop, rw, barH); err != nil {
		return err
	}
	d.SetFont(Family, "B", size)
	d.SetXY(rx, barTop+barH+0.5)
	d.CellFormat(rw, size*0.45, d.Fit(l.Tag, rw), "", 0, "C", false, 0, "")
	d.SetFont(Family, "", 11)
	return d.Error()
}

// barcode draws code inside the w × h mm box at (x, y), centred in it with
// quiet modules of white on each side: a row of bars as tall as the box, a
// matrix code with square modules. Each run of dark modules is one filled
// rectangle, so the edges are exact at any printer's resolution.
//
// The code is drawn as rectangles rather than as an embedded PNG: gofpdf
// writes images ordered by width, and images of equal width (every QR
// code on a sheet) in map order, so a sheet of images would not be the
// same bytes twice.
func (d *Doc) barcode(code barcode.Barcode, quiet int, x, y, w, h float64) {
	b := code.Bounds()
	cols, rows := b.Dx(), b.Dy()
	m := w / float64(cols+2*quiet) // module width
	if rows > 1 {                  // square modules
		m = min(m, h/float64(rows+2*quiet))
	}
	// Modules of whole printer dots at 300 (and 600) dpi, on the dot grid:
	// edges between dots print clean, where a module edge inside a dot
	// prints grey and can break a QR code's finder patterns.
	m = max(1, math.Floor(m/dot)) * dot
	rowH := h
	if rows > 1 {
		rowH = m
	}
	x = math.Round((x+(w-m*float64(cols))/2)/dot) * dot
	y = math.Round((y+(h-rowH*float64(rows))/2)/dot) * dot
	d.SetFillColor(0, 0, 0)
	for r := range rows {
		for c := 0; c < cols; {
			if !dark(code.At(b.Min.X+c, b.Min.Y+r)) {
				c++
				continue
			}
			start := c
			for c < cols && dark(code.At(b.Min.X+c, b.Min.Y+r)) {
				c++
			}
			d.Rect(x+float64(start)*m, y+float64(r)*rowH, float64(c-start)*m, rowH, "F")
		}
	}
}

// dot is one printer dot at 300 dpi, in mm.
const dot = 25.4 / 300

func dark(c color.Color) bool {
	y := color.GrayModel.Convert(c).(color.Gray).Y
	return y < 128
}

// Fit shortens text with an ellipsis until it fits w mm in the current
// font.
func (d *Doc) Fit(text string, w float64) string {
	if d.GetStringWidth(text) <= w {
		return text
	}
	r := []rune(text)
	for len(r) > 0 && d.GetStringWidth(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
