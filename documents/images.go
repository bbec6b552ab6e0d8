package documents

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"

	"github.com/boombuler/barcode/code128"
	"github.com/jung-kurt/gofpdf"
)

// MaxImagePixels bounds the pixels of any image the product accepts: its
// header is read first, so a small file that would decode to gigabytes is
// refused before any is allocated. ImageRules may bound it lower.
const MaxImagePixels = 4_000_000

// ImageRules are what CleanImage accepts.
type ImageRules struct {
	// Formats are the formats taken: "png", "jpeg".
	Formats []string
	// MaxPixels bounds width × height; 0 means MaxImagePixels.
	MaxPixels int
	// MustHaveInk refuses an image with fewer than MinInk pixels that
	// stand out from its background (a signature pad sent without a
	// stroke, or with one too faint to print).
	MustHaveInk bool
}

// LogoRules take an agency's logo: a PNG or JPEG.
var LogoRules = ImageRules{Formats: []string{"png", "jpeg"}}

// MinInk is the fewest ink pixels an image that must have ink has.
const MinInk = 20

// Image errors, for callers that explain them in their own words.
var (
	ErrNotImage   = errors.New("not a PNG or JPEG image")
	ErrTooLarge   = errors.New("too many pixels")
	ErrBlankImage = errors.New("the image is blank: every pixel the same")
)

// CleanImage decodes b as one of the rules' formats and returns it
// re-encoded as a plain 8-bit PNG, so that nothing but its pixels (no
// metadata, no chunk gofpdf cannot read, nothing hidden after the image)
// goes into a document. An image in another format, or with more pixels
// than the rules allow, is refused before it is decoded; so, when it must
// have ink, is one without.
func CleanImage(b []byte, rules ImageRules) ([]byte, error) {
	maxPixels := rules.MaxPixels
	if maxPixels <= 0 || maxPixels > MaxImagePixels {
		maxPixels = MaxImagePixels
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || !contains(rules.Formats, format) {
		return nil, ErrNotImage
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, ErrTooLarge
	}
	var img image.Image
	switch format {
	case "png":
		img, err = png.Decode(bytes.NewReader(b))
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, ErrNotImage
	}
	// A PNG of 8-bit colour decodes as NRGBA already: no second copy.
	flat, ok := img.(*image.NRGBA)
	if !ok {
		flat = image.NewNRGBA(img.Bounds())
		draw.Draw(flat, flat.Bounds(), img, img.Bounds().Min, draw.Src)
	}
	if rules.MustHaveInk && ink(flat) < MinInk {
		return nil, ErrBlankImage
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, flat); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ink counts the pixels of img that stand out from its background, as
// they print: each pixel's grey laid over white paper by its opacity (a
// transparent pixel is paper, whatever colour it hides), the background
// being the commonest grey, and ink a grey at least a quarter of the scale
// away from it.
func ink(img *image.NRGBA) int {
	p := img.Pix
	printed := func(i int) int {
		grey := (299*int(p[i]) + 587*int(p[i+1]) + 114*int(p[i+2])) / 1000
		a := int(p[i+3])
		return (grey*a + 255*(255-a)) / 255
	}
	var hist [256]int
	for i := 0; i+3 < len(p); i += 4 {
		hist[printed(i)]++
	}
	background := 0
	for g, n := range hist {
		if n > hist[background] {
			background = g
		}
	}
	count := 0
	for g, n := range hist {
		if g-background >= 64 || background-g >= 64 {
			count += n
		}
	}
	return count
}

// PNG draws a PNG (one CleanImage returned) scaled to fit inside the w × h
// mm box at (x, y), keeping its proportions, at the box's left; name
// identifies it within the document. It returns the width drawn.
//
// gofpdf writes a document's images ordered by width and, among images of
// equal width, in map order: a document with two images of the same width
// is not the same bytes twice. Callers that need the same bytes store them.
func (d *Doc) PNG(name string, b []byte, x, y, w, h float64) float64 {
	info := d.RegisterImageOptionsReader(name, gofpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(b))
	if d.Err() {
		return 0
	}
	iw, ih := info.Extent()
	scale := min(w/iw, h/ih)
	d.ImageOptions(name, x, y, iw*scale, ih*scale, false, gofpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	return iw * scale
}

// Code128 draws text as a Code 128 barcode inside the w × h mm box at
// (x, y), with its quiet zones; text outside ASCII cannot be encoded and is
// an error.
func (d *Doc) Code128(text string, x, y, w, h float64) error {
	bars, err := code128.Encode(text)
	if err != nil {
		return fmt.Errorf("documents: Code 128 of %q: %w", text, err)
	}
	d.barcode(bars, 10, x, y, w, h)
	return nil
}

// NumberPages writes footer(n, total) at the foot of every page, once the
// whole document is drawn, so that each page can say how many there are.
func (d *Doc) NumberPages(footer func(n, total int) string) {
	total := d.PageCount()
	w, h := d.GetPageSize()
	d.SetAutoPageBreak(false, 0)
	for n := 1; n <= total; n++ {
		d.SetPage(n)
		// Each page's content is its own stream: name the font again (a
		// change of style makes gofpdf write it) before writing in it.
		d.SetFont(Family, "B", 8)
		d.SetFont(Family, "", 8)
		d.SetTextColor(90, 90, 90)
		d.SetXY(Margin, h-Margin+6)
		d.CellFormat(w-2*Margin, 4, footer(n, total), "T", 0, "C", false, 0, "")
	}
	d.SetTextColor(0, 0, 0)
}
