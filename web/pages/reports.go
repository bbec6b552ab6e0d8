package pages

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/web/download"
)

// The report's form is posted, with its CSRF token, never sent as a query
// string: a postal prefix next to counts of people says where clients
// live, and a URL reaches browser history, proxies' logs and Referer
// headers. The downloads are posted from the same fields, so that the CSV
// and the PDF are the report on the screen.

func reportForm() *Form {
	return NewForm("from", "From", "to", "To", "funding_source_id", "Funding source", "kind", "Device kind", "postal_prefix", "Postal code starts with")
}

// Option is one choice of a select.
type Option struct{ Value, Label string }

type reportData struct {
	Funder   bool
	Kinds    []Option
	Sources  []Option // a funder's own sources, when they have several
	Report   *reports.Report
	Sections []reports.Section
	Chart    *barChart
	// Scope names the funding sources the report counts.
	Scope string
	// Hidden are the fields the download buttons post again.
	Hidden []hiddenField
}

type hiddenField struct{ Name, Value string }

// reportsForm is the form, filled with the last whole month.
func (p *Pages) reportsForm(c *fiber.Ctx) error {
	f := reportForm()
	first := calendar.Today(p.svc.Reports.Now(), p.svc.Reports.Location).AddMonths(-1)
	first.Day = 1
	f.Values["from"] = first.String()
	f.Values["to"] = first.AddMonths(1).AddDays(-1).String()
	d, err := p.reportChoices(c)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "reports", "Utilization report", f, d)
}

// report shows the report the form asks for, or the form's problems next
// to its fields.
func (p *Pages) report(c *fiber.Ctx) error {
	f, d, err := p.utilization(c)
	if err != nil {
		return p.reportProblem(c, f, d, err)
	}
	d.Sections = d.Report.Sections()
	d.Chart = loansChart(d.Report)
	d.Scope = scopeText(d.Report.Filters.FundingSources)
	for _, name := range f.Order {
		if v := f.Values[name]; v != "" {
			d.Hidden = append(d.Hidden, hiddenField{name, v})
		}
	}
	return p.render(c, fiber.StatusOK, "reports", "Utilization report", f, d)
}

// reportCSV and reportPDF send the report the form asks for as a file,
// with the API's headers; a bad form is shown as on /reports.
func (p *Pages) reportCSV(c *fiber.Ctx) error {
	return p.reportFile(c, func(r *reports.Report, name string) error {
		var b bytes.Buffer
		if err := r.CSV(&b); err != nil {
			return err
		}
		return download.CSV(c, name, b.Bytes())
	})
}

func (p *Pages) reportPDF(c *fiber.Ctx) error {
	return p.reportFile(c, func(r *reports.Report, name string) error {
		pdf, err := r.PDF()
		if err != nil {
			return err
		}
		return download.PDF(c, name, pdf)
	})
}

func (p *Pages) reportFile(c *fiber.Ctx, send func(*reports.Report, string) error) error {
	f, d, err := p.utilization(c)
	if err != nil {
		return p.reportProblem(c, f, d, err)
	}
	return send(d.Report, "utilization-"+d.Report.Period.From.String()+"-to-"+d.Report.Period.To.String())
}

// utilization reads the posted form and computes its report, by the same
// ParseParams and service as GET /api/v1/reports/utilization.
func (p *Pages) utilization(c *fiber.Ctx) (*Form, reportData, error) {
	f := reportForm()
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	d, err := p.reportChoices(c)
	if err != nil {
		return f, d, err
	}
	v := f.Values
	params, err := reports.ParseParams(v["from"], v["to"], v["funding_source_id"], v["kind"], v["postal_prefix"])
	if err != nil {
		return f, d, err
	}
	d.Report, err = p.svc.Reports.Utilization(c.UserContext(), Actor(c), params)
	return f, d, err
}

// reportProblem shows the form with what is wrong with it, next to its
// fields and at the top; an error that is no user's mistake is the error
// page.
func (p *Pages) reportProblem(c *fiber.Ctx, f *Form, d reportData, err error) error {
	if !f.Fail(err) {
		return err
	}
	return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "reports", "Utilization report", f, d)
}

// reportChoices are the form's selects: the device kinds and, for a funder
// with several funding sources, theirs.
func (p *Pages) reportChoices(c *fiber.Ctx) (reportData, error) {
	a := Actor(c)
	d := reportData{Funder: a.Role == accounts.Funder, Kinds: []Option{{"", "All kinds"}}}
	for _, k := range reports.Kinds {
		d.Kinds = append(d.Kinds, Option{k, strings.ToUpper(k[:1]) + k[1:]})
	}
	if !d.Funder {
		return d, nil
	}
	scope, err := p.svc.Funding.ScopeOf(c.UserContext(), a)
	if err != nil || len(scope.IDs) < 2 {
		return d, err
	}
	d.Sources = []Option{{"", "All your funding sources"}}
	for _, id := range scope.IDs {
		name, ok, err := p.svc.Funding.Name(c.UserContext(), p.svc.DB, id)
		if err != nil {
			return d, err
		}
		if ok {
			d.Sources = append(d.Sources, Option{strconv.FormatInt(id, 10), name})
		}
	}
	return d, nil
}

// barChart is the loans issued and returned in each month, drawn as
// grouped bars in an SVG of 640 by 260 units; the table of the same
// figures follows it, and Description says them in words.
type barChart struct {
	Bars        []bar
	Ticks       []tick
	Labels      []tick
	Description string
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type tick struct {
	X, Y float64
	Text string
}

const (
	chartLeft, chartTop, chartWidth, chartHeight = 48.0, 12.0, 580.0, 200.0
)

func loansChart(r *reports.Report) *barChart {
	months := r.Use.ByMonth
	if len(months) == 0 {
		return nil
	}
	high := 0.0
	for _, m := range months {
		high = math.Max(high, math.Max(shownValue(m.Issued), shownValue(m.Returned)))
	}
	top, step := niceTop(high)
	ch := &barChart{}
	for v := 0.0; v <= top; v += step {
		ch.Ticks = append(ch.Ticks, tick{X: chartLeft - 6, Y: chartTop + chartHeight - v/top*chartHeight, Text: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	slot := chartWidth / float64(len(months))
	every := int(math.Ceil(float64(len(months)) * 56 / chartWidth)) // a label needs about 56 units
	var words []string
	for i, m := range months {
		x := chartLeft + float64(i)*slot
		w := slot * 0.38
		for j, s := range []struct {
			class, name string
			f           reports.Figure
		}{{"issued", "issued", m.Issued}, {"returned", "returned", m.Returned}} {
			h := shownValue(s.f) / top * chartHeight
			ch.Bars = append(ch.Bars, bar{X: x + slot*0.12 + float64(j)*w, Y: chartTop + chartHeight - h, W: w, H: h,
				Class: s.class, Title: m.Month + ": " + s.f.Text() + " " + s.name})
		}
		if i%every == 0 {
			ch.Labels = append(ch.Labels, tick{X: x + slot/2, Y: chartTop + chartHeight + 18, Text: m.Month})
		}
		words = append(words, m.Month+": "+m.Issued.Text()+" issued, "+m.Returned.Text()+" returned")
	}
	ch.Description = strings.Join(words, "; ") + "."
	return ch
}

// shownValue is what a bar shows of f: nothing when it is suppressed.
func shownValue(f reports.Figure) float64 {
	if f.Suppressed() {
		return 0
	}
	return f.Value
}

// niceTop is the top of an axis above high, and its step: 1, 2 or 5 times
// a power of ten, in at most 5 steps.
func niceTop(high float64) (top, step float64) {
	if high <= 0 {
		return 1, 1
	}
	for p := 1.0; ; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if step = m * p; math.Ceil(high/step) <= 5 {
				return math.Ceil(high/step) * step, step
			}
		}
	}
}

// scopeText names the funding sources a report counts: all of them (nil),
// none (a funder linked to none), or these.
func scopeText(sources []reports.FundingSource) string {
	if sources == nil {
		return "All"
	}
	if len(sources) == 0 {
		return "None: no funding source is linked to you"
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
