package web_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// Reservations and walk-ins: a ready request holds a real device, which
// nothing else may lend; a loan without a request is a walk-in, with a
// written justification; a client has at most one open loan of each kind;
// a due date does not run past the data plan's end without saying so.

const loansURL = v1 + "/loans"

// walkInBody is a walk-in loan of device to client, due in a month.
func walkInBody(client, device int64) map[string]any {
	return map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn}
}

// walkInClient is an eligible client whom the worker has referred to the
// program (by a request for a device of another kind), as a walk-in needs.
func (r *reqEnv) walkInClient() int64 {
	r.t.Helper()
	c := r.eligible()
	r.refer(r.sw, c)
	return c
}

// againstBody is a loan of device to client against request.
func againstBody(client, device, request int64) map[string]any {
	return map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "request_id": request}
}

// errorMessage is error.message of an error response.
func errorMessage(t testing.TB, r *response) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// expectConflictNaming fails unless r is a 409 whose message contains each of parts.
func expectConflictNaming(t testing.TB, r *response, parts ...string) {
	t.Helper()
	expectError(t, r, 409, "conflict")
	for _, p := range parts {
		if msg := errorMessage(t, r); !strings.Contains(msg, p) {
			t.Errorf("conflict message %q does not say %q", msg, p)
		}
	}
}

// deviceHeld fails unless device has status and is held for request (0: for none).
func (r *reqEnv) deviceHeld(device int64, status string, request int64) {
	r.t.Helper()
	d := r.must(200, r.co, "GET", path(v1+"/devices/%d", device), nil).JSON(r.t)
	var want any
	if request != 0 {
		want = float64(request)
	}
	if d["status"] != status || d["reserved_for_request_id"] != want {
		r.t.Errorf("device %d is %v, held for %v; want %s, held for %v", device, d["status"], d["reserved_for_request_id"], status, want)
	}
}

// holds fails unless request is in status, holding device (0: none).
func (r *reqEnv) holds(request int64, status string, device int64) {
	r.t.Helper()
	m := r.req(request)
	var want any
	if device != 0 {
		want = float64(device)
	}
	if m["status"] != status || m["reserved_device_id"] != want {
		r.t.Errorf("request %d is %v, holding %v; want %s, holding %v", request, m["status"], m["reserved_device_id"], status, want)
	}
}

// neverLent fails unless device has no loan at all.
func (r *reqEnv) neverLent(device int64, what string) {
	r.t.Helper()
	if n := r.totalAt(r.co, path(loansURL+"?device_id=%d", device)); n != 0 {
		r.t.Errorf("after %s device %d has %d loans, want 0", what, device, n)
	}
}

func TestWalkInLoans(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		laptop := r.device(r.co, "laptop")
		client := r.walkInClient()

		// Without a request, a written justification is required, as for
		// an override; with one, it has no place. Nothing is lent.
		for _, j := range []any{nil, "", "too short", "        x        "} {
			b := walkInBody(client, laptop)
			b["walk_in_justification"] = j
			res := r.do(r.co, "POST", loansURL, b)
			expectError(t, res, 422, "invalid", "walk_in_justification")
			expectFieldsExactly(t, res, "walk_in_justification")
		}
		b := walkInBody(client, laptop)
		b["request_id"] = 999999
		expectError(t, r.do(r.co, "POST", loansURL, b), 422, "invalid", "walk_in_justification")
		r.neverLent(laptop, "refused walk-ins")
		r.deviceHeld(laptop, "available", 0)

		// With one, the device is lent and the justification recorded.
		res := r.must(201, r.co, "POST", loansURL, walkInBody(client, laptop))
		loan := res.ID(t)
		if m := res.JSON(t); m["device_kind"] != "laptop" || m["client_id"] != float64(client) {
			t.Errorf("walk-in loan: %s", res.Body)
		}
		issued := oneEvent(t, r.historyAt(r.admin, path(clientsURL+"/%d/history", client)), "loan.issued")
		if ch, _ := issued["changes"].(map[string]any); asJSON(t, ch["texts"]) != `["walk_in_justification"]` || strings.Contains(asJSON(t, ch), walkIn) || ch["request_id"] != nil {
			t.Errorf("loan.issued records %s", asJSON(t, issued["changes"]))
		}

		// One open loan of each kind per client: a second laptop is
		// refused, a tablet is not; once the laptop is back, another may go.
		second := r.device(r.co, "laptop")
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, walkInBody(client, second)), "one open loan of each kind")
		r.neverLent(second, "a second laptop for one client")
		r.deviceHeld(second, "available", 0)
		r.must(201, r.co, "POST", loansURL, walkInBody(client, r.device(r.co, "tablet")))
		r.must(200, r.co, "POST", path(loansURL+"/%d/return", loan), map[string]any{"condition": "good"})
		r.must(201, r.co, "POST", loansURL, walkInBody(client, second))

		// A client whose request is being decided is served through it.
		free := r.device(r.co, "laptop")
		reviewed := r.situated(r.sw, map[string]any{"programs": []string{"snap"}, "proof_verified_on": nil})
		review := r.fileAs("needs_review", reviewed, "laptop", nil)
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, walkInBody(reviewed, free)), fmt.Sprintf("request %d", review), "needs_review")
		// So is one whose request is ready: against it, in its turn.
		ready := r.eligible()
		readyReq := r.fileAs("ready", ready, "laptop", nil)
		r.holds(readyReq, "ready", free)
		spare := r.device(r.co, "laptop")
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, walkInBody(ready, spare)), fmt.Sprintf("request %d", readyReq), "is ready")
		// A denied client is not lent one by the side door: the denial is
		// overridden, with its justification, and the loan goes against it.
		rich := r.situated(r.sw, map[string]any{"annual_income_cents": limit3 + 100})
		denied := r.fileAs("denied", rich, "laptop", nil)
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, walkInBody(rich, spare)), fmt.Sprintf("request %d", denied), "override")
		for _, d := range []int64{free, spare} {
			r.neverLent(d, "refused walk-ins")
		}
		r.deviceHeld(spare, "available", 0)
		r.must(200, r.co, "POST", path(requestsURL+"/%d/override", denied), map[string]any{"justification": "income fell after a job loss"})
		r.holds(denied, "ready", spare)
		r.must(201, r.co, "POST", loansURL, againstBody(rich, spare, denied))
		r.expectStatus(denied, "fulfilled")
	})
}

func TestReadyRequestHoldsADevice(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		first := r.device(r.co, "laptop")
		a := r.eligible()
		ra := r.fileAs("ready", a, "laptop", nil)
		r.holds(ra, "ready", first)
		r.deviceHeld(first, "available", ra)
		// Lists show it too.
		if m := r.must(200, r.co, "GET", path(requestsURL+"?client_id=%d", a), nil).JSON(t); asJSON(t, m["items"].([]any)[0].(map[string]any)["reserved_device_id"]) != fmt.Sprint(first) {
			t.Errorf("the request list does not show the held device: %s", asJSON(t, m))
		}

		// A walk-in cannot take a device held for a ready request (the
		// request would be left ready with nothing to lend).
		b := r.walkInClient()
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, walkInBody(b, first)), fmt.Sprintf("held for request %d", ra))
		r.neverLent(first, "a walk-in of a held device")
		r.holds(ra, "ready", first)
		r.deviceHeld(first, "available", ra)

		// Nor can a loan against another ready request.
		rb := r.fileAs("waitlisted", b, "laptop", nil)
		second := r.device(r.co, "laptop")
		r.holds(rb, "ready", second)
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, againstBody(b, first, rb)), fmt.Sprintf("held for request %d", ra))
		expectConflictNaming(t, r.do(r.co, "POST", loansURL, againstBody(a, second, ra)), fmt.Sprintf("held for request %d", rb))
		r.neverLent(first, "loans against the wrong request")
		r.neverLent(second, "loans against the wrong request")
		r.holds(ra, "ready", first)
		r.holds(rb, "ready", second)
		r.expectActions(a, "request.filed", "request.ready")
		// A held device keeps its kind.
		expectError(t, r.do(r.co, "PATCH", path(v1+"/devices/%d", first), map[string]any{"kind": "tablet"}), 409, "conflict")
		r.deviceHeld(first, "available", ra)

		// The coordinator lends the laptop on the shelf, held for no one,
		// against the request: the one it held is free again.
		shelf := r.device(r.co, "laptop")
		r.deviceHeld(shelf, "available", 0)
		r.must(201, r.co, "POST", loansURL, againstBody(a, shelf, ra))
		r.holds(ra, "fulfilled", 0)
		r.deviceHeld(shelf, "on_loan", 0)
		r.deviceHeld(first, "available", 0)
		if acts := actionsOf(r.historyAt(r.co, path(v1+"/devices/%d/history", first))); fmt.Sprint(acts) != "[device.created device.reserved device.released]" {
			t.Errorf("history of the laptop released by a loan from the shelf: %v", acts)
		}

		// The next request holds it; one more waits.
		r.tick()
		c := r.eligible()
		rc := r.fileAs("ready", c, "laptop", nil)
		r.holds(rc, "ready", first)
		readyAt := r.req(rc)["updated_at"]
		r.tick()
		d := r.eligible()
		rd := r.fileAs("waitlisted", d, "laptop", map[string]any{"urgency": "high"})
		r.tick()
		later := r.fileAs("waitlisted", r.eligible(), "laptop", nil)
		r.tick()

		// The held laptop goes to repair and no other is free: its request
		// goes back to the line at the place it had, from when it became
		// ready: behind a request with more points, ahead of one with the
		// same points that came after it.
		r.must(200, r.co, "POST", path(v1+"/devices/%d/inspection", first), map[string]any{"wiped": true, "outcome": "repair"})
		r.deviceHeld(first, "repair", 0)
		r.holds(rc, "waitlisted", 0)
		if got := r.req(rc)["waitlisted_at"]; got != readyAt {
			t.Errorf("back on the waitlist at %v, want %v (when it became ready)", got, readyAt)
		}
		if ids, _ := r.waitlist("?kind=laptop"); fmt.Sprint(ids) != fmt.Sprint([]int64{rd, rc, later}) {
			t.Errorf("laptop waitlist %v, want [%d %d %d] (high urgency first, then the one that was ready, then the later one)", ids, rd, rc, later)
		}
		// Repaired, it goes to the head of the line.
		r.must(200, r.co, "POST", path(v1+"/devices/%d/inspection", first), map[string]any{"wiped": true, "outcome": "ready"})
		r.holds(rd, "ready", first)
		r.holds(rc, "waitlisted", 0)
		// Cancelled, its laptop passes on.
		r.must(200, r.sw, "POST", path(requestsURL+"/%d/cancel", rd), map[string]any{})
		r.holds(rd, "cancelled", 0)
		r.holds(rc, "ready", first)
		r.expectActions(c, "request.filed", "request.ready", "request.waitlisted", "request.ready")
		r.holds(later, "waitlisted", 0)
		r.must(200, r.sw, "POST", path(requestsURL+"/%d/cancel", later), map[string]any{})

		// Retired while another laptop is free: the request holds that one.
		other := r.device(r.co, "laptop")
		r.deviceHeld(other, "available", 0)
		r.must(200, r.co, "POST", path(v1+"/devices/%d/inspection", first), map[string]any{"wiped": true, "outcome": "retire"})
		r.deviceHeld(first, "retired", 0)
		r.holds(rc, "ready", other)
		r.deviceHeld(other, "available", rc)
		r.expectActions(c, "request.filed", "request.ready", "request.waitlisted", "request.ready")
		r.must(201, r.co, "POST", loansURL, againstBody(c, other, rc))
		r.holds(rc, "fulfilled", 0)

		// A free device whose kind is changed goes to its new kind's line.
		tablet := r.fileAs("waitlisted", r.eligible(), "tablet", nil)
		spare := r.device(r.co, "laptop")
		r.deviceHeld(spare, "available", 0)
		r.must(200, r.co, "PATCH", path(v1+"/devices/%d", spare), map[string]any{"kind": "tablet"})
		r.holds(tablet, "ready", spare)
	})
}

func TestDueDateAndDataPlanEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		client := r.walkInClient()
		hotspot := r.device(r.co, "hotspot")
		plan := r.must(201, r.co, "POST", v1+"/data-plans", map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0199",
			"starts_on": "2026-01-01", "ends_on": "2026-06-30"}).ID(t)
		body := walkInBody(client, hotspot)
		body["data_plan_id"], body["due_on"] = plan, "2026-07-15"

		// Due after the plan ends: refused, naming the date, unless said so.
		res := r.do(r.co, "POST", loansURL, body)
		expectError(t, res, 422, "invalid", "due_on")
		expectFieldsExactly(t, res, "due_on")
		if msg := res.ErrorFields(t)["due_on"].(string); !strings.Contains(msg, "2026-06-30") || !strings.Contains(msg, "due_after_plan_ends") {
			t.Errorf("due_on: %q", msg)
		}
		r.neverLent(hotspot, "a loan due after its plan ends")
		if on := r.must(200, r.co, "GET", path(v1+"/data-plans/%d", plan), nil).JSON(t)["on_loan"]; on != false {
			t.Errorf("the plan of a refused loan is on loan: %v", on)
		}
		body["due_after_plan_ends"] = true
		loan := r.must(201, r.co, "POST", loansURL, body).ID(t)
		issued := oneEvent(t, r.historyAt(r.admin, path(clientsURL+"/%d/history", client)), "loan.issued")
		if ch, _ := issued["changes"].(map[string]any); ch["due_after_plan_ends"] != true {
			t.Errorf("loan.issued records %s", asJSON(t, issued["changes"]))
		}

		// The same for a renewal.
		renew := path(loansURL+"/%d/renew", loan)
		expectError(t, r.do(r.co, "POST", renew, map[string]any{"due_on": "2026-08-01"}), 422, "invalid", "due_on")
		if got := r.must(200, r.co, "GET", path(loansURL+"/%d", loan), nil).JSON(t); got["due_on"] != "2026-07-15" || got["renewals"] != float64(0) {
			t.Errorf("a refused renewal changed the loan: %v", got)
		}
		r.must(200, r.co, "POST", renew, map[string]any{"due_on": "2026-08-01", "due_after_plan_ends": true})
		renewed := oneEvent(t, r.historyAt(r.admin, path(clientsURL+"/%d/history", client)), "loan.renewed")
		if ch, _ := renewed["changes"].(map[string]any); ch["due_after_plan_ends"] != true {
			t.Errorf("loan.renewed records %s", asJSON(t, renewed["changes"]))
		}

		// Up to the plan's last day is fine, without saying anything.
		phone := r.device(r.co, "phone")
		short := r.must(201, r.co, "POST", v1+"/data-plans", map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0198",
			"starts_on": "2026-01-01", "ends_on": "2026-04-30"}).ID(t)
		body = walkInBody(client, phone)
		body["data_plan_id"] = short
		loan = r.must(201, r.co, "POST", loansURL, body).ID(t)
		r.must(200, r.co, "POST", path(loansURL+"/%d/renew", loan), map[string]any{"due_on": "2026-04-30"})
		expectError(t, r.do(r.co, "POST", path(loansURL+"/%d/renew", loan), map[string]any{"due_on": "2026-05-01"}), 422, "invalid", "due_on")
	})
}

// A data plan's end does not move before the due date of the open loan it
// is lent on unless the coordinator says so, as when issuing or renewing.
func TestDataPlanEndBeforeItsLoanIsDue(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		client := r.walkInClient()
		hotspot := r.device(r.co, "hotspot")
		plan := r.must(201, r.co, "POST", v1+"/data-plans", map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0197",
			"starts_on": "2026-01-01", "ends_on": "2026-12-31"}).ID(t)
		body := walkInBody(client, hotspot)
		body["data_plan_id"], body["due_on"] = plan, "2026-07-15"
		loan := r.must(201, r.co, "POST", loansURL, body).ID(t)
		planURL := path(v1+"/data-plans/%d", plan)

		// Refused, naming the loan and its due date, with every other bad field.
		res := r.do(r.co, "PATCH", planURL, map[string]any{"ends_on": "2026-06-30", "monthly_cost_cents": -1})
		expectError(t, res, 422, "invalid", "ends_on", "monthly_cost_cents")
		expectFieldsExactly(t, res, "ends_on", "monthly_cost_cents")
		if msg, _ := res.ErrorFields(t)["ends_on"].(string); !strings.Contains(msg, fmt.Sprintf("loan %d", loan)) ||
			!strings.Contains(msg, "2026-07-15") || !strings.Contains(msg, "due_after_plan_ends") {
			t.Errorf("ends_on: %q", msg)
		}
		expectError(t, r.do(r.co, "PATCH", planURL, map[string]any{"ends_on": "2026-07-14"}), 422, "invalid", "ends_on")
		if got := r.must(200, r.co, "GET", planURL, nil).JSON(t)["ends_on"]; got != "2026-12-31" {
			t.Errorf("a refused edit moved the plan's end to %v", got)
		}

		// Up to the due date is fine, and so is any date when said so.
		r.must(200, r.co, "PATCH", planURL, map[string]any{"ends_on": "2026-07-15"})
		r.must(200, r.co, "PATCH", planURL, map[string]any{"notes": "the loan is still due on its day"})
		if got := r.must(200, r.co, "PATCH", planURL, map[string]any{"ends_on": "2026-06-30", "due_after_plan_ends": true}).JSON(t)["ends_on"]; got != "2026-06-30" {
			t.Errorf("the plan ends on %v, want 2026-06-30", got)
		}
		// Once the loan is returned the plan's end is free to move.
		r.must(200, r.co, "POST", path(loansURL+"/%d/return", loan), map[string]any{"condition": "good"})
		r.must(200, r.co, "PATCH", planURL, map[string]any{"ends_on": "2026-05-31"})
	})
}

// race sends the requests at the same moment and returns their statuses.
func (e *env) race(token string, bodies ...map[string]any) []int {
	statuses := make([]int, len(bodies))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = e.do(token, "POST", loansURL, b).Status
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// Two walk-ins and the loan against the ready request, all at once for the
// device held for it: the request's loan goes out, the walk-ins never take
// the held device, whatever the order.
func TestConcurrentWalkInsAndAHeldDevice(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		for round := range 5 {
			device := r.device(r.co, "laptop")
			a := r.eligible()
			ra := r.fileAs("ready", a, "laptop", nil)
			r.holds(ra, "ready", device)
			got := e.race(r.co, walkInBody(r.walkInClient(), device), againstBody(a, device, ra), walkInBody(r.walkInClient(), device))
			if fmt.Sprint(got) != "[409 201 409]" {
				t.Fatalf("round %d: statuses %v, want [409 201 409] (walk-in, the request's loan, walk-in)", round, got)
			}
			open := r.must(200, r.co, "GET", path(loansURL+"?device_id=%d", device), nil).JSON(t)["items"].([]any)
			if len(open) != 1 || open[0].(map[string]any)["client_id"] != float64(a) {
				t.Fatalf("round %d: loans of the held device: %s", round, asJSON(t, open))
			}
			r.holds(ra, "fulfilled", 0)
		}
	})
}

// Two loans of one kind to one client at the same moment, of two devices:
// one is lent, the other refused.
func TestConcurrentLoansOfOneKindToOneClient(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		for round := range 5 {
			client := e.referred(sw)
			first, second := e.device(co, "laptop"), e.device(co, "laptop")
			got := e.race(co, walkInBody(client, first), walkInBody(client, second))
			if slices.Sort(got); fmt.Sprint(got) != "[201 409]" {
				t.Fatalf("round %d: statuses %v, want one 201 and one 409", round, got)
			}
			if n := e.totalAt(co, path(loansURL+"?client_id=%d&status=open", client)); n != 1 {
				t.Fatalf("round %d: the client has %d open loans, want 1", round, n)
			}
		}
	})
}
