package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// person records a client of worker with the given yearly income (nil: not
// disclosed), proof verified today, and needs.
func (f *fixture) person(worker *accounts.Actor, income *int64, needs ...string) int64 {
	f.t.Helper()
	f.n++
	size, ch := 3, clients.None
	in := clients.Input{CaseNumber: str(fmt.Sprintf("Q-%d", f.n)), FirstName: str("Client"), LastName: str(fmt.Sprint(f.n)),
		PreferredChannel: &ch, HouseholdSize: &size, ProofVerifiedOn: optional.Of(calendar.Of(time.Now().UTC()))}
	if income != nil {
		in.AnnualIncomeCents = optional.Of(*income)
	}
	in.Needs = optional.Of(clients.Codes(needs))
	c, err := f.svc.Clients.Create(context.Background(), worker, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.ID
}

func (f *fixture) laptop(co *accounts.Actor) int64 {
	f.t.Helper()
	kind := inventory.Kind("laptop")
	d, err := f.svc.Inventory.CreateDevice(context.Background(), co, inventory.DeviceInput{Kind: &kind, Make: str("Acme"), Model: str("L")})
	if err != nil {
		f.t.Fatal(err)
	}
	return d.ID
}

func (f *fixture) status(co *accounts.Actor, id int64) eligibility.RequestStatus {
	f.t.Helper()
	r, err := f.svc.Eligibility.DeviceRequest(context.Background(), co, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Status
}

func cents(dollars int64) *int64 { c := dollars * 100; return &c }

func TestWaitlistServesByPriorityThenTime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		file := func(client int64, urgency string) *eligibility.DeviceRequest {
			t.Helper()
			r, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: client, DeviceKind: "laptop", Urgency: urgency})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		first := file(f.person(sw, cents(20000)), "normal")
		if first.Status != eligibility.Waitlisted || first.Decision.Outcome != eligibility.Eligible || first.Priority != 10 {
			t.Fatalf("with no laptop free: %+v", first)
		}
		urgent := file(f.person(sw, cents(20000), "fleeing_violence"), "high")
		if urgent.Priority != 70 || len(urgent.PriorityReasons) != 2 {
			t.Fatalf("urgent request scored %d %v, want 70 from high urgency and fleeing violence", urgent.Priority, urgent.PriorityReasons)
		}
		later := file(f.person(sw, cents(20000)), "normal")

		list, total, err := f.svc.Eligibility.Waitlist(ctx, co, "laptop", storage.Page{})
		if err != nil || total != 3 {
			t.Fatalf("waitlist: %v %v", total, err)
		}
		order := []int64{list[0].RequestID, list[1].RequestID, list[2].RequestID}
		if fmt.Sprint(order) != fmt.Sprint([]int64{urgent.ID, first.ID, later.ID}) || list[0].Position != 1 || list[2].Position != 3 {
			t.Fatalf("waitlist order %v, want urgent, first, later: %+v", order, list)
		}

		// A laptop comes in: the head of the line is ready, the rest wait.
		f.laptop(co)
		if s := f.status(co, urgent.ID); s != eligibility.Ready {
			t.Fatalf("head after a laptop came in: %s", s)
		}
		if s := f.status(co, first.ID); s != eligibility.Waitlisted {
			t.Fatalf("second after one laptop came in: %s", s)
		}
		// The ready client withdraws: the laptop passes to the next in line.
		if _, err := f.svc.Eligibility.Cancel(ctx, sw, urgent.ID); err != nil {
			t.Fatal(err)
		}
		if s := f.status(co, first.ID); s != eligibility.Ready {
			t.Fatalf("next in line after the ready one cancelled: %s", s)
		}
		if _, err := f.svc.Eligibility.Cancel(ctx, sw, urgent.ID); !apperrIs(err, "conflict") {
			t.Fatalf("cancel twice: %v", err)
		}
	})
}

func TestDeniedNeedsReviewAndOverride(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.laptop(co)

		rich, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: f.person(sw, cents(500000)), DeviceKind: "laptop"})
		if err != nil || rich.Status != eligibility.Denied || rich.Decision.Outcome != eligibility.Ineligible || rich.Decision.RuleSetVersion != 1 {
			t.Fatalf("over the income limit: %+v %v", rich, err)
		}
		if _, err := f.svc.Eligibility.Override(ctx, co, rich.ID, "ok"); !apperrIs(err, "invalid") {
			t.Fatalf("override without a real justification: %v", err)
		}
		over, err := f.svc.Eligibility.Override(ctx, co, rich.ID, "income fell after a job loss last week; proof to follow")
		if err != nil || over.Status != eligibility.Ready || over.Justification == "" {
			t.Fatalf("override: %+v %v", over, err)
		}

		unknown, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: f.person(sw, nil), DeviceKind: "laptop"})
		if err != nil || unknown.Status != eligibility.NeedsReviewed {
			t.Fatalf("income not disclosed: %+v %v", unknown, err)
		}
		approved, err := f.svc.Eligibility.Approve(ctx, co, unknown.ID, "income seen on a pay slip")
		if err != nil || approved.Status != eligibility.Waitlisted {
			t.Fatalf("approved with the only laptop promised: %+v %v", approved, err)
		}
		if _, err := f.svc.Eligibility.Approve(ctx, co, unknown.ID, ""); !apperrIs(err, "conflict") {
			t.Fatalf("approve twice: %v", err)
		}
		// A second open request for the same kind is refused.
		if _, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: unknown.ClientID, DeviceKind: "laptop"}); !apperrIs(err, "conflict") {
			t.Fatalf("duplicate open request: %v", err)
		}
		// Another worker cannot see or cancel it.
		other := f.actor(accounts.SocialWorker)
		if _, err := f.svc.Eligibility.Cancel(ctx, other, unknown.ID); !apperrIs(err, "not_found") {
			t.Fatalf("another worker's cancel: %v", err)
		}
		list, total, err := f.svc.Eligibility.Requests(ctx, other, eligibility.RequestFilter{}, storage.Page{})
		if err != nil || total != 0 || len(list) != 0 {
			t.Fatalf("another worker lists %d requests", total)
		}
	})
}

// Many requests filed at once while one laptop is free: exactly one is
// ready, the others wait in line.
func TestConcurrentRequestsShareOneDevice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.laptop(co)
		const n = 8
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = f.person(sw, cents(15000))
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: ids[i], DeviceKind: "laptop"})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		ready, _, _ := f.svc.Eligibility.Requests(ctx, co, eligibility.RequestFilter{Status: eligibility.Ready}, storage.Page{})
		_, waiting, _ := f.svc.Eligibility.Waitlist(ctx, co, "laptop", storage.Page{})
		if len(ready) != 1 || waiting != n-1 {
			t.Fatalf("%d ready and %d waiting, want 1 and %d", len(ready), waiting, n-1)
		}
	})
}

// Two tables for one region and year would leave the choice to chance.
func TestOneGuidelineTablePerRegionAndYear(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		admin := f.actor(accounts.Admin)
		table := eligibility.Guideline{ID: "agency-2026-ak", Name: "test", Region: "AK", Year: 2026, Currency: "USD",
			Source: "test table", AmountsCents: []int64{100000, 200000}, EachAdditionalCents: 50000}
		if _, err := f.svc.Eligibility.LoadGuideline(context.Background(), admin, table); err != nil {
			t.Fatal(err)
		}
		table.ID = "agency-2026-ak-corrected"
		if _, err := f.svc.Eligibility.LoadGuideline(context.Background(), admin, table); !apperrIs(err, "conflict") {
			t.Fatalf("a second table for AK 2026: %v, want conflict", err)
		}
		table.ID, table.Region = "hhs-2026-48-copy", "48"
		if _, err := f.svc.Eligibility.LoadGuideline(context.Background(), admin, table); !apperrIs(err, "conflict") {
			t.Fatalf("a table for the shipped region and year: %v, want conflict", err)
		}
	})
}

// A loan issued against a ready request fulfils it; the request must be
// ready, for the same client and the device's kind.
func TestLoanFulfilsARequest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		device := f.laptop(co)
		a, b := f.person(sw, cents(10000)), f.person(sw, cents(10000))
		ra, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: a, DeviceKind: "laptop"})
		if err != nil || ra.Status != eligibility.Ready {
			t.Fatalf("first request: %+v %v", ra, err)
		}
		rb, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: b, DeviceKind: "laptop"})
		if err != nil || rb.Status != eligibility.Waitlisted {
			t.Fatalf("second request: %+v %v", rb, err)
		}
		due := calendar.Of(time.Now().UTC()).AddDays(30)
		issue := func(client, request int64) error {
			_, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: client, DeviceID: device, DueOn: due, RequestID: &request})
			return err
		}
		if err := issue(b, ra.ID); !apperrIs(err, "invalid") {
			t.Fatalf("a loan to another client against this request: %v", err)
		}
		if err := issue(b, rb.ID); !apperrIs(err, "conflict") {
			t.Fatalf("a loan against a waitlisted request: %v", err)
		}
		if d, _ := f.svc.Inventory.Device(ctx, device); d.Status != inventory.Available {
			t.Fatalf("refused loans left the device %s", d.Status)
		}
		if err := issue(a, ra.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := f.svc.Eligibility.DeviceRequest(ctx, co, ra.ID)
		if got.Status != eligibility.Fulfilled || got.LoanID == nil {
			t.Fatalf("request after its loan: %+v", got)
		}
		// The next laptop that comes back into the pool goes to the next in line.
		f.laptop(co)
		if s := f.status(co, rb.ID); s != eligibility.Ready {
			t.Fatalf("second request after a laptop came in: %s", s)
		}
	})
}

// A coordinator deciding a first-time applicant's request can open their
// record; a client with neither a loan nor a request stays hidden.
func TestCoordinatorsSeeApplicants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		applicant, stranger := f.person(sw, cents(10000)), f.person(sw, cents(10000))
		if _, err := f.svc.Clients.Get(ctx, co, applicant); !apperrIs(err, "not_found") {
			t.Fatalf("a coordinator sees a client before any request: %v", err)
		}
		if _, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: applicant, DeviceKind: "tablet"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Clients.Get(ctx, co, applicant); err != nil {
			t.Fatalf("a coordinator cannot open an applicant's record: %v", err)
		}
		if _, err := f.svc.Clients.Get(ctx, co, stranger); !apperrIs(err, "not_found") {
			t.Fatalf("a coordinator sees a client with no loan and no request: %v", err)
		}
		list, total, err := f.svc.Clients.List(ctx, co, clients.Filter{}, storage.Page{})
		if err != nil || total != 1 || list[0].ID != applicant {
			t.Fatalf("a coordinator's client list: %d %v", total, err)
		}
	})
}

// On an edit, null clears a list of codes; leaving it out keeps it.
func TestNullClearsProgramsAndNeeds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw := f.actor(accounts.SocialWorker)
		id := f.person(sw, cents(10000), "disability")
		snap := optional.Of(clients.Codes{"snap"})
		c, err := f.svc.Clients.Update(ctx, sw, id, clients.Input{Programs: snap})
		if err != nil || fmt.Sprint(c.Programs) != "[snap]" || fmt.Sprint(c.Needs) != "[disability]" {
			t.Fatalf("programs set, needs kept: %+v %v", c, err)
		}
		c, err = f.svc.Clients.Update(ctx, sw, id, clients.Input{Needs: optional.Field[clients.Codes]{Set: true, Null: true}})
		if err != nil || len(c.Needs) != 0 || c.Needs == nil || fmt.Sprint(c.Programs) != "[snap]" {
			t.Fatalf("needs cleared with null: %+v %v", c, err)
		}
	})
}

// Requests filed and cancelled, laptops taken in, pulled for repair and
// put back, loans against ready requests and walk-ins, all at once: every
// change either happens or is refused as a conflict or a bad field (never
// a deadlock or a server error), and afterwards every ready request holds
// exactly one available laptop, no other request holds one, and no laptop
// is free while someone waits.
func TestReservationsHoldUnderConcurrentChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		const n = 6
		filers, walkers := make([]int64, n), make([]int64, n)
		for i := range n {
			filers[i], walkers[i] = f.person(sw, cents(15000)), f.person(sw, cents(15000))
		}
		f.laptop(co)
		due := calendar.Of(time.Now().UTC()).AddDays(30)
		first := func(status eligibility.RequestStatus) *eligibility.DeviceRequest {
			list, _, err := f.svc.Eligibility.Requests(ctx, co, eligibility.RequestFilter{Status: status, DeviceKind: "laptop"}, storage.Page{Limit: 1})
			if err != nil || len(list) == 0 {
				return nil
			}
			return &list[0]
		}
		available := func() int64 {
			kind := inventory.Kind("laptop")
			list, _, err := f.svc.Inventory.ListDevices(ctx, inventory.DeviceFilter{Status: inventory.Available, Kind: kind}, storage.Page{Limit: 1})
			if err != nil || len(list) == 0 {
				return 0
			}
			return list[0].ID
		}
		wiped := true
		var mu sync.Mutex
		var unexpected []error
		try := func(err error) {
			if err != nil && !apperrIs(err, "conflict") && !apperrIs(err, "invalid") && !apperrIs(err, "not_found") {
				mu.Lock()
				unexpected = append(unexpected, err)
				mu.Unlock()
			}
		}
		workers := []func(i int){
			func(i int) {
				_, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: filers[i], DeviceKind: "laptop"})
				try(err)
			},
			func(int) { f.laptop(co) },
			func(int) {
				if id := available(); id != 0 {
					_, err := f.svc.Inventory.InspectDevice(ctx, co, id, inventory.InspectionInput{Wiped: &wiped, Outcome: inventory.NeedsRepair})
					try(err)
					_, err = f.svc.Inventory.InspectDevice(ctx, co, id, inventory.InspectionInput{Wiped: &wiped, Outcome: inventory.Ready})
					try(err)
				}
			},
			func(int) {
				if r := first(eligibility.Ready); r != nil && r.ReservedDeviceID != nil {
					_, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: r.ClientID, DeviceID: *r.ReservedDeviceID, DueOn: due, RequestID: &r.ID})
					try(err)
				}
			},
			func(i int) {
				if id := available(); id != 0 {
					_, err := f.svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: walkers[i], DeviceID: id, DueOn: due,
						WalkInJustification: "walked in at the front desk"})
					try(err)
				}
			},
			func(int) {
				for _, s := range []eligibility.RequestStatus{eligibility.Ready, eligibility.Waitlisted} {
					if r := first(s); r != nil {
						_, err := f.svc.Eligibility.Cancel(ctx, sw, r.ID)
						try(err)
					}
				}
			},
		}
		var wg sync.WaitGroup
		for _, work := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					work(i)
				}
			}()
		}
		wg.Wait()
		for _, err := range unexpected {
			t.Errorf("unexpected error: %v", err)
		}
		count := func(what, query string) int {
			t.Helper()
			var c int
			if err := db.NewRaw(query).Scan(ctx, &c); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return c
		}
		if c := count("ready without a device", `SELECT COUNT(*) FROM device_requests AS r WHERE r.status = 'ready'
			AND NOT EXISTS (SELECT 1 FROM devices AS d WHERE d.reserved_for_request_id = r.id)`); c != 0 {
			t.Errorf("%d ready requests hold no device", c)
		}
		if c := count("held for a request not ready", `SELECT COUNT(*) FROM devices AS d JOIN device_requests AS r
			ON r.id = d.reserved_for_request_id WHERE r.status <> 'ready' OR d.status <> 'available'`); c != 0 {
			t.Errorf("%d devices are held for requests that are not ready, or are not available", c)
		}
		waiting := count("waiting", `SELECT COUNT(*) FROM device_requests WHERE status = 'waitlisted'`)
		free := count("free", `SELECT COUNT(*) FROM devices WHERE status = 'available' AND reserved_for_request_id IS NULL`)
		if waiting > 0 && free > 0 {
			t.Errorf("%d laptops are free while %d requests wait", free, waiting)
		}
	})
}

// The waitlist's head, kept prepared, is read through the waitlist's
// partial index (status = 'waitlisted') even with the plan PostgreSQL
// keeps for any argument: a plan that took the status as an argument could
// not use it, and scanned the table.
func TestWaitlistHeadKeepsItsIndex(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Engine != storage.Postgres {
			t.Skip("PostgreSQL only: SQLite plans a prepared statement anew for the arguments bound")
		}
		// One connection: the statement prepared in the background is on
		// the connection the test then asks.
		db.SetPool(storage.Pool{MaxOpen: 1, MaxIdle: 1})
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		if _, err := f.svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: f.person(sw, cents(20000)), DeviceKind: "laptop"}); err != nil {
			t.Fatal(err)
		}
		f.laptop(co) // the head of the line is served
		var name string
		var params int
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := db.NewRaw("SELECT name, cardinality(parameter_types) FROM pg_prepared_statements WHERE statement LIKE '%ORDER BY r.priority DESC, r.waitlisted_at, r.id LIMIT 1'").Scan(ctx, &name, &params)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the waitlist's head was never prepared: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := db.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		args := []any{bun.Ident(name), "laptop"}
		execute := "EXPLAIN EXECUTE ?(?)"
		if params == 2 {
			args, execute = append(args, eligibility.Waitlisted), "EXPLAIN EXECUTE ?(?, ?)"
		}
		var plan []string
		if err := db.NewRaw(execute, args...).Scan(ctx, &plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(plan, "\n"), "device_requests_waitlist_idx") {
			t.Errorf("the waitlist's head is planned without its index:\n%s", strings.Join(plan, "\n"))
		}
	})
}
