package reports

import (
	"fmt"
	"strings"

	"github.com/devicebank/devicebank/documents"
)

// PDF draws the report on A4: a cover with the period, the agency, the
// filters and five headline figures; charts of the pool by kind and
// status, of loans issued and returned by month and of utilization by
// month; a table of every section's figures; and a methods page defining
// every measure and the suppression rule, with "page N of M" at the foot
// of every page. The document's date is the period's last day, so the same
// report is the same bytes.
func (r *Report) PDF() ([]byte, error) {
	title := "Utilization report, " + r.Period.From.String() + " to " + r.Period.To.String()
	d := documents.New(documents.Portrait, title, r.Agency, r.Period.To.Time())
	p := pdfReport{Doc: d, r: r}
	p.cover()
	p.charts()
	p.tables()
	p.methods()
	d.NumberPages(func(n, total int) string {
		return fmt.Sprintf("%s · page %d of %d", title, n, total)
	})
	return d.Bytes()
}

// pdfReport draws the parts of one report.
type pdfReport struct {
	*documents.Doc
	r *Report
}

// The words of the PDF.
var (
	sectionTitles = map[string]string{
		"period": "Period", "pool": "Devices", "use": "Loans", "people": "People served",
		"access": "Access to devices", "training": "Training", "connectivity": "Connectivity",
	}
	statusNames = map[string]string{
		"available": "available", "on_loan": "on loan", "inspection": "inspection",
		"repair": "repair", "lost": "lost", "retired": "retired",
	}
	statusColors = map[string]rgb{
		"available": blue, "on_loan": orange, "inspection": sky,
		"repair": purple, "lost": vermillion, "retired": grey,
	}
)

// label is a measure's name as a reader reads it: loans_issued -> Loans
// issued.
func label(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	s = strings.Replace(s, " p90", " (90th percentile)", 1)
	s = strings.Replace(s, " cents", " (cents)", 1)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func longDate(r *Report, end bool) string {
	d := r.Period.From
	if end {
		d = r.Period.To
	}
	return d.Time().Format("2 January 2006")
}

// cover draws the first page.
func (p pdfReport) cover() {
	r := p.r
	p.AddPage()
	p.SetFont(documents.Family, "B", 13)
	p.MultiCell(0, 6, r.Agency, "", "L", false)
	p.Ln(18)
	p.SetFont(documents.Family, "B", 26)
	p.MultiCell(0, 12, "Device utilization report", "", "L", false)
	p.SetFont(documents.Family, "", 14)
	p.MultiCell(0, 8, longDate(r, false)+" to "+longDate(r, true), "", "L", false)
	p.Ln(10)

	sources := "All funding sources"
	switch {
	case r.Filters.FundingSources == nil:
	case len(r.Filters.FundingSources) == 0:
		sources = "None: no funding source is linked"
	default:
		var names []string
		for _, s := range r.Filters.FundingSources {
			names = append(names, s.Name)
		}
		sources = strings.Join(names, "\n")
	}
	p.field("Funding sources", sources)
	p.field("Device kind", or(r.Filters.Kind, "All kinds"))
	p.field("Postal codes", or(prefixed(r.Filters.PostalPrefix), "All postal codes"))
	if len(r.Filters.AgencyWide) > 0 {
		var names []string
		for _, s := range r.Filters.AgencyWide {
			names = append(names, or(sectionTitles[s], s))
		}
		p.field("Agency-wide", strings.Join(names, ", ")+": not narrowed by funding source")
	}
	p.Ln(10)

	headlines := []struct{ label, value string }{
		{"Devices in service at the end", r.Pool.DevicesAtEnd.Text()},
		{"Loans issued", r.Use.LoansIssued.Text()},
		{"Clients served", r.People.ClientsServed.Text()},
		{"Utilization rate", percent(r.Use.UtilizationRate)},
		{"Data plan cost", money(r.Connectivity.DataPlanCostCents, r.Currency)},
	}
	pageW, _ := p.GetPageSize()
	const gap, boxH = 5.0, 28.0
	boxW := (pageW - 2*documents.Margin - 2*gap) / 3
	_, pageH := p.GetPageSize()
	if p.GetY()+2*boxH+gap+15 > pageH-documents.Margin { // many funding sources
		p.AddPage()
	}
	top := p.GetY()
	p.SetDrawColor(180, 180, 180)
	p.SetLineWidth(0.3)
	for i, h := range headlines {
		x := documents.Margin + float64(i%3)*(boxW+gap)
		y := top + float64(i/3)*(boxH+gap)
		p.Rect(x, y, boxW, boxH, "D")
		size := 20.0 // points, smaller for a value too wide for its box
		for p.SetFont(documents.Family, "B", size); p.GetStringWidth(h.value) > boxW-4 && size > 8; size-- {
			p.SetFont(documents.Family, "B", size-1)
		}
		p.Centered(x, y+6, boxW, size, true, h.value)
		p.Centered(x, y+19, boxW, 9, false, h.label)
	}
	p.SetDrawColor(0, 0, 0)
	p.SetXY(documents.Margin, top+2*boxH+gap+8)
	p.SetFont(documents.Family, "", 9)
	p.MultiCell(0, 4.5, "Counts of people from 1 to 4 are shown as \"<5\", and some other figures as \"suppressed\", "+
		"so that no one can be singled out; the methods page at the end defines every measure.", "", "L", false)
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func prefixed(prefix string) string {
	if prefix == "" {
		return ""
	}
	return "beginning " + prefix
}

// field writes a bold label and its value, the value wrapping in its own
// column.
func (p pdfReport) field(name, value string) {
	const labelW = 42.0
	y := p.GetY()
	p.SetFont(documents.Family, "B", 10)
	p.SetXY(documents.Margin, y)
	p.CellFormat(labelW, 5.5, name, "", 0, "L", false, 0, "")
	p.SetFont(documents.Family, "", 10)
	p.SetXY(documents.Margin+labelW, y)
	p.MultiCell(0, 5.5, value, "", "L", false)
	p.Ln(1)
}

// charts draws the three charts, two on a page.
func (p pdfReport) charts() {
	r := p.r
	p.AddPage()
	pool := chart{Title: "Devices by kind and status at the end of the period", XTitle: "Kind of device",
		YTitle: "Devices", Stacked: true, Empty: "No devices"}
	for _, k := range r.Pool.ByKind {
		pool.Categories = append(pool.Categories, k.Kind)
	}
	for i, status := range Statuses {
		s := series{Name: statusNames[status], Color: statusColors[status]}
		for _, k := range r.Pool.ByKind {
			s.Figures = append(s.Figures, k.figures()[i])
		}
		pool.Series = append(pool.Series, s)
	}
	pool.draw(p.Doc, 115)

	loans := chart{Title: "Loans issued and returned by month", XTitle: "Month", YTitle: "Loans", Empty: "No months"}
	use := chart{Title: "Utilization by month", XTitle: "Month", YTitle: "Device-days on loan / in service",
		Line: true, Percent: true, Empty: "No months"}
	issued, returned := series{Name: "issued", Color: blue}, series{Name: "returned", Color: orange}
	util := series{Name: "utilization rate", Color: green}
	for _, m := range r.Use.ByMonth {
		loans.Categories = append(loans.Categories, m.Month)
		issued.Figures = append(issued.Figures, m.Issued)
		returned.Figures = append(returned.Figures, m.Returned)
		util.Figures = append(util.Figures, m.Utilization)
	}
	loans.Series = []series{issued, returned}
	use.Categories, use.Series = loans.Categories, []series{util}
	loans.draw(p.Doc, 115)
	p.AddPage()
	use.draw(p.Doc, 110)
}

// tables draws every section's figures: its measures in a table, and each
// breakdown in a table of its own.
func (p pdfReport) tables() {
	p.heading("Figures", 16)
	p.table([]string{"Period", ""}, []float64{0.6, 0.4}, [][]string{
		{"From", p.r.Period.From.String()},
		{"To", p.r.Period.To.String()},
	})
	for _, s := range p.r.Sections() {
		p.heading(s.Title, 13)
		for _, t := range s.Tables {
			if !t.Breakdown {
				p.table(t.Head, []float64{0.6, 0.4}, t.Rows)
				continue
			}
			p.breakdown(t)
		}
	}
}

// breakdown draws a breakdown's table under its title: the row's key, then
// one column per figure.
func (p pdfReport) breakdown(t Table) {
	p.heading(t.Title, 10.5)
	if len(t.Rows) == 0 {
		p.SetFont(documents.Family, "", 9)
		p.MultiCell(0, 5, "No rows.", "", "L", false)
		p.Ln(2)
		return
	}
	columns := len(t.Head) - 1
	widths := []float64{0.25}
	if columns <= 3 {
		widths[0] = 0.4
	}
	for range columns {
		widths = append(widths, (1-widths[0])/float64(columns))
	}
	p.table(t.Head, widths, t.Rows)
}

// heading writes a bold heading of size points, on a new page when less
// than a few lines are left below it.
func (p pdfReport) heading(text string, size float64) {
	_, pageH := p.GetPageSize()
	if p.GetY() > pageH-documents.Margin-30 {
		p.AddPage()
	}
	p.Ln(size / 4)
	p.SetFont(documents.Family, "B", size)
	p.MultiCell(0, size*0.5, text, "", "L", false)
	p.Ln(1)
}

// table draws rows under a shaded header, columns as fractions of the
// page's width; the first column wraps, the others are right-aligned. A
// table that reaches the foot of a page goes on with its header again.
func (p pdfReport) table(head []string, widths []float64, rows [][]string) {
	pageW, pageH := p.GetPageSize()
	full := pageW - 2*documents.Margin
	const lineH = 5.0
	drawRow := func(cells []string, header bool) {
		p.SetFont(documents.Family, style(header), 9)
		lines := p.SplitText(cells[0], widths[0]*full)
		h := lineH * float64(max(1, len(lines)))
		if p.GetY()+h > pageH-documents.Margin {
			p.AddPage()
			if !header {
				p.SetFont(documents.Family, "B", 9)
				p.drawCells(head, widths, full, lineH, lineH, true)
				p.SetFont(documents.Family, "", 9)
			}
		}
		p.drawCells(cells, widths, full, lineH, h, header)
	}
	drawRow(head, true)
	for _, row := range rows {
		drawRow(row, false)
	}
	p.Ln(3)
}

// drawCells draws one row of a table h mm tall at the current line.
func (p pdfReport) drawCells(cells []string, widths []float64, full, lineH, h float64, header bool) {
	x, y := documents.Margin, p.GetY()
	p.SetFillColor(235, 235, 235)
	p.SetDrawColor(200, 200, 200)
	p.SetLineWidth(0.2)
	if header {
		p.Rect(x, y, full, h, "F")
	}
	p.Line(x, y+h, x+full, y+h)
	for i, c := range cells {
		w := widths[i] * full
		p.SetXY(x, y)
		if i == 0 {
			p.MultiCell(w, lineH, c, "", "L", false)
		} else {
			p.CellFormat(w, lineH, c, "", 0, "R", false, 0, "")
		}
		x += w
	}
	p.SetDrawColor(0, 0, 0)
	p.SetXY(documents.Margin, y+h)
}

func style(bold bool) string {
	if bold {
		return "B"
	}
	return ""
}

// methods draws the definitions of every measure and the suppression rule
// on pages of their own.
func (p pdfReport) methods() {
	p.AddPage()
	p.Title("Methods")
	p.Paragraph("What each figure of this report counts. In the CSV a figure is named by its section and measure, " +
		"given here after each measure's name.")
	section := ""
	for _, d := range Definitions {
		if d.Section != section {
			section = d.Section
			p.heading(sectionTitles[section]+" ("+section+")", 12)
		}
		name := "Whole section"
		if d.Measure != "" {
			name = label(strings.ReplaceAll(d.Measure, ", ", " and "))
		}
		p.definition(name, d.Measure, d.Definition)
	}
	p.heading("Suppression", 12)
	p.Paragraph(SuppressionRule)
	p.Paragraph("Rates are written from 0 to 1 in the tables (0.25 is 25 %); money is in cents in the tables and the CSV.")
}

// definition writes a measure's name and its name in the CSV in a column
// of their own, and its definition beside them.
func (p pdfReport) definition(name, code, text string) {
	const nameW = 55.0
	_, pageH := p.GetPageSize()
	if p.GetY() > pageH-documents.Margin-15 {
		p.AddPage()
	}
	y := p.GetY()
	p.SetFont(documents.Family, "B", 9)
	p.SetXY(documents.Margin, y)
	p.MultiCell(nameW, 4.5, name, "", "L", false)
	if code != "" {
		p.SetFont(documents.Family, "", 8)
		p.SetTextColor(90, 90, 90)
		p.MultiCell(nameW, 4, code, "", "L", false)
		p.SetTextColor(0, 0, 0)
	}
	end := p.GetY()
	p.SetFont(documents.Family, "", 9)
	p.SetXY(documents.Margin+nameW, y)
	p.MultiCell(0, 4.5, text, "", "L", false)
	p.SetY(max(end, p.GetY()) + 1.5)
}
