package reports

// The sections of a report as the CSV and the PDF's tables list them: one
// list, in the order of the JSON, so that the two formats cannot drift
// apart.

// section is one part of a report ("pool") and its measures in order.
type section struct {
	Name     string
	Measures []measure
}

// measure is one scalar figure, or a breakdown when Table is set.
type measure struct {
	Name  string
	Value Figure
	Table *breakdown
}

// breakdown is a measure with one row per kind, month, need, band or rule.
// A row has one figure per column; a breakdown of one column ("clients")
// is written in the CSV without the column's name.
type breakdown struct {
	Key     string   // what a row is: "kind", "month", "need"
	Columns []string // the figures of a row: "available", "issued", "clients"
	Rows    []breakdownRow
}

type breakdownRow struct {
	Key     string
	Figures []Figure
}

// Statuses are the device statuses of pool.by_kind, in order.
var Statuses = []string{"available", "on_loan", "inspection", "repair", "lost", "retired"}

func (k KindStatus) figures() []Figure {
	return []Figure{k.Available, k.OnLoan, k.Inspection, k.Repair, k.Lost, k.Retired}
}

func scalar(name string, f Figure) measure { return measure{Name: name, Value: f} }

// sections lists the figures of r, section by section.
func (r *Report) sections() []section {
	kinds := &breakdown{Key: "kind", Columns: Statuses}
	for _, k := range r.Pool.ByKind {
		kinds.Rows = append(kinds.Rows, breakdownRow{k.Kind, k.figures()})
	}
	months := &breakdown{Key: "month", Columns: []string{"issued", "returned", "utilization"}}
	for _, m := range r.Use.ByMonth {
		months.Rows = append(months.Rows, breakdownRow{m.Month, []Figure{m.Issued, m.Returned, m.Utilization}})
	}
	needs := &breakdown{Key: "need", Columns: []string{"clients"}}
	for _, n := range r.People.ByNeed {
		needs.Rows = append(needs.Rows, breakdownRow{n.Need, []Figure{n.Clients}})
	}
	bands := &breakdown{Key: "band", Columns: []string{"clients"}}
	for _, b := range r.People.ByAgeBand {
		bands.Rows = append(bands.Rows, breakdownRow{b.Band, []Figure{b.Clients}})
	}
	rules := &breakdown{Key: "rule", Columns: []string{"requests"}}
	for _, d := range r.Access.DeniedByRule {
		rules.Rows = append(rules.Rows, breakdownRow{d.Rule, []Figure{d.Requests}})
	}
	p, u, pe, a, t, c := r.Pool, r.Use, r.People, r.Access, r.Training, r.Connectivity
	return []section{
		{"pool", []measure{
			scalar("devices_at_end", p.DevicesAtEnd),
			{Name: "by_kind", Table: kinds},
			scalar("added", p.Added),
			scalar("retired", p.Retired),
			scalar("lost", p.Lost),
		}},
		{"use", []measure{
			scalar("loans_issued", u.LoansIssued),
			scalar("loans_returned", u.LoansReturned),
			scalar("renewals", u.Renewals),
			scalar("loans_lost", u.LoansLost),
			scalar("overdue_at_end", u.OverdueAtEnd),
			scalar("utilization_rate", u.UtilizationRate),
			scalar("loan_days_median", u.LoanDaysMedian),
			scalar("loan_days_p90", u.LoanDaysP90),
			scalar("overdue_recovery_rate", u.OverdueRecoveryRate),
			{Name: "by_month", Table: months},
		}},
		{"people", []measure{
			scalar("clients_served", pe.ClientsServed),
			scalar("new_clients", pe.NewClients),
			scalar("returning_clients", pe.ReturningClients),
			scalar("households", pe.Households),
			{Name: "by_need", Table: needs},
			{Name: "by_age_band", Table: bands},
		}},
		{"access", []measure{
			scalar("requests_received", a.RequestsReceived),
			scalar("approved", a.Approved),
			scalar("denied", a.Denied),
			{Name: "denied_by_rule", Table: rules},
			scalar("waitlisted", a.Waitlisted),
			scalar("days_to_device_median", a.DaysToDeviceMedian),
			scalar("waitlist_at_end", a.WaitlistAtEnd),
		}},
		{"training", []measure{
			scalar("sessions_held", t.SessionsHeld),
			scalar("enrollments", t.Enrollments),
			scalar("attendance_rate", t.AttendanceRate),
			scalar("hours_delivered", t.HoursDelivered),
			scalar("modules_completed", t.ModulesCompleted),
		}},
		{"connectivity", []measure{
			scalar("data_plan_months", c.DataPlanMonths),
			scalar("data_plan_cost_cents", c.DataPlanCostCents),
			scalar("cost_per_client_served_cents", c.CostPerClientServedCents),
		}},
	}
}
