package reports

// Definition says what one measure of the report counts. A definition with
// no Measure is about its whole section.
type Definition struct {
	Section, Measure, Definition string
}

// Definitions define every measure of the report, section by section in
// the report's order. The PDF's methods page prints them, and
// docs/reports.md points here: change a measure's computation, change its
// definition.
var Definitions = []Definition{
	{"period", "from, to", "The first and the last day of the period, both included, as days in the agency's time zone. A period that has not ended is counted up to the moment the report is made."},

	{"pool", "devices_at_end", "Devices in service at the end of the period: those in any status but retired or lost."},
	{"pool", "by_kind", "For each kind of device, how many devices were in each status (available, on loan, inspection, repair, lost, retired) at the end of the period."},
	{"pool", "added", "Devices taken into the pool during the period."},
	{"pool", "retired", "Devices that became retired during the period."},
	{"pool", "lost", "Devices that became lost during the period."},

	{"use", "loans_issued", "Loans issued during the period."},
	{"use", "loans_returned", "Loans returned during the period."},
	{"use", "renewals", "Renewals of loans made during the period."},
	{"use", "loans_lost", "Loans whose device was reported lost during the period."},
	{"use", "overdue_at_end", "Loans open at the end of the period whose due date had passed."},
	{"use", "utilization_rate", "Device-days on loan divided by device-days in service (devices neither retired nor lost) during the period, from 0 to 1."},
	{"use", "loan_days_median", "The median number of days from issue to return of the loans returned during the period (nearest rank); suppressed when those loans are of fewer than 5 clients."},
	{"use", "loan_days_p90", "The 90th percentile of the same days (nearest rank); suppressed when those loans are of fewer than 5 clients."},
	{"use", "overdue_recovery_rate", "Of the loans overdue at some time during the period, the share returned by its end, from 0 to 1."},
	{"use", "by_month", "Loans issued and returned in each calendar month of the period, and the month's utilization rate."},

	{"people", "clients_served", "Clients with a loan open at any time during the period."},
	{"people", "new_clients", "Of the clients served, those whose first loan was issued during the period."},
	{"people", "returning_clients", "Of the clients served, those who had a loan before the period."},
	{"people", "households", "The households the clients served belong to; a client without a household counts as a household of one."},
	{"people", "by_need", "Clients served with each recorded need. A client may have several needs, so the rows do not add up to the clients served."},
	{"people", "by_age_band", "Clients served by the age they reach in the year the period ends (only the year of birth is kept in plain text): under 18, 18-24, 25-44, 45-64, 65 and over, or unknown (no birth date)."},

	{"access", "", "Agency-wide: requests cannot be told apart by who paid for a device, so a funding source filter does not narrow this section."},
	{"access", "requests_received", "Device requests filed during the period."},
	{"access", "approved", "Requests approved during the period."},
	{"access", "denied", "Requests denied during the period."},
	{"access", "denied_by_rule", "Denied requests by the eligibility rule that failed; a request may fail several rules, and a denial by staff is counted as \"staff decision\"."},
	{"access", "waitlisted", "Requests put on the waitlist during the period."},
	{"access", "days_to_device_median", "The median number of days from filing a request to the loan that fulfilled it, for loans issued during the period."},
	{"access", "waitlist_at_end", "Requests waiting on the waitlist at the end of the period."},

	{"training", "", "Agency-wide: a funding source filter does not narrow this section."},
	{"training", "sessions_held", "Digital-literacy training sessions held during the period."},
	{"training", "enrollments", "Clients holding a place in those sessions."},
	{"training", "attendance_rate", "Enrollments marked present or late, divided by enrollments, from 0 to 1."},
	{"training", "hours_delivered", "The sum of the lengths of the sessions held, in hours."},
	{"training", "modules_completed", "Training modules completed by clients during the period."},

	{"connectivity", "data_plan_months", "Months of data plans active during the period: a plan counts for a month when it was active on any day of it."},
	{"connectivity", "data_plan_cost_cents", "What those months of data plans cost, in cents."},
	{"connectivity", "cost_per_client_served_cents", "The data plans' cost divided by the clients served, in cents."},
}

// SuppressionRule is how the report keeps people from being singled out,
// as the methods page states it.
const SuppressionRule = "Every count of people (clients, households, requests, enrollments, modules completed) from 1 to 4 is shown as \"<5\". " +
	"Where a breakdown has its total shown (new and returning clients of the clients served; clients served by age band), " +
	"more cells are shown as \"suppressed\", smallest first, until no hidden count can be worked out from the total and the cells shown; " +
	"when no cell is left to hide, all of them are suppressed. " +
	"The breakdowns of a hidden total show nothing. " +
	"Rates and medians computed over fewer than 5 people are shown as \"suppressed\". " +
	"A report narrowed to a postal prefix where fewer than 5 clients were served hides its counts of their loans, requests, training and data plans. " +
	"Otherwise counts of devices, loans, sessions and money are never suppressed."
