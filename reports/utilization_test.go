package reports_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/training"
)

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at is a wall-clock time in Chicago, where the agency is.
func at(year int, month time.Month, day, hour int) time.Time {
	return time.Date(year, month, day, hour, 0, 0, 0, chicago)
}

func q1(month time.Month, day, hour int) time.Time { return at(2026, month, day, hour) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// world builds a data set by hand through the services, each step at its
// own moment.
type world struct {
	t                *testing.T
	ctx              context.Context
	svc              *app.Services
	clock            *clock
	sw, co, admin    *accounts.Actor
	n                int
	clients, devices map[string]int64
	loans, requests  map[string]int64
	sessions, plans  map[string]int64
}

func newWorld(t *testing.T, db *storage.DB) *world {
	clk := &clock{t: at(2025, 11, 1, 8)}
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: clk.Now, Location: chicago, AgencyName: "Northside", DatabaseNow: storage.FollowClock(clk.Now)})
	svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	w := &world{t: t, ctx: context.Background(), svc: svc, clock: clk,
		clients: map[string]int64{}, devices: map[string]int64{}, loans: map[string]int64{}, requests: map[string]int64{},
		sessions: map[string]int64{}, plans: map[string]int64{}}
	w.sw, w.co, w.admin = w.actor(accounts.SocialWorker), w.actor(accounts.Coordinator), w.actor(accounts.Admin)
	return w
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) actor(role accounts.Role) *accounts.Actor {
	w.n++
	u, err := w.svc.Accounts.CreateUser(w.ctx, nil, accounts.NewUser{Email: fmt.Sprintf("u%d@agency.test", w.n), Name: string(role),
		Role: role, Password: "a long test password"})
	w.must(err)
	return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
}

func str(s string) *string { return &s }

// client records a client with a situation and refers them (a request for
// a device of kind "other", which stays on the waitlist: no such device is
// ever taken in). income is in dollars; born "" is not known.
func (w *world) client(name string, income int64, born, postal string, needs []string, household string) {
	w.t.Helper()
	w.n++
	size, ch := 2, clients.None
	in := clients.Input{CaseNumber: str("R-" + name), FirstName: str("Anya" + name), LastName: str("Quixote"), PreferredChannel: &ch,
		HouseholdSize: &size, PostalCode: str(postal), AnnualIncomeCents: optional.Of(income * 100),
		ProofVerifiedOn: optional.Of(calendar.Of(w.clock.Now().In(chicago))), Needs: optional.Of(clients.Codes(needs))}
	if born != "" {
		d, err := calendar.Parse(born)
		w.must(err)
		in.DateOfBirth = optional.Of(d)
	}
	if household != "" {
		in.HouseholdID = optional.Of(w.household(household))
	}
	c, err := w.svc.Clients.Create(w.ctx, w.sw, in)
	w.must(err)
	w.clients[name] = c.ID
	ref, err := w.svc.Eligibility.FileRequest(w.ctx, w.sw, eligibility.RequestInput{ClientID: c.ID, DeviceKind: "other", Reason: "referral"})
	w.must(err)
	w.requests["referral "+name] = ref.ID
}

// household is the household of the client named.
func (w *world) household(name string) int64 {
	c, err := w.svc.Clients.Get(w.ctx, w.sw, w.clients[name])
	w.must(err)
	return *c.HouseholdID
}

func (w *world) device(name, kind string, when time.Time) {
	w.t.Helper()
	w.clock.Set(when)
	k := inventory.Kind(kind)
	d, err := w.svc.Inventory.CreateDevice(w.ctx, w.co, inventory.DeviceInput{Kind: &k, Make: str("Acme"), Model: str(kind)})
	w.must(err)
	w.devices[name] = d.ID
}

// lend issues a loan; request "" is a walk-in.
func (w *world) lend(name, client, device, due, request string, when time.Time) {
	w.t.Helper()
	w.clock.Set(when)
	d, err := calendar.Parse(due)
	w.must(err)
	in := inventory.IssueInput{ClientID: w.clients[client], DeviceID: w.devices[device], DueOn: d}
	if request == "" {
		in.WalkInJustification = "came to the front desk"
	} else {
		id := w.requests[request]
		in.RequestID = &id
	}
	l, err := w.svc.Inventory.IssueLoan(w.ctx, w.co, in)
	w.must(err)
	w.loans[name] = l.ID
}

func (w *world) returned(loan string, when time.Time) {
	w.t.Helper()
	w.clock.Set(when)
	_, err := w.svc.Inventory.ReturnLoan(w.ctx, w.co, w.loans[loan], inventory.ReturnInput{Condition: "good"})
	w.must(err)
}

func (w *world) inspect(device string, outcome inventory.Outcome, when time.Time) {
	w.t.Helper()
	w.clock.Set(when)
	wiped := true
	_, err := w.svc.Inventory.InspectDevice(w.ctx, w.co, w.devices[device], inventory.InspectionInput{Wiped: &wiped, Outcome: outcome})
	w.must(err)
}

func (w *world) request(name, client, kind string, when time.Time) {
	w.t.Helper()
	w.clock.Set(when)
	r, err := w.svc.Eligibility.FileRequest(w.ctx, w.sw, eligibility.RequestInput{ClientID: w.clients[client], DeviceKind: kind, Reason: "needs one"})
	w.must(err)
	w.requests[name] = r.ID
}

// session schedules a training session of two hours starting at when.
func (w *world) session(name string, starts time.Time) {
	w.t.Helper()
	title, topic, capacity := "Getting online", "device_basics", 10
	ts, te := calendar.TimeOf(starts), calendar.TimeOf(starts.Add(2*time.Hour))
	sess, err := w.svc.Training.CreateSession(w.ctx, w.co, training.SessionInput{Title: &title, Topic: &topic, StartsAt: &ts, EndsAt: &te, Capacity: &capacity})
	w.must(err)
	w.sessions[name] = sess.ID
}

func (w *world) plan(line string, monthlyCents int64, starts, ends string) {
	w.t.Helper()
	s, err := calendar.Parse(starts)
	w.must(err)
	in := inventory.DataPlanInput{Carrier: str("Mint"), LineNumber: str(line), MonthlyCostCents: &monthlyCents, StartsOn: &s}
	if ends != "" {
		e, err := calendar.Parse(ends)
		w.must(err)
		in.EndsOn = optional.Of(e)
	}
	dp, err := w.svc.Inventory.CreateDataPlan(w.ctx, w.co, in)
	w.must(err)
	w.plans[line] = dp.ID
}

// firstQuarter builds the data set the report of 2026-01-01 to 2026-03-31
// is checked against (see TestUtilizationReport for what it adds up to).
func firstQuarter(t *testing.T, db *storage.DB) *world {
	w := newWorld(t, db)
	// Nine clients, known before the period. C2 and C3 share a household;
	// C9 earns too much for a device.
	for _, c := range []struct {
		name         string
		income       int64
		born, postal string
		needs        []string
		household    string
	}{
		{"C1", 12000, "1990-06-01", "60607", []string{"internet_access"}, ""},
		{"C2", 12000, "2005-01-01", "60607", []string{"internet_access"}, ""},
		{"C3", 12000, "1970-05-05", "60607", []string{"internet_access"}, "C2"},
		{"C4", 12000, "1950-01-01", "60607", []string{"internet_access"}, ""},
		{"C5", 12000, "2010-01-01", "60607", []string{"internet_access"}, ""},
		{"C6", 12000, "", "60614", []string{"job_search"}, ""},
		{"C7", 12000, "1995-03-31", "60614", nil, ""},
		{"C8", 12000, "", "60614", nil, ""},
		{"C9", 900000, "", "60614", nil, ""},
	} {
		w.client(c.name, c.income, c.born, c.postal, c.needs, c.household)
	}
	w.device("d1", "laptop", at(2025, 12, 1, 8))
	w.lend("L1", "C1", "d1", "2026-01-10", "", at(2025, 12, 10, 10))
	w.plan("+1 312 555 0001", 1500, "2025-12-01", "2026-02-15")

	w.device("d2", "laptop", q1(1, 5, 8))
	w.request("Ra", "C2", "laptop", q1(1, 5, 9)) // ready: d2 held for it
	w.lend("L2", "C2", "d2", "2026-02-06", "Ra", q1(1, 6, 10))
	w.device("d3", "tablet", q1(1, 10, 8))
	for i := 4; i <= 10; i++ {
		w.device(fmt.Sprintf("d%d", i), "laptop", q1(1, 10, 8))
	}
	w.request("Rb", "C3", "tablet", q1(1, 11, 9))
	w.lend("L3", "C3", "d3", "2026-02-12", "Rb", q1(1, 12, 10))
	w.request("Rc", "C9", "phone", q1(1, 14, 9)) // denied: income
	w.request("Rd", "C8", "laptop", q1(1, 14, 9))
	w.lend("L9", "C8", "d9", "2026-01-31", "Rd", q1(1, 15, 10))
	w.lend("L10", "C9", "d10", "2026-01-31", "", q1(1, 15, 10))
	w.returned("L1", q1(1, 20, 10))
	w.inspect("d1", inventory.Ready, q1(1, 21, 11))
	w.lend("L4", "C4", "d4", "2026-03-25", "", q1(1, 25, 10))

	w.device("dR", "phone", q1(2, 1, 8))
	w.lend("L6", "C6", "d6", "2026-02-15", "", q1(2, 1, 10))
	w.clock.Set(q1(2, 1, 11))
	due, _ := calendar.Parse("2026-03-06")
	_, err := w.svc.Inventory.RenewLoan(w.ctx, w.co, w.loans["L2"], inventory.RenewInput{DueOn: due})
	w.must(err)
	w.request("Rf", "C7", "phone", q1(2, 2, 9)) // ready: dR held for it
	w.returned("L9", q1(2, 10, 10))
	w.clock.Set(q1(2, 10, 11))
	_, err = w.svc.Eligibility.Deny(w.ctx, w.co, w.requests["Rf"], "the client found a phone elsewhere")
	w.must(err)
	w.returned("L2", q1(2, 20, 10))
	w.lend("L5", "C5", "d5", "2026-04-25", "", q1(2, 25, 10))

	w.lend("L7", "C7", "d7", "2026-03-20", "", q1(3, 1, 10))
	w.clock.Set(q1(3, 1, 10))
	_, err = w.svc.Inventory.MarkLost(w.ctx, w.co, w.loans["L4"], inventory.LostInput{Notes: "left on a bus"})
	w.must(err)
	w.inspect("dR", inventory.Retire, q1(3, 5, 11))
	w.plan("+1 312 555 0002", 2000, "2026-03-10", "")

	// Training: one session held with six places, one cancelled, one
	// after the period.
	w.clock.Set(q1(3, 1, 12))
	w.session("S1", q1(3, 10, 10))
	w.session("S2", q1(3, 20, 10))
	w.session("S3", q1(4, 20, 10))
	for _, c := range []string{"C1", "C2", "C3", "C4", "C5", "C6"} {
		_, err := w.svc.Training.Enroll(w.ctx, w.co, w.sessions["S1"], w.clients[c])
		w.must(err)
	}
	_, err = w.svc.Training.CancelSession(w.ctx, w.co, w.sessions["S2"])
	w.must(err)
	w.returned("L6", q1(3, 10, 10))
	w.clock.Set(q1(3, 10, 12))
	for c, status := range map[string]string{"C1": "present", "C2": "present", "C3": "present", "C4": "present", "C5": "absent", "C6": "late"} {
		_, err := w.svc.Training.RecordAttendance(w.ctx, w.co, w.sessions["S1"], training.AttendanceInput{
			ClientID: w.clients[c], Status: status, ModuleCompleted: c == "C1"})
		w.must(err)
	}
	w.request("Re", "C6", "hotspot", q1(3, 12, 9)) // waitlisted: no hotspot
	w.inspect("d6", inventory.NeedsRepair, q1(3, 12, 11))
	w.lend("L8", "C1", "d8", "2026-04-15", "", q1(3, 15, 10))
	w.returned("L7", q1(3, 20, 10))
	w.returned("L8", q1(3, 25, 10))

	// After the period: a hotspot (which serves the waitlisted request), a
	// plan, a loan.
	w.device("dH", "hotspot", q1(4, 5, 8))
	w.plan("+1 312 555 0003", 999, "2026-04-01", "")
	w.clock.Set(q1(4, 15, 12))
	return w
}

func q1Params(t *testing.T, query ...string) reports.Params {
	t.Helper()
	args := map[string]string{}
	for i := 0; i+1 < len(query); i += 2 {
		args[query[i]] = query[i+1]
	}
	p, err := reports.ParseParams("2026-01-01", "2026-03-31", args["funding_source_id"], args["kind"], args["postal_prefix"])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// figures flattens a report's JSON to "section.measure[.row.column]" =
// value text, for comparing many figures at once.
func figures(t *testing.T, r *reports.Report) map[string]string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(prefix+"."+k, x)
			}
		case []any:
			if len(v) > 0 {
				if _, rows := v[0].(map[string]any); !rows {
					out[strings.TrimPrefix(prefix, ".")] = fmt.Sprint(v)
					return
				}
			}
			for _, x := range v {
				row, _ := x.(map[string]any)
				key := ""
				for _, name := range []string{"kind", "month", "need", "band", "rule", "id"} {
					if s, ok := row[name]; ok {
						key = fmt.Sprint(s)
						delete(row, name)
					}
				}
				walk(prefix+"."+key, row)
			}
		default:
			out[strings.TrimPrefix(prefix, ".")] = fmt.Sprint(v)
		}
	}
	walk("", m)
	return out
}

func expectFigures(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// span is the length of [from, to) in days.
func span(from, to time.Time) float64 { return to.Sub(from).Hours() / 24 }

// TestUtilizationReport checks every figure of the first quarter's report
// against the data set built by hand, as counted and as shown.
func TestUtilizationReport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db)
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, q1Params(t))
		if err != nil {
			t.Fatal(err)
		}
		got := figures(t, raw)

		// Utilization worked out from the intervals by hand: every device
		// in service from its creation (or the period's start) to the end,
		// (d3 to d10 from the same moment) but d4 until it was lost and dR until it was retired; on loan,
		// each loan from its issue (or the start) to its return, loss or
		// the end.
		start, end := q1(1, 1, 0), q1(4, 1, 0)
		inService := span(start, end) + span(q1(1, 5, 8), end) + 8*span(q1(1, 10, 8), end) - span(q1(3, 1, 10), end) +
			span(q1(2, 1, 8), q1(3, 5, 11))
		onLoan := span(start, q1(1, 20, 10)) + span(q1(1, 6, 10), q1(2, 20, 10)) + span(q1(1, 12, 10), end) +
			span(q1(1, 25, 10), q1(3, 1, 10)) + span(q1(2, 25, 10), end) + span(q1(2, 1, 10), q1(3, 10, 10)) +
			span(q1(3, 1, 10), q1(3, 20, 10)) + span(q1(3, 15, 10), q1(3, 25, 10)) + span(q1(1, 15, 10), q1(2, 10, 10)) +
			span(q1(1, 15, 10), end)
		utilization := math.Round(onLoan/inService*10000) / 10000

		expectFigures(t, "counted", got, map[string]string{
			"period.from": "2026-01-01", "period.to": "2026-03-31",
			"pool.devices_at_end": "9", "pool.added": "10", "pool.retired": "1", "pool.lost": "1",
			"pool.by_kind.laptop.available": "1", "pool.by_kind.laptop.on_loan": "2", "pool.by_kind.laptop.inspection": "4",
			"pool.by_kind.laptop.repair": "1", "pool.by_kind.laptop.lost": "1", "pool.by_kind.laptop.retired": "0",
			"pool.by_kind.tablet.on_loan": "1", "pool.by_kind.tablet.available": "0", "pool.by_kind.phone.retired": "1",
			"pool.by_kind.phone.available": "0",
			"use.loans_issued":             "9", "use.loans_returned": "6", "use.renewals": "1", "use.loans_lost": "1", "use.overdue_at_end": "2",
			"use.utilization_rate": fmt.Sprint(utilization), "use.loan_days_median": "26", "use.loan_days_p90": "45",
			"use.overdue_recovery_rate":   "0.6",
			"use.by_month.2026-01.issued": "5", "use.by_month.2026-01.returned": "1",
			"use.by_month.2026-02.issued": "2", "use.by_month.2026-02.returned": "2",
			"use.by_month.2026-03.issued": "2", "use.by_month.2026-03.returned": "3",
			"people.clients_served": "9", "people.new_clients": "8", "people.returning_clients": "1", "people.households": "8",
			"people.by_need.internet_access.clients": "5", "people.by_need.job_search.clients": "1",
			"people.by_age_band.under 18.clients": "1", "people.by_age_band.18-24.clients": "1", "people.by_age_band.25-44.clients": "2",
			"people.by_age_band.45-64.clients": "1", "people.by_age_band.65 and over.clients": "1", "people.by_age_band.unknown.clients": "3",
			"access.requests_received": "6", "access.approved": "5", "access.denied": "2", "access.waitlisted": "1",
			"access.waitlist_at_end": "9", "access.days_to_device_median": "suppressed", // three loans: fewer than five people
			"access.denied_by_rule.income_or_program.requests": "1", "access.denied_by_rule.staff decision.requests": "1",
			"training.sessions_held": "1", "training.enrollments": "6", "training.attendance_rate": "0.8333",
			"training.hours_delivered": "2", "training.modules_completed": "1",
			"connectivity.data_plan_months": "3", "connectivity.data_plan_cost_cents": "5000",
			"connectivity.cost_per_client_served_cents": "556",
		})
		if _, ok := got["pool.by_kind.hotspot.available"]; ok {
			t.Errorf("a hotspot taken in after the period is counted: %v", got)
		}

		// As shown: people from 1 to 4 are "<5"; the new clients are
		// hidden too, as they would be the total less the returning one;
		// rates over fewer than five people are suppressed.
		shown, err := w.svc.Reports.Utilization(w.ctx, w.co, q1Params(t))
		if err != nil {
			t.Fatal(err)
		}
		expectFigures(t, "shown", figures(t, shown), map[string]string{
			"people.clients_served": "9", "people.new_clients": "suppressed", "people.returning_clients": "<5", "people.households": "8",
			"people.by_need.internet_access.clients": "5", "people.by_need.job_search.clients": "<5",
			"people.by_age_band.25-44.clients": "<5", "people.by_age_band.unknown.clients": "<5",
			"access.requests_received": "6", "access.approved": "5", "access.denied": "<5", "access.waitlisted": "<5",
			"access.waitlist_at_end": "9", "access.days_to_device_median": "suppressed",
			// Fewer than five denied: which rules denied them is not said.
			"access.denied_by_rule.income_or_program.requests": "",
			"training.enrollments":                             "6", "training.attendance_rate": "0.8333", "training.modules_completed": "<5",
			// Devices, loans and money are never suppressed.
			"use.loans_lost": "1", "pool.retired": "1", "use.renewals": "1", "use.loan_days_median": "26",
		})
	})
}

// A funder's report counts the devices and data plans of the funding
// sources linked to them and no others, with requests and training the
// agency's; asking for another source is refused as an unknown one.
func TestUtilizationReportOfAFunder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db)
		source := func(name string) int64 {
			f, err := w.svc.Funding.Create(w.ctx, w.admin, funding.Input{Name: str(name)})
			w.must(err)
			return f.ID
		}
		city, state := source("City grant"), source("State fund")
		for _, d := range []string{"d3", "d5"} {
			_, err := w.svc.Inventory.UpdateDevice(w.ctx, w.co, w.devices[d], inventory.DeviceInput{FundingSourceID: optional.Of(city)})
			w.must(err)
		}
		_, err := w.svc.Inventory.UpdateDevice(w.ctx, w.co, w.devices["d1"], inventory.DeviceInput{FundingSourceID: optional.Of(state)})
		w.must(err)
		_, err = w.svc.Inventory.UpdateDataPlan(w.ctx, w.co, w.plans["+1 312 555 0002"], inventory.DataPlanInput{FundingSourceID: optional.Of(city)})
		w.must(err)
		funder := w.actor(accounts.Funder)
		_, err = w.svc.Accounts.UpdateUser(w.ctx, w.admin, funder.ID, accounts.UserPatch{FundingSourceIDs: &[]int64{city}})
		w.must(err)

		raw, err := w.svc.Reports.Unsuppressed(w.ctx, funder, q1Params(t))
		w.must(err)
		want := map[string]string{
			"filters.funding_sources.1.name": "City grant",
			"pool.devices_at_end":            "2", "pool.added": "2", "pool.by_kind.tablet.on_loan": "1", "pool.by_kind.laptop.on_loan": "1",
			"use.loans_issued": "2", "use.loans_returned": "0", "use.overdue_at_end": "1",
			"people.clients_served": "2", "people.new_clients": "2",
			// Requests and training are the agency's.
			"access.requests_received": "6", "training.sessions_held": "1",
			"connectivity.data_plan_months": "1", "connectivity.data_plan_cost_cents": "2000",
		}
		got := figures(t, raw)
		want["filters.funding_sources."+fmt.Sprint(city)+".name"] = "City grant"
		delete(want, "filters.funding_sources.1.name")
		expectFigures(t, "the funder's", got, want)
		if _, ok := got["pool.by_kind.phone.retired"]; ok {
			t.Errorf("the funder's report counts devices of no source of theirs: %v", got)
		}
		shown, err := w.svc.Reports.Utilization(w.ctx, funder, q1Params(t))
		w.must(err)
		expectFigures(t, "the funder's, shown", figures(t, shown), map[string]string{
			"people.clients_served": "<5", "filters.agency_wide": "[access training]", "connectivity.cost_per_client_served_cents": "suppressed"})
		// A coordinator asking for the city's source sees the same.
		coordinator, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, q1Params(t, "funding_source_id", fmt.Sprint(city)))
		w.must(err)
		expectFigures(t, "the city's, for a coordinator", figures(t, coordinator), want)
		// Another source, or one that does not exist, is not the funder's.
		for _, id := range []int64{state, 99999} {
			_, err := w.svc.Reports.Utilization(w.ctx, funder, q1Params(t, "funding_source_id", fmt.Sprint(id)))
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("a funder asking for source %d: %v", id, err)
			}
		}
		// A social worker reads no report.
		if _, err := w.svc.Reports.Utilization(w.ctx, w.sw, q1Params(t)); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("a social worker's report: %v", err)
		}
	})
}

// The record export lists each device and data plan in service in the
// period with each of its loans then and the client's case number, never a
// name; cells that a spreadsheet would run are made inert.
func TestRecordsExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db)
		hostile, err := w.svc.Funding.Create(w.ctx, w.admin, funding.Input{Name: str("+SUM(1+1)")})
		w.must(err)
		w.clock.Set(q1(2, 2, 8))
		k := inventory.Kind("tablet")
		_, err = w.svc.Inventory.CreateDevice(w.ctx, w.co, inventory.DeviceInput{Kind: &k, Make: str(`=HYPERLINK("http://x.test","y")`),
			Model: str("@SUM(A1)"), FundingSourceID: optional.Of(hostile.ID)})
		w.must(err)
		w.clock.Set(q1(4, 15, 12))
		var b strings.Builder
		w.must(w.svc.Reports.Records(w.ctx, w.co, q1Params(t), &b))
		rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
		w.must(err)
		if strings.Join(rows[0], ",") != strings.Join(reports.RecordsHeader, ",") {
			t.Fatalf("header %v", rows[0])
		}
		byTag := map[string][]string{}
		var devices, plans int
		for _, r := range rows[1:] {
			switch r[0] {
			case "device":
				devices++
				byTag[r[6]] = r
			case "data_plan":
				plans++
				byTag[r[8]] = r
			}
		}
		// Eleven devices with one row each (ten lent once in the period, the
		// retired phone never), the hostile tablet; the two plans of the
		// period, neither lent.
		if devices != 12 || plans != 2 {
			t.Errorf("%d device rows and %d plan rows, want 12 and 2:\n%s", devices, plans, b.String())
		}
		tag := func(device string) string {
			d, err := w.svc.Inventory.Device(w.ctx, w.devices[device])
			w.must(err)
			return d.AssetTag
		}
		for device, want := range map[string]string{
			"d4": "device,laptop,Acme,laptop,,,TAG,,,,,,0,2026-01-10,2026-03-01,2026-01-25,,2026-03-01,R-C4",
			"d1": "device,laptop,Acme,laptop,,,TAG,,,,,,0,2025-12-01,,2025-12-10,2026-01-20,,R-C1",
			"dR": "device,phone,Acme,phone,,,TAG,,,,,,0,2026-02-01,2026-03-05,,,,",
			"d5": "device,laptop,Acme,laptop,,,TAG,,,,,,0,2026-01-10,,2026-02-25,,,R-C5",
		} {
			want = strings.Replace(want, "TAG", tag(device), 1)
			if got := strings.Join(byTag[tag(device)], ","); got != want {
				t.Errorf("%s: %s\nwant    %s", device, got, want)
			}
		}
		plan, err := w.svc.Inventory.DataPlan(w.ctx, w.plans["+1 312 555 0002"])
		w.must(err)
		// A line number begins with "+": like any such cell it is made inert.
		if got := strings.Join(byTag["'"+plan.LineNumber], ","); got != "data_plan,,,,,,,Mint,'"+plan.LineNumber+",,,,2000,2026-03-10,,,,," {
			t.Errorf("plan: %s\n%s", got, b.String())
		}
		if strings.Contains(b.String(), "Quixote") || strings.Contains(b.String(), "Anya") {
			t.Errorf("the export names a client:\n%s", b.String())
		}
		for _, cell := range []string{`'=HYPERLINK("http://x.test","y")`, "'@SUM(A1)", "'+SUM(1+1)"} {
			if !strings.Contains(strings.Join(byTagAll(rows), "\n"), cell) {
				t.Errorf("no inert %s in:\n%s", cell, b.String())
			}
		}
		// C4's social worker withdraws the referral: the coordinator no
		// longer reads C4's record, nor their case number in the export; an
		// admin still does.
		_, err = w.svc.Eligibility.Cancel(w.ctx, w.sw, w.requests["referral C4"])
		w.must(err)
		for who, want := range map[*accounts.Actor]string{w.co: "", w.admin: "R-C4"} {
			var out strings.Builder
			w.must(w.svc.Reports.Records(w.ctx, who, q1Params(t), &out))
			rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
			w.must(err)
			for _, r := range rows {
				if r[0] == "device" && r[6] == tag("d4") && r[18] != want {
					t.Errorf("%s's export: d4's loan names case %q, want %q", who.Role, r[18], want)
				}
			}
		}
		if err := w.svc.Reports.Records(w.ctx, w.actor(accounts.Funder), q1Params(t), &b); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("a funder's export: %v", err)
		}
	})
}

func byTagAll(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// No name, case number or address of a client appears in any format of
// the report.
func TestUtilizationReportNamesNoClient(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db)
		r, err := w.svc.Reports.Utilization(w.ctx, w.co, q1Params(t))
		w.must(err)
		js, err := json.Marshal(r)
		w.must(err)
		var csvText strings.Builder
		w.must(r.CSV(&csvText))
		pdf, err := r.PDF()
		w.must(err)
		for format, text := range map[string]string{"JSON": string(js), "CSV": csvText.String(), "PDF": doctest.Text(t, pdf)} {
			for _, secret := range []string{"Anya", "Quixote", "R-C", "60607", "60614", "1990-06-01"} {
				if strings.Contains(text, secret) {
					t.Errorf("the %s report holds %q:\n%s", format, secret, text)
				}
			}
			if !strings.Contains(text, "2026-01-01") && format != "PDF" {
				t.Errorf("the %s report is empty: %s", format, text)
			}
		}
	})
}

// What a report narrowed to a few people would say of them is not said: a
// postal prefix where fewer than five clients were served hides their
// loans, requests, training and plans, and the breakdowns of a hidden
// total show nothing. A funder may not compare reports a day apart or
// narrow one to a street.
func TestUtilizationReportOfFewPeople(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db)
		few, err := w.svc.Reports.Utilization(w.ctx, w.co, q1Params(t, "postal_prefix", "60614"))
		w.must(err)
		got := figures(t, few)
		expectFigures(t, "four clients' report", got, map[string]string{
			"people.clients_served": "<5", "people.new_clients": "suppressed", "people.households": "suppressed",
			"people.by_age_band.unknown.clients": "suppressed", "people.by_age_band.under 18.clients": "suppressed",
			"use.loans_issued": "suppressed", "use.renewals": "suppressed", "use.by_month.2026-01.issued": "suppressed",
			"use.utilization_rate": "suppressed", "access.requests_received": "suppressed",
			"training.enrollments": "suppressed", "connectivity.data_plan_months": "suppressed",
			// The pool is not theirs: a postal prefix does not narrow it.
			"pool.devices_at_end": "9",
		})
		for k := range got {
			if strings.HasPrefix(k, "people.by_need.") || strings.HasPrefix(k, "access.denied_by_rule.") {
				t.Errorf("a breakdown of fewer than five shows a row: %s", k)
			}
		}
		five, err := w.svc.Reports.Utilization(w.ctx, w.co, q1Params(t, "postal_prefix", "60607"))
		w.must(err)
		expectFigures(t, "five clients' report", figures(t, five), map[string]string{"people.clients_served": "5", "use.loans_issued": "5"})

		funder := w.actor(accounts.Funder)
		for _, tc := range []struct {
			from, to, prefix string
			fields           []string
		}{
			{"2026-01-02", "2026-03-31", "", []string{"from"}},
			{"2026-01-01", "2026-03-30", "606", []string{"to"}},
			{"2026-01-01", "2026-03-31", "6060", []string{"postal_prefix"}},
		} {
			p, err := reports.ParseParams(tc.from, tc.to, "", "", tc.prefix)
			w.must(err)
			_, err = w.svc.Reports.Utilization(w.ctx, funder, p)
			fields := fieldsOf(err)
			if !apperr.Is(err, apperr.Invalid) || len(fields) != len(tc.fields) || fields[tc.fields[0]] == "" {
				t.Errorf("a funder's report %s to %s, prefix %q: %v", tc.from, tc.to, tc.prefix, err)
			}
		}
		if _, err := reports.ParseParams("2026-01-01", "2026-01-31", "", "", "   "); fieldsOf(err)["postal_prefix"] == "" {
			t.Errorf("a postal prefix of spaces: %v", err)
		}
	})
}

// fieldsOf is the fields an Invalid error names.
func fieldsOf(err error) map[string]string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Fields
	}
	return nil
}

// A median or rate over the loans of fewer than five people is suppressed,
// however many loans they had.
func TestRatesCountPeopleNotLoans(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		w.client("Solo", 12000, "1980-01-01", "60607", nil, "")
		for i := range 6 {
			device := fmt.Sprintf("d%d", i)
			w.device(device, "laptop", q1(1, 2+i, 8))
			w.lend(device, "Solo", device, fmt.Sprintf("2026-01-%02d", 3+i), "", q1(1, 2+i, 10))
			// Returned late: overdue first, then recovered.
			w.returned(device, q1(1, 10+i, 10))
		}
		w.clock.Set(q1(4, 15, 12))
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, q1Params(t))
		w.must(err)
		expectFigures(t, "one person's six loans", figures(t, raw), map[string]string{
			"use.loans_returned": "6", "use.loan_days_median": "suppressed", "use.loan_days_p90": "suppressed",
			"use.overdue_recovery_rate": "suppressed",
		})
	})
}

// A period that has not ended is counted up to now: nothing is said of
// the days to come.
func TestUtilizationReportOfAPeriodNotEnded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db) // now: April 15
		p, err := reports.ParseParams("2026-04-01", "2026-05-31", "", "", "")
		w.must(err)
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, p)
		w.must(err)
		got := figures(t, raw)
		// L5, due on April 25, is not overdue yet; L3 and L10 are.
		expectFigures(t, "April and May, on April 15", got, map[string]string{
			"use.overdue_at_end": "2", "use.by_month.2026-05.utilization_rate": "0", "use.by_month.2026-05.issued": "0",
			"pool.by_kind.hotspot.available": "1", "pool.by_kind.hotspot.on_loan": "0",
		})
		if april := got["use.by_month.2026-04.utilization_rate"]; april == "0" || april == "" {
			t.Errorf("April's utilization up to now: %q", april)
		}
	})
}

// The pool at the end of a past period is as it stood then, not now.
func TestUtilizationReportPoolOfThePast(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := firstQuarter(t, db) // now: April 15
		p, err := reports.ParseParams("2026-01-01", "2026-01-31", "", "", "")
		w.must(err)
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, p)
		w.must(err)
		got := figures(t, raw)
		expectFigures(t, "January", got, map[string]string{
			"pool.devices_at_end": "10", "pool.by_kind.laptop.available": "5", "pool.by_kind.laptop.on_loan": "4",
			"pool.by_kind.laptop.inspection": "0", "pool.by_kind.laptop.repair": "0", "pool.by_kind.laptop.lost": "0",
			"pool.by_kind.tablet.on_loan": "1",
		})
		if _, ok := got["pool.by_kind.phone.retired"]; ok {
			t.Errorf("a phone taken in after January is in its pool: %v", got)
		}
	})
}

// Loan days are read to the tenth of a day, halves rounded up, and the
// median and 90th percentile are the values at ranks ceil(n/2) and
// ceil(0.9n) of the loans in order.
func TestLoanDaysPercentilesInTenths(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		// Seven people, one loan each, returned after these hours: 1.25,
		// 1.25, 1.75, 2.25, 2.54, 3.125 and 4.125 days.
		for i, hours := range []int{30, 30, 42, 54, 61, 75, 99} {
			client, device := fmt.Sprintf("Person %d", i), fmt.Sprintf("d%d", i)
			w.client(client, 12000, "1980-01-01", "60607", nil, "")
			w.device(device, "tablet", q1(1, 2, 8))
			issued := q1(1, 5, 8)
			w.lend(device, client, device, "2026-02-05", "", issued)
			w.returned(device, issued.Add(time.Duration(hours)*time.Hour))
		}
		w.clock.Set(q1(4, 15, 12))
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, q1Params(t))
		w.must(err)
		expectFigures(t, "seven loans", figures(t, raw), map[string]string{
			"use.loans_returned": "7", "use.loan_days_median": "2.3", "use.loan_days_p90": "4.1",
		})
	})
}

// Five people whose loans all lasted as long: one tenth of a day, whose
// lowest and highest person are two of them; they are still five people,
// and the median is shown.
func TestLoanDaysPercentilesOfOneLength(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		for i := range 5 {
			client, device := fmt.Sprintf("Person %d", i), fmt.Sprintf("d%d", i)
			w.client(client, 12000, "1980-01-01", "60607", nil, "")
			w.device(device, "tablet", q1(1, 2, 8))
			w.lend(device, client, device, "2026-02-05", "", q1(1, 5, 8))
			w.returned(device, q1(1, 7, 8))
		}
		w.clock.Set(q1(4, 15, 12))
		raw, err := w.svc.Reports.Unsuppressed(w.ctx, w.co, q1Params(t))
		w.must(err)
		expectFigures(t, "five loans of two days", figures(t, raw), map[string]string{
			"use.loans_returned": "5", "use.loan_days_median": "2", "use.loan_days_p90": "2",
		})
	})
}
