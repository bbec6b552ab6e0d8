package reports_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/reports"
)

// people is a count of people that is shown.
func people(n int64) reports.Figure { return reports.Count(n) }

var (
	small  = reports.Figure{Small: true, Integer: true}  // 1 to 4 people: "<5"
	hidden = reports.Figure{Hidden: true, Integer: true} // suppressed with it: "suppressed"
	count  = reports.Count
	rate   = reports.Rate
)

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// fullReport has every figure set, over a quarter, narrowed to two
// funding sources, one named to run a formula in a spreadsheet and one
// needing CSV quotes.
func fullReport() *reports.Report {
	return &reports.Report{
		Agency: "Northside Family Services",
		Period: reports.Period{From: date("2026-01-01"), To: date("2026-03-31")},
		Filters: reports.Filters{
			FundingSources: []reports.FundingSource{
				{ID: 7, Name: `=HYPERLINK("http://x","y")`},
				{ID: 9, Name: "Smith, Jones \"Tech\" Fund\nPhase 2"},
			},
			PostalPrefix: "941",
			AgencyWide:   []string{"access", "training"},
		},
		Pool: reports.Pool{
			DevicesAtEnd: count(57),
			ByKind: []reports.KindStatus{
				{Kind: "laptop", Available: count(12), OnLoan: count(30), Inspection: count(2), Repair: count(1), Lost: count(3), Retired: count(4)},
				{Kind: "hotspot", Available: count(5), OnLoan: count(6), Inspection: count(0), Repair: count(1), Lost: count(1), Retired: count(0)},
			},
			Added: count(20), Retired: count(4), Lost: count(4),
		},
		Use: reports.Use{
			LoansIssued: count(120), LoansReturned: count(98), Renewals: count(15), LoansLost: count(3), OverdueAtEnd: count(6),
			UtilizationRate: rate(0.7234), LoanDaysMedian: rate(41), LoanDaysP90: rate(88), OverdueRecoveryRate: rate(0.8),
			ByMonth: []reports.MonthLoans{
				{Month: "2026-01", Issued: count(50), Returned: count(30), Utilization: rate(0.65)},
				{Month: "2026-02", Issued: count(40), Returned: count(33), Utilization: rate(0.7412)},
				{Month: "2026-03", Issued: count(30), Returned: count(35), Utilization: rate(0.78)},
			},
		},
		People: reports.People{
			ClientsServed: people(85), NewClients: people(60), ReturningClients: people(25), Households: people(70),
			ByNeed: []reports.NeedCount{{Need: "internet_access", Clients: people(40)}, {Need: "@SUM(A1)", Clients: small}},
			ByAgeBand: []reports.AgeBandRow{
				{Band: "under 18", Clients: people(5)}, {Band: "18-24", Clients: people(10)}, {Band: "25-44", Clients: people(30)},
				{Band: "45-64", Clients: people(25)}, {Band: "65 and over", Clients: people(9)}, {Band: "unknown", Clients: people(6)},
			},
		},
		Access: reports.Access{
			RequestsReceived: people(140), Approved: people(110), Denied: people(20),
			DeniedByRule: []reports.RuleDenials{{Rule: "income", Requests: people(12)}, {Rule: "staff decision", Requests: people(8)}, {Rule: "+cmd|' /C calc'!A0", Requests: small}},
			Waitlisted:   people(9), DaysToDeviceMedian: rate(6.5), WaitlistAtEnd: small,
		},
		Training: reports.Training{
			SessionsHeld: count(24), Enrollments: people(180), AttendanceRate: rate(0.85), HoursDelivered: rate(48.5), ModulesCompleted: people(130),
		},
		Connectivity: reports.Connectivity{
			DataPlanMonths: count(300), DataPlanCostCents: count(1234567), CostPerClientServedCents: count(14524),
		},
	}
}

// suppressedReport has few people: counts of 1 to 4, the cells suppressed
// with them, and rates over fewer than 5 people.
func suppressedReport() *reports.Report {
	r := fullReport()
	r.Filters = reports.Filters{Kind: "hotspot"}
	r.People = reports.People{
		ClientsServed: people(12), NewClients: small, ReturningClients: hidden, Households: people(10),
		ByNeed: []reports.NeedCount{{Need: "internet_access", Clients: people(7)}, {Need: "job_search", Clients: small}},
		ByAgeBand: []reports.AgeBandRow{
			{Band: "under 18", Clients: small}, {Band: "18-24", Clients: hidden}, {Band: "25-44", Clients: people(8)},
			{Band: "45-64", Clients: small}, {Band: "65 and over", Clients: count(0)}, {Band: "unknown", Clients: count(0)},
		},
	}
	r.Use.LoanDaysMedian, r.Use.LoanDaysP90 = hidden, hidden
	r.Use.ByMonth[1].Utilization = hidden
	r.Training.AttendanceRate = hidden
	r.Access.DaysToDeviceMedian = hidden
	return r
}

// emptyReport is what a funder linked to no funding source gets: the
// period and nothing else.
func emptyReport() *reports.Report {
	return &reports.Report{
		Agency:  "Northside Family Services",
		Period:  reports.Period{From: date("2025-07-01"), To: date("2025-07-31")},
		Filters: reports.Filters{FundingSources: []reports.FundingSource{}},
	}
}

// longName is a funding source's name in several scripts, long enough to
// wrap on every page it is printed on.
const longName = "Фонд цифровой доступности Санкт-Петербурга — программа «Связь для всех», " +
	"Ταμείο Ψηφιακής Πρόσβασης της Περιφέρειας Αττικής, Quỹ Kết nối Cộng đồng Thành phố Hồ Chí Minh, " +
	"and the Fondation Françoise Lefèvre pour l'inclusion numérique des familles (grant 2026–2028)"

func unicodeReport() *reports.Report {
	r := fullReport()
	r.Agency = "Servicios Familiares del Norte — Ñuñoa"
	r.Filters.FundingSources = []reports.FundingSource{{ID: 3, Name: longName}, {ID: 4, Name: "Zoë Brontë Trust"}}
	r.People.ByNeed = append(r.People.ByNeed, reports.NeedCount{Need: "accès à internet pour la recherche d'emploi et les démarches administratives en ligne", Clients: people(11)})
	return r
}

// threeYears is a report as long as the API allows: 36 months, four kinds.
func threeYears() *reports.Report {
	r := fullReport()
	r.Period = reports.Period{From: date("2024-01-01"), To: date("2026-12-31")}
	r.Use.ByMonth = nil
	for i := range 36 {
		r.Use.ByMonth = append(r.Use.ByMonth, reports.MonthLoans{
			Month:  fmt.Sprintf("%d-%02d", 2024+i/12, i%12+1),
			Issued: count(int64(2000 + 37*i)), Returned: count(int64(1900 + 41*i)), Utilization: rate(0.5 + float64(i)/100),
		})
	}
	r.Pool.ByKind = append(r.Pool.ByKind,
		reports.KindStatus{Kind: "tablet", Available: count(4000), OnLoan: count(21000), Inspection: count(300), Repair: count(120), Lost: count(800), Retired: count(2500)},
		reports.KindStatus{Kind: "desktop", Available: count(700), OnLoan: count(1200), Inspection: count(40), Repair: count(10), Lost: count(5), Retired: count(300)})
	return r
}

func csvOf(t testing.TB, r *reports.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.CSV(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The CSV lists every figure, one a row, and nothing in it can run in a
// spreadsheet.
func TestCSV(t *testing.T) {
	want := `section,measure,breakdown,value
period,from,,2026-01-01
period,to,,2026-03-31
filters,funding_source,7,"'=HYPERLINK(""http://x"",""y"")"
filters,funding_source,9,"Smith, Jones ""Tech"" Fund
Phase 2"
filters,postal_prefix,,941
filters,agency_wide,,access
filters,agency_wide,,training
pool,devices_at_end,,57
pool,by_kind,laptop/available,12
pool,by_kind,laptop/on_loan,30
pool,by_kind,laptop/inspection,2
pool,by_kind,laptop/repair,1
pool,by_kind,laptop/lost,3
pool,by_kind,laptop/retired,4
pool,by_kind,hotspot/available,5
pool,by_kind,hotspot/on_loan,6
pool,by_kind,hotspot/inspection,0
pool,by_kind,hotspot/repair,1
pool,by_kind,hotspot/lost,1
pool,by_kind,hotspot/retired,0
pool,added,,20
pool,retired,,4
pool,lost,,4
use,loans_issued,,120
use,loans_returned,,98
use,renewals,,15
use,loans_lost,,3
use,overdue_at_end,,6
use,utilization_rate,,0.7234
use,loan_days_median,,41
use,loan_days_p90,,88
use,overdue_recovery_rate,,0.8
use,by_month,2026-01/issued,50
use,by_month,2026-01/returned,30
use,by_month,2026-01/utilization,0.65
use,by_month,2026-02/issued,40
use,by_month,2026-02/returned,33
use,by_month,2026-02/utilization,0.7412
use,by_month,2026-03/issued,30
use,by_month,2026-03/returned,35
use,by_month,2026-03/utilization,0.78
people,clients_served,,85
people,new_clients,,60
people,returning_clients,,25
people,households,,70
people,by_need,internet_access,40
people,by_need,'@SUM(A1),<5
people,by_age_band,under 18,5
people,by_age_band,18-24,10
people,by_age_band,25-44,30
people,by_age_band,45-64,25
people,by_age_band,65 and over,9
people,by_age_band,unknown,6
access,requests_received,,140
access,approved,,110
access,denied,,20
access,denied_by_rule,income,12
access,denied_by_rule,staff decision,8
access,denied_by_rule,'+cmd|' /C calc'!A0,<5
access,waitlisted,,9
access,days_to_device_median,,6.5
access,waitlist_at_end,,<5
training,sessions_held,,24
training,enrollments,,180
training,attendance_rate,,0.85
training,hours_delivered,,48.5
training,modules_completed,,130
connectivity,data_plan_months,,300
connectivity,data_plan_cost_cents,,1234567
connectivity,cost_per_client_served_cents,,14524
`
	if got := csvOf(t, fullReport()); got != want {
		t.Errorf("the CSV is\n%s\nwant\n%s", got, want)
	}

	// Read back as a spreadsheet would: four cells a row, none a formula.
	records, err := csv.NewReader(strings.NewReader(want)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range records {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("the cell %q of %q could run as a formula", cell, rec)
			}
		}
	}
	if records[4][3] != "Smith, Jones \"Tech\" Fund\nPhase 2" {
		t.Errorf("a name with a comma, quotes and a line break reads back as %q", records[4][3])
	}

	// Names in any script are written as they are, in UTF-8.
	got := csvOf(t, unicodeReport())
	for _, row := range []string{
		"filters,funding_source,3,\"" + longName + "\"\n",
		"filters,funding_source,4,Zoë Brontë Trust\n",
		"people,by_need,accès à internet pour la recherche d'emploi et les démarches administratives en ligne,11\n",
	} {
		if !strings.Contains(got, row) {
			t.Errorf("the CSV has no row %q; it is\n%s", row, got)
		}
	}
}

// Suppressed figures are their words; no funding source filter is "all",
// a filter to none "none"; a report with no rows has its scalars only.
func TestCSVSuppressedAndEmpty(t *testing.T) {
	got := csvOf(t, suppressedReport())
	for _, row := range []string{
		"filters,funding_source,,all\n",
		"filters,kind,,hotspot\n",
		"use,loan_days_median,,suppressed\n",
		"use,by_month,2026-02/utilization,suppressed\n",
		"people,clients_served,,12\n",
		"people,new_clients,,<5\n",
		"people,returning_clients,,suppressed\n",
		"people,by_age_band,under 18,<5\n",
		"people,by_age_band,18-24,suppressed\n",
		"people,by_need,job_search,<5\n",
		"training,attendance_rate,,suppressed\n",
		"access,days_to_device_median,,suppressed\n",
	} {
		if !strings.Contains(got, row) {
			t.Errorf("the CSV has no row %q; it is\n%s", row, got)
		}
	}

	got = csvOf(t, emptyReport())
	if !strings.HasPrefix(got, "section,measure,breakdown,value\nperiod,from,,2025-07-01\nperiod,to,,2025-07-31\nfilters,funding_source,,none\npool,devices_at_end,,0\npool,added,,0\n") {
		t.Errorf("the empty report's CSV is\n%s", got)
	}
	for _, absent := range []string{"by_kind", "by_month", "by_need", "by_age_band", "denied_by_rule"} {
		if strings.Contains(got, absent) {
			t.Errorf("the empty report's CSV has a %s row:\n%s", absent, got)
		}
	}
	if rows := strings.Count(got, "\n"); rows != 1+3+31 { // the header, the period and the filter, 31 scalar measures
		t.Errorf("the empty report's CSV has %d rows", rows)
	}
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"City Digital Fund":          "City Digital Fund",
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1":                         "'+1",
		"-2+3":                       "'-2+3",
		"@SUM(A1)":                   "'@SUM(A1)",
		"\tx":                        "'\tx",
		"\rx":                        "'\rx",
		"<5":                         "<5",
		"a=b":                        "a=b",
		"Ñuñoa":                      "Ñuñoa",
	} {
		if got := reports.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every measure the CSV writes is defined for the methods page, and every
// definition names a measure the CSV writes.
func TestEveryMeasureDefined(t *testing.T) {
	records, err := csv.NewReader(strings.NewReader(csvOf(t, fullReport()))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, rec := range records[1:] {
		if rec[0] != "period" && rec[0] != "filters" {
			written[rec[0]+"."+rec[1]] = true
		}
	}
	defined := map[string]bool{}
	for _, d := range reports.Definitions {
		if d.Measure == "" || d.Section == "period" {
			continue
		}
		defined[d.Section+"."+d.Measure] = true
		if !written[d.Section+"."+d.Measure] {
			t.Errorf("%s.%s is defined but not in the report", d.Section, d.Measure)
		}
		if strings.TrimSpace(d.Definition) == "" {
			t.Errorf("%s.%s has an empty definition", d.Section, d.Measure)
		}
	}
	for m := range written {
		if !defined[m] {
			t.Errorf("%s is in the report but not defined", m)
		}
	}
}

func pdfOf(t testing.TB, r *reports.Report) []byte {
	t.Helper()
	b, err := r.PDF()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pages returns the text of each page of pdf as laid out, line after
// line, its words separated by single spaces: a table's row, or a row of
// the cover's boxes, reads in order.
func pages(t *testing.T, pdf []byte) []string {
	t.Helper()
	var out []string
	for _, p := range strings.Split(strings.TrimRight(doctest.Layout(t, pdf), "\f"), "\f") {
		out = append(out, strings.Join(strings.Fields(p), " "))
	}
	return out
}

func mustSay(t *testing.T, where, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not say %q; it reads:\n%s", where, w, text)
		}
	}
}

// The PDF has the cover, the charts, every section's tables and the
// methods, numbered, and is the same bytes every time.
func TestPDF(t *testing.T) {
	b := pdfOf(t, fullReport())
	if !bytes.Equal(b, pdfOf(t, fullReport())) {
		t.Error("the same report drawn twice differs")
	}
	if !bytes.Contains(b, []byte("/CreationDate (D:20260331")) {
		t.Error("the document's date is not the period's last day")
	}
	text := pages(t, b)
	n := len(text)
	for i, p := range text {
		mustSay(t, fmt.Sprintf("page %d", i+1), p, fmt.Sprintf("page %d of %d", i+1, n))
	}
	mustSay(t, "the cover", text[0], "Northside Family Services", "Device utilization report",
		"1 January 2026 to 31 March 2026",
		`=HYPERLINK("http://x","y")`, `Smith, Jones "Tech" Fund Phase 2`, "All kinds", "beginning 941",
		"Access to devices, Training: not narrowed by funding source",
		"57 120 85 Devices in service at the end Loans issued Clients served",
		"72.3 % $ 12,345.67 Utilization rate Data plan cost")
	mustSay(t, "the charts", text[1],
		"Devices by kind and status at the end of the period", "Kind of device", "Devices",
		"available", "on loan", "inspection", "repair", "lost", "retired", "laptop", "hotspot",
		"Loans issued and returned by month", "Month", "Loans", "issued", "returned", "2026-01", "2026-03")
	mustSay(t, "the utilization chart", text[2], "Utilization by month", "Device-days on loan / in service",
		"utilization rate", "0 %", "100 %", "65.0 %", "74.1 %")

	all := strings.Join(text, " ")
	tables := all[strings.Index(all, "Figures"):strings.Index(all, "Methods")]
	mustSay(t, "the tables", tables,
		"Period", "2026-01-01", "2026-03-31",
		"Devices", "Measure Value", "Devices at end 57", "By kind", "Kind Available On loan Inspection Repair Lost Retired",
		"laptop 12 30 2 1 3 4", "hotspot 5 6 0 1 1 0", "Added 20", "Retired 4", "Lost 4",
		"Loans", "Loans issued 120", "Utilization rate 0.7234", "Loan days (90th percentile) 88", "Overdue recovery rate 0.8",
		"By month", "Month Issued Returned Utilization", "2026-02 40 33 0.7412",
		"People served", "Clients served 85", "New clients 60", "Returning clients 25", "Households 70",
		"By need", "Need Clients", "internet_access 40", "@SUM(A1) <5", "By age band", "65 and over 9",
		"Access to devices", "Requests received 140", "Denied by rule", "staff decision 8", "Waitlist at end <5",
		"Training", "Sessions held 24", "Attendance rate 0.85", "Hours delivered 48.5", "Modules completed 130",
		"Connectivity", "Data plan months 300", "Data plan cost (cents) 1234567", "Cost per client served (cents) 14524")

	methods := all[strings.Index(all, "Methods"):]
	for _, d := range reports.Definitions {
		if d.Measure != "" {
			mustSay(t, "the methods", methods, d.Measure)
		}
		// The definition's first words, as a line may wrap after them.
		mustSay(t, "the methods", methods, strings.Join(strings.Fields(d.Definition)[:4], " "))
	}
	mustSay(t, "the methods", methods, "Suppression", `from 1 to 4 is shown as "<5"`, "never suppressed")
}

// Suppressed figures print as their words in the tables and on the cover,
// and are absent from the charts with their word where a label would be.
func TestPDFSuppressed(t *testing.T) {
	r := suppressedReport()
	r.People.ClientsServed = small
	r.Use.UtilizationRate = hidden
	text := pages(t, pdfOf(t, r))
	mustSay(t, "the cover", text[0], "57 120 <5", "suppressed $ 12,345.67", "Device kind hotspot", "Funding sources All funding sources")
	mustSay(t, "the utilization chart", text[2], "65.0 %", "suppressed", "78.0 %")
	if strings.Contains(text[2], "74.1 %") {
		t.Error("the suppressed month's utilization is drawn")
	}
	all := strings.Join(text, " ")
	mustSay(t, "the tables", all, "New clients <5", "Returning clients suppressed", "under 18 <5", "18-24 suppressed",
		"Loan days median suppressed", "2026-02 40 33 suppressed", "Attendance rate suppressed")
}

// A report with no rows still has its cover, empty charts, tables and
// methods.
func TestPDFEmpty(t *testing.T) {
	b := pdfOf(t, emptyReport())
	text := pages(t, b)
	all := strings.Join(text, " ")
	mustSay(t, "the report", all, "1 July 2025 to 31 July 2025", "None: no funding source is linked",
		"0 0 0 Devices in service at the end", "0.0 % $ 0.00 Utilization rate Data plan cost",
		"No devices", "No months", "By kind No rows.", "Methods", fmt.Sprintf("page %d of %d", len(text), len(text)))
}

// Long names in several scripts wrap where they are printed, and a report
// of three years labels its months without overlap.
func TestPDFLongNamesAndUnicode(t *testing.T) {
	r := unicodeReport()
	b := pdfOf(t, r)
	if !bytes.Equal(b, pdfOf(t, unicodeReport())) {
		t.Error("the same report drawn twice differs")
	}
	text := pages(t, b)
	mustSay(t, "the cover", text[0], "Servicios Familiares del Norte — Ñuñoa", longName, "Zoë Brontë Trust")
	mustSay(t, "the tables", strings.Join(text, " "),
		"accès à internet pour la recherche 11 d'emploi et les démarches administratives en ligne") // the need wraps in its column

	// So many funding sources that the headline figures go on the next page.
	for i := range 40 {
		r.Filters.FundingSources = append(r.Filters.FundingSources, reports.FundingSource{ID: int64(10 + i), Name: fmt.Sprintf("Fonds n° %d", i+1)})
	}
	text = pages(t, pdfOf(t, r))
	mustSay(t, "the cover", text[0], "Fonds n° 1 ", "Zoë Brontë Trust")
	mustSay(t, "the cover's second page", text[1], "Fonds n° 40", "57 120 85 Devices in service at the end Loans issued Clients served", "page 2 of")

	text = pages(t, pdfOf(t, threeYears()))
	mustSay(t, "the charts", text[1], "2024-01", "tablet", "desktop", "28,720")
	mustSay(t, "the tables", strings.Join(text, " "), "2026-12 3295 3335 0.85")
}

// BenchmarkReportPDF draws the three-year report.
func BenchmarkReportPDF(b *testing.B) {
	r := threeYears()
	var size int
	for b.Loop() {
		pdf, err := r.PDF()
		if err != nil {
			b.Fatal(err)
		}
		size = len(pdf)
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkReportCSV writes the three-year report's CSV.
func BenchmarkReportCSV(b *testing.B) {
	r := threeYears()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := r.CSV(&buf); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes")
}
