package reports

// MinPeople is the fewest people a figure about people is shown for: a
// count of 1 to 4 is "<5", and a rate or median over fewer is suppressed.
const MinPeople = 5

// suppress hides what could single people out: every count of people from
// 1 to 4, and, in a breakdown whose total is shown, the next smallest cell
// when only one cell is hidden, so that it cannot be recovered by
// subtracting the others from the total. Rates and medians over fewer than
// MinPeople people were left out as they were computed.
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
	protect(p.ClientsServed, &p.NewClients, &p.ReturningClients)
	protect(p.ClientsServed, ages...)
}

// protect applies the second suppression to the cells of a breakdown
// whose total is shown: when exactly one cell is hidden, the smallest
// shown cell that is not zero is hidden too. (A zero hidden would protect
// nothing: the hidden cell would still be the total less the others.)
func protect(total Figure, cells ...*Figure) {
	if total.Suppressed() {
		return
	}
	hidden := 0
	var smallest *Figure
	for _, c := range cells {
		switch {
		case c.Suppressed():
			hidden++
		case c.Value > 0 && (smallest == nil || c.Value < smallest.Value):
			smallest = c
		}
	}
	if hidden == 1 && smallest != nil {
		smallest.Hidden = true
	}
}
