// Package reports computes the utilization report funders receive: how
// the pool was used, by how many people, with what access and training,
// at what cost, over a period, as aggregates only. Counts of people from 1
// to 4 are suppressed, and so is the next smallest cell of a breakdown
// whose total is shown, so that no person can be singled out. The report
// is rendered as JSON, CSV and PDF; see docs/reports.md for every measure.
package reports

import (
	"encoding/json"
	"strconv"

	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/calendar"
)

// Figure is one measure of a report: a number, or suppressed.
//
// A count of people from 1 to 4 is written "<5"; any other suppressed
// figure (a rate or median over fewer than 5 people, or a cell suppressed so
// that a suppressed one cannot be recovered from a total) is written
// "suppressed". JSON shows the number itself otherwise.
type Figure struct {
	Value float64
	// Integer figures are written without a decimal point.
	Integer bool
	// Small is set on a count of people from 1 to 4 ("<5").
	Small bool
	// Hidden is set on any other suppressed figure ("suppressed").
	Hidden bool
}

// The words a suppressed figure is written as.
const (
	SmallCount = "<5"
	Suppressed = "suppressed"
)

// Suppressed reports whether the figure is not shown.
func (f Figure) Suppressed() bool { return f.Small || f.Hidden }

// Text is the figure as the CSV and the PDF write it.
func (f Figure) Text() string {
	switch {
	case f.Small:
		return SmallCount
	case f.Hidden:
		return Suppressed
	case f.Integer:
		return strconv.FormatInt(int64(f.Value), 10)
	}
	return strconv.FormatFloat(f.Value, 'f', -1, 64)
}

// MarshalJSON writes the number, or the word of a suppressed figure.
func (f Figure) MarshalJSON() ([]byte, error) {
	if f.Suppressed() {
		return json.Marshal(f.Text())
	}
	return []byte(f.Text()), nil
}

// Count is an integer figure that is not about people: devices, loans,
// sessions, money. It is never suppressed.
func Count(n int64) Figure { return Figure{Value: float64(n), Integer: true} }

// Rate is a ratio or a median: shown with up to four decimals.
func Rate(v float64) Figure { return Figure{Value: round4(v)} }

// Report is the utilization report of a period.
type Report struct {
	// Agency is the agency's name, for the PDF's cover.
	Agency string `json:"-"`
	// Currency is what the PDF writes money in.
	Currency     currency.Unit `json:"-"`
	Period       Period        `json:"period"`
	Filters      Filters       `json:"filters"`
	Pool         Pool          `json:"pool"`
	Use          Use           `json:"use"`
	People       People        `json:"people"`
	Access       Access        `json:"access"`
	Training     Training      `json:"training"`
	Connectivity Connectivity  `json:"connectivity"`
}

// Period is the days the report covers, both included, in the agency's
// time zone.
type Period struct {
	From calendar.Date `json:"from"`
	To   calendar.Date `json:"to"`
}

// Filters are what the report was narrowed to.
type Filters struct {
	// FundingSources are the funding sources whose devices and data plans
	// are counted; null means all (no funding source filter), empty none
	// (a funder linked to none).
	FundingSources []FundingSource `json:"funding_sources"`
	Kind           string          `json:"kind,omitempty"`
	PostalPrefix   string          `json:"postal_prefix,omitempty"`
	// AgencyWide names the sections a funding source filter does not
	// narrow, as they cannot be told apart by who paid for a device:
	// requests and training.
	AgencyWide []string `json:"agency_wide,omitempty"`
}

// FundingSource names a funding source a report is narrowed to.
type FundingSource struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Pool is the devices: how the pool stood at the end of the period, and
// what came in and went out during it.
type Pool struct {
	// DevicesAtEnd are the devices in service at the end: neither retired
	// nor lost.
	DevicesAtEnd Figure       `json:"devices_at_end"`
	ByKind       []KindStatus `json:"by_kind"`
	Added        Figure       `json:"added"`
	Retired      Figure       `json:"retired"`
	Lost         Figure       `json:"lost"`
}

// KindStatus counts the devices of one kind in each status at the end of
// the period.
type KindStatus struct {
	Kind       string `json:"kind"`
	Available  Figure `json:"available"`
	OnLoan     Figure `json:"on_loan"`
	Inspection Figure `json:"inspection"`
	Repair     Figure `json:"repair"`
	Lost       Figure `json:"lost"`
	Retired    Figure `json:"retired"`
}

// Use is the loans.
type Use struct {
	LoansIssued         Figure       `json:"loans_issued"`
	LoansReturned       Figure       `json:"loans_returned"`
	Renewals            Figure       `json:"renewals"`
	LoansLost           Figure       `json:"loans_lost"`
	OverdueAtEnd        Figure       `json:"overdue_at_end"`
	UtilizationRate     Figure       `json:"utilization_rate"`
	LoanDaysMedian      Figure       `json:"loan_days_median"`
	LoanDaysP90         Figure       `json:"loan_days_p90"`
	OverdueRecoveryRate Figure       `json:"overdue_recovery_rate"`
	ByMonth             []MonthLoans `json:"by_month"`
}

// MonthLoans counts the loans issued and returned in one month of the
// period ("2026-03").
type MonthLoans struct {
	Month    string `json:"month"`
	Issued   Figure `json:"issued"`
	Returned Figure `json:"returned"`
	// Utilization is the month's utilization rate (the PDF charts it).
	Utilization Figure `json:"utilization_rate"`
}

// People is who was served.
type People struct {
	ClientsServed    Figure       `json:"clients_served"`
	NewClients       Figure       `json:"new_clients"`
	ReturningClients Figure       `json:"returning_clients"`
	Households       Figure       `json:"households"`
	ByNeed           []NeedCount  `json:"by_need"`
	ByAgeBand        []AgeBandRow `json:"by_age_band"`
}

// NeedCount is how many clients served had one need.
type NeedCount struct {
	Need    string `json:"need"`
	Clients Figure `json:"clients"`
}

// AgeBandRow is how many clients served were in one age band at the end
// of the period.
type AgeBandRow struct {
	Band    string `json:"band"`
	Clients Figure `json:"clients"`
}

// AgeBands are the bands of by_age_band, in order.
var AgeBands = []string{"under 18", "18-24", "25-44", "45-64", "65 and over", "unknown"}

// Access is the device requests: demand, decisions, waiting.
type Access struct {
	RequestsReceived   Figure        `json:"requests_received"`
	Approved           Figure        `json:"approved"`
	Denied             Figure        `json:"denied"`
	DeniedByRule       []RuleDenials `json:"denied_by_rule"`
	Waitlisted         Figure        `json:"waitlisted"`
	DaysToDeviceMedian Figure        `json:"days_to_device_median"`
	WaitlistAtEnd      Figure        `json:"waitlist_at_end"`
}

// RuleDenials is how many requests one eligibility rule denied.
type RuleDenials struct {
	Rule     string `json:"rule"`
	Requests Figure `json:"requests"`
}

// Training is the digital-literacy sessions held in the period.
type Training struct {
	SessionsHeld     Figure `json:"sessions_held"`
	Enrollments      Figure `json:"enrollments"`
	AttendanceRate   Figure `json:"attendance_rate"`
	HoursDelivered   Figure `json:"hours_delivered"`
	ModulesCompleted Figure `json:"modules_completed"`
}

// Connectivity is the data plans.
type Connectivity struct {
	DataPlanMonths           Figure `json:"data_plan_months"`
	DataPlanCostCents        Figure `json:"data_plan_cost_cents"`
	CostPerClientServedCents Figure `json:"cost_per_client_served_cents"`
}

func round4(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 4, 64), 64)
	return f
}
