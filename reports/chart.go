package reports

import (
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/devicebank/devicebank/documents"
)

// chart is a chart drawn with gofpdf's lines and rectangles: bars (grouped
// or stacked) or lines, one per series, over categories along the x axis.
type chart struct {
	Title, XTitle, YTitle string
	Categories            []string
	Series                []series
	Stacked               bool
	Line                  bool
	// Percent draws figures from 0 to 1 on a 0-100 % axis.
	Percent bool
	// Empty is what the plot says when there is no category.
	Empty string
}

type series struct {
	Name    string
	Color   rgb
	Figures []Figure // one per category
}

type rgb struct{ R, G, B int }

// Okabe and Ito's palette, told apart by readers with colour blindness.
var (
	blue       = rgb{0, 114, 178}
	orange     = rgb{230, 159, 0}
	sky        = rgb{86, 180, 233}
	purple     = rgb{204, 121, 167}
	vermillion = rgb{213, 94, 0}
	grey       = rgb{153, 153, 153}
	green      = rgb{0, 158, 115}
)

// Sizes of a chart's parts, in mm and points.
const (
	tickSize   = 7.0 // points
	labelSize  = 6.5 // points, value labels
	axisLeft   = 16.0
	axisBottom = 15.0
	maxBar     = 25.0 // mm, the widest a bar (or a group's bar) is drawn
)

// draw draws c in a box across the page from the current line, height mm
// tall, and moves below it: the title, the legend, the y axis's title
// above the axis, the plot with its ticks and grid, and the x axis's title
// under the category labels. A suppressed figure is drawn as absent, with
// its word ("<5", "suppressed") where its value label would be.
func (c chart) draw(d *documents.Doc, height float64) {
	pageW, _ := d.GetPageSize()
	left, width := documents.Margin, pageW-2*documents.Margin
	top := d.GetY()
	d.SetTextColor(0, 0, 0)
	d.SetFont(documents.Family, "B", 12)
	d.SetXY(left, top)
	d.CellFormat(width, 7, c.Title, "", 1, "L", false, 0, "")
	c.legend(d, left, top+8, width)

	d.SetFont(documents.Family, "", tickSize)
	d.SetXY(left, top+15)
	d.CellFormat(width, 4, c.YTitle, "", 0, "L", false, 0, "")
	x0, x1 := left+axisLeft, left+width
	y0, y1 := top+height-axisBottom, top+22 // the plot's bottom and top
	ymax, step := c.scale()
	ypos := func(v float64) float64 { return y0 - (y0-y1)*v/ymax }

	// The grid and the y axis's ticks.
	d.SetLineWidth(0.1)
	d.SetDrawColor(215, 215, 215)
	for v := 0.0; v <= ymax+step/2; v += step {
		y := ypos(v)
		d.Line(x0, y, x1, y)
		d.SetXY(left, y-2)
		d.CellFormat(axisLeft-1.5, 4, c.tick(v), "", 0, "R", false, 0, "")
	}
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.3)
	d.Line(x0, y0, x1, y0)
	d.Line(x0, y0, x0, y1)

	n := len(c.Categories)
	if n == 0 {
		d.SetFont(documents.Family, "", 10)
		d.SetXY(x0, (y0+y1)/2-3)
		d.CellFormat(x1-x0, 6, c.Empty, "", 0, "C", false, 0, "")
	}
	slot := (x1 - x0) / float64(max(n, 1))
	every := c.labelEvery(d, slot)
	for i, cat := range c.Categories {
		if i%every != 0 {
			continue
		}
		// Centred under its category, over the width of those it spans.
		span := slot * float64(every)
		d.SetFont(documents.Family, "", tickSize)
		d.SetXY(x0+(float64(i)+0.5)*slot-span/2, y0+1)
		d.CellFormat(span, 4, d.Fit(cat, span), "", 0, "C", false, 0, "")
	}
	d.SetFont(documents.Family, "", tickSize)
	d.SetXY(x0, y0+7)
	d.CellFormat(x1-x0, 4, c.XTitle, "", 0, "C", false, 0, "")

	switch {
	case c.Line:
		c.lines(d, x0, slot, ypos)
	case c.Stacked:
		c.stacks(d, x0, slot, ypos)
	default:
		c.groups(d, x0, slot, ypos)
	}
	d.SetDrawColor(0, 0, 0)
	d.SetTextColor(0, 0, 0)
	d.SetLineWidth(0.2)
	d.SetFont(documents.Family, "", 11)
	d.SetXY(left, top+height+4)
}

// legend draws a swatch and the name of each series on one line.
func (c chart) legend(d *documents.Doc, x, y, width float64) {
	d.SetFont(documents.Family, "", 8)
	end := x + width
	for _, s := range c.Series {
		w := 6 + d.GetStringWidth(s.Name) + 5
		if x+w > end { // wrap
			x, y = end-width, y+4.5
		}
		d.SetFillColor(s.Color.R, s.Color.G, s.Color.B)
		d.SetDrawColor(s.Color.R, s.Color.G, s.Color.B)
		if c.Line {
			d.SetLineWidth(0.8)
			d.Line(x, y+2, x+4, y+2)
		} else {
			d.Rect(x, y+0.5, 4, 3, "F")
		}
		d.SetXY(x+5, y)
		d.CellFormat(w-5, 4, s.Name, "", 0, "L", false, 0, "")
		x += w
	}
}

// scale is the top of the y axis and the step of its ticks.
func (c chart) scale() (top, step float64) {
	if c.Percent {
		return 1, 0.2
	}
	high := 0.0
	for i := range c.Categories {
		sum := 0.0
		for _, s := range c.Series {
			v := shown(s.Figures, i)
			if c.Stacked {
				sum += v
			} else {
				sum = max(sum, v)
			}
		}
		high = max(high, sum)
	}
	return niceScale(high)
}

// niceScale rounds high up to a top of at most six ticks of whole 1, 2 or
// 5 times a power of ten (at least 1: the figures charted are counts).
func niceScale(high float64) (top, step float64) {
	if high <= 0 {
		return 1, 1
	}
	raw := high / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	step = max(step, 1)
	return math.Ceil(high/step) * step, step
}

func (c chart) tick(v float64) string {
	if c.Percent {
		return strconv.FormatFloat(math.Round(v*100), 'f', -1, 64) + " %"
	}
	return grouped(int64(math.Round(v)))
}

// label is what a value label says: the figure, as a percentage on a
// percent chart, or its word when suppressed.
func (c chart) label(f Figure) string {
	if c.Percent {
		return percent(f)
	}
	if f.Suppressed() {
		return f.Text()
	}
	return grouped(int64(math.Round(f.Value)))
}

// labelEvery is how many categories one x label spans, so that labels do
// not overlap.
func (c chart) labelEvery(d *documents.Doc, slot float64) int {
	d.SetFont(documents.Family, "", tickSize)
	widest := 0.0
	for _, cat := range c.Categories {
		widest = max(widest, d.GetStringWidth(cat))
	}
	return max(1, int(math.Ceil((widest+2)/slot)))
}

// valueLabel writes text centred at x just above y, if it fits in w mm.
func valueLabel(d *documents.Doc, text string, x, y, w float64) {
	d.SetFont(documents.Family, "", labelSize)
	if d.GetStringWidth(text) > w {
		return
	}
	d.SetTextColor(60, 60, 60)
	d.SetXY(x-w/2, y-3.5)
	d.CellFormat(w, 3, text, "", 0, "C", false, 0, "")
	d.SetTextColor(0, 0, 0)
}

func (c chart) groups(d *documents.Doc, x0, slot float64, ypos func(float64) float64) {
	bar := min(slot*0.8, maxBar*float64(len(c.Series))) / float64(len(c.Series))
	for i := range c.Categories {
		x := x0 + (float64(i)+0.5)*slot - bar*float64(len(c.Series))/2
		for _, s := range c.Series {
			f := s.Figures[i]
			if !f.Suppressed() {
				d.SetFillColor(s.Color.R, s.Color.G, s.Color.B)
				d.Rect(x, ypos(f.Value), bar, ypos(0)-ypos(f.Value), "F")
				valueLabel(d, c.label(f), x+bar/2, ypos(f.Value), bar+1)
			} else {
				valueLabel(d, f.Text(), x+bar/2, ypos(0), bar+1)
			}
			x += bar
		}
	}
}

func (c chart) stacks(d *documents.Doc, x0, slot float64, ypos func(float64) float64) {
	bar := min(slot*0.6, maxBar)
	for i := range c.Categories {
		x := x0 + (float64(i)+0.5)*slot - bar/2
		sum, hidden := 0.0, ""
		for _, s := range c.Series {
			f := s.Figures[i]
			if f.Suppressed() {
				hidden = f.Text()
				continue
			}
			d.SetFillColor(s.Color.R, s.Color.G, s.Color.B)
			d.Rect(x, ypos(sum+f.Value), bar, ypos(sum)-ypos(sum+f.Value), "F")
			sum += f.Value
		}
		total := grouped(int64(math.Round(sum)))
		if hidden != "" { // a total would recover the suppressed part
			total = hidden
		}
		valueLabel(d, total, x+bar/2, ypos(sum), slot)
	}
}

// lines draws each series as a line through its figures, broken where a
// figure is suppressed, with a dot at each figure.
func (c chart) lines(d *documents.Doc, x0, slot float64, ypos func(float64) float64) {
	for _, s := range c.Series {
		d.SetDrawColor(s.Color.R, s.Color.G, s.Color.B)
		d.SetFillColor(s.Color.R, s.Color.G, s.Color.B)
		d.SetLineWidth(0.6)
		prevX, prevY, prev := 0.0, 0.0, false
		for i, f := range s.Figures {
			x := x0 + (float64(i)+0.5)*slot
			if f.Suppressed() {
				valueLabel(d, f.Text(), x, ypos(0), slot)
				prev = false
				continue
			}
			y := ypos(f.Value)
			if prev {
				d.Line(prevX, prevY, x, y)
			}
			d.Circle(x, y, 0.8, "F")
			valueLabel(d, c.label(f), x, y-0.5, slot)
			prevX, prevY, prev = x, y, true
		}
	}
}

// shown is the i-th figure's value, or 0 when it is suppressed.
func shown(figures []Figure, i int) float64 {
	if figures[i].Suppressed() {
		return 0
	}
	return figures[i].Value
}

// grouped writes n with a comma between thousands: 12,345.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// percent writes a rate from 0 to 1 as a percentage with one decimal
// ("72.5 %"), or its word when suppressed.
func percent(f Figure) string {
	if f.Suppressed() {
		return f.Text()
	}
	return strconv.FormatFloat(math.Round(f.Value*1000)/10, 'f', 1, 64) + " %"
}

// money writes cents as an amount in unit (USD when unset), as English
// writes it: $ 12,345.67, € 12,345.67.
func money(f Figure, unit currency.Unit) string {
	if f.Suppressed() {
		return f.Text()
	}
	if unit == (currency.Unit{}) {
		unit = currency.USD
	}
	return message.NewPrinter(language.English).Sprint(currency.Symbol(unit.Amount(math.Round(f.Value) / 100)))
}
