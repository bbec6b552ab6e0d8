package reports

// MinPeople is the fewest people a figure about people is shown for: a
// count of 1 to 4 is "<5", and a rate or median over fewer is suppressed.
const MinPeople = 5

// suppress hides what could single people out:
//
//   - every count of people from 1 to 4 is "<5";
//   - a breakdown of a total that is itself hidden shows nothing: its
//     cells are "suppressed", and the rows that exist only when someone is
//     in them (needs, rules) are left out, as they would say what the few
//     people counted have;
//   - in a breakdown whose total is shown, cells are hidden ("suppressed")
//     until no hidden cell can be worked out from the total and the cells
//     shown (see protect);
//   - a report narrowed to a postal prefix that fewer than MinPeople
//     clients served hides everything it counts of their loans, requests,
//     training and data plans: there, each loan is one of a few people's.
//
// Rates and medians over fewer than MinPeople people were left out as they
// were computed.
func suppress(r *Report) {
	p := &r.People
	people := []*Figure{&p.ClientsServed, &p.NewClients, &p.ReturningClients, &p.Households,
		&r.Access.RequestsReceived, &r.Access.Approved, &r.Access.Denied, &r.Access.Waitlisted, &r.Access.WaitlistAtEnd,
		&r.Training.Enrollments, &r.Training.ModulesCompleted}
	for i := range p.ByNeed {
		people = append(people, &p.ByNeed[i].Clients)
	}
	for i := range p.ByAgeBand {
		people = append(people, &p.ByAgeBand[i].Clients)
	}
	for i := range r.Access.DeniedByRule {
		people = append(people, &r.Access.DeniedByRule[i].Requests)
	}
	for _, f := range people {
		if f.Value >= 1 && f.Value < MinPeople {
			f.Small = true
		}
	}
	ages := make([]*Figure, len(p.ByAgeBand))
	for i := range p.ByAgeBand {
		ages[i] = &p.ByAgeBand[i].Clients
	}
	if p.ClientsServed.Suppressed() {
		hide(&p.NewClients, &p.ReturningClients, &p.Households)
		hide(ages...)
		p.ByNeed = []NeedCount{}
	} else {
		protect(p.ClientsServed, &p.NewClients, &p.ReturningClients)
		protect(p.ClientsServed, ages...)
	}
	if r.Access.Denied.Suppressed() {
		r.Access.DeniedByRule = []RuleDenials{}
	}
	if r.Filters.PostalPrefix != "" && p.ClientsServed.Value < MinPeople {
		hideFewPeoplesUse(r)
	}
}

// hide suppresses every cell, zeros too: which cells are empty would say
// as much as the others.
func hide(cells ...*Figure) {
	for _, c := range cells {
		c.Small, c.Hidden = false, true
	}
}

// hideFewPeoplesUse suppresses what a report narrowed to a few clients
// counts of their loans, requests, training and data plans. The pool is
// not theirs (a postal prefix does not narrow it) and stays.
func hideFewPeoplesUse(r *Report) {
	u, a, t, k := &r.Use, &r.Access, &r.Training, &r.Connectivity
	hide(&u.LoansIssued, &u.LoansReturned, &u.Renewals, &u.LoansLost, &u.OverdueAtEnd, &u.UtilizationRate,
		&u.LoanDaysMedian, &u.LoanDaysP90, &u.OverdueRecoveryRate,
		&a.RequestsReceived, &a.Approved, &a.Denied, &a.Waitlisted, &a.DaysToDeviceMedian, &a.WaitlistAtEnd,
		&t.Enrollments, &t.AttendanceRate, &t.ModulesCompleted,
		&k.DataPlanMonths, &k.DataPlanCostCents, &k.CostPerClientServedCents)
	for i := range u.ByMonth {
		hide(&u.ByMonth[i].Issued, &u.ByMonth[i].Returned, &u.ByMonth[i].Utilization)
	}
	a.DeniedByRule = []RuleDenials{}
}

// protect applies the second suppression to the cells of a breakdown
// whose total is shown. What a reader knows of a hidden cell is its range:
// 1 to 4 for "<5", 5 or more for "suppressed" (it would read "<5"
// otherwise), and that the hidden cells add up to the total less the cells
// shown. While some "<5" cell would have a single value within those
// bounds, the smallest shown cell that is not zero is hidden too; if none
// is left, every cell is suppressed, "<5" ones included, so that nothing
// says which are small. (A zero hidden would protect nothing: a reader
// would still know the rest.)
func protect(total Figure, cells ...*Figure) {
	if total.Suppressed() {
		return
	}
	if !recoverable(total, cells) {
		return
	}
	for {
		var smallest *Figure
		for _, c := range cells {
			if !c.Suppressed() && c.Value > 0 && (smallest == nil || c.Value < smallest.Value) {
				smallest = c
			}
		}
		if smallest == nil {
			for _, c := range cells {
				if c.Value > 0 {
					c.Small, c.Hidden = false, true
				}
			}
			return
		}
		smallest.Hidden = true
		if !recoverable(total, cells) {
			return
		}
	}
}

// recoverable reports whether some "<5" cell of a breakdown can have only
// one value, given the total, the cells shown and the ranges the hidden
// ones are known to lie in.
func recoverable(total Figure, cells []*Figure) bool {
	hiddenSum := total.Value
	var small, large int
	for _, c := range cells {
		switch {
		case c.Small:
			small++
		case c.Hidden:
			large++
		default:
			hiddenSum -= c.Value
		}
	}
	if small == 0 {
		return false
	}
	// One "<5" cell x: the others hidden add up to hiddenSum - x, where
	// each other "<5" is 1..4 and each "suppressed" 5 or more. x is free
	// when at least two of its values 1..4 leave a sum the others can make.
	lo := float64((small - 1) + large*MinPeople)
	possible := 0
	for x := 1.0; x < MinPeople; x++ {
		rest := hiddenSum - x
		// A "suppressed" cell has no upper bound; "<5" ones have.
		if rest >= lo && (large > 0 || rest <= float64((small-1)*(MinPeople-1))) {
			possible++
		}
	}
	return possible < 2
}
