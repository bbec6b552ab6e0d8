package web_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// The rule that matters most: many coordinators issuing one device at once
// get exactly one loan; everyone else gets a 409, never a 500.
func TestConcurrentIssueOfOneDevice(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "laptop")
		const n = 24
		clientIDs := make([]int64, n)
		for i := range clientIDs {
			clientIDs[i] = e.referred(sw)
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				r := e.do(co, "POST", "/api/v1/loans", map[string]any{
					"client_id": clientIDs[i], "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
				statuses[i] = r.Status
			}(i)
		}
		close(start)
		wg.Wait()
		created := 0
		for i, s := range statuses {
			switch s {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("request %d: status %d, want 201 or 409", i, s)
			}
		}
		if created != 1 {
			t.Fatalf("%d loans created for one device, want exactly 1 (statuses %v)", created, statuses)
		}
		open := e.must(200, co, "GET", path("/api/v1/loans?device_id=%d&status=open", device), nil).JSON(t)
		if open["total"].(float64) != 1 {
			t.Fatalf("open loans for the device: %v, want 1", open["total"])
		}
		if got := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)["status"]; got != "on_loan" {
			t.Fatalf("device status %v, want on_loan", got)
		}
	})
}

// A whole loan: issue, renew, return, inspect back into the pool, and the
// history that records each step.
func TestLoanLifecycle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "tablet")
		client := e.referred(sw)
		plan := e.must(201, co, "POST", "/api/v1/data-plans", map[string]any{
			"carrier": "Mint", "line_number": "+1 312 555 0101", "monthly_cost_cents": 1500,
			"data_cap_mb": 10240, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}).ID(t)

		r := e.must(201, co, "POST", "/api/v1/loans", map[string]any{
			"client_id": client, "device_id": device, "data_plan_id": plan, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		loan := r.JSON(t)
		if loan["status"] != "open" || loan["due_on"] != "2026-04-10" || loan["overdue"] != false {
			t.Fatalf("new loan: %s", r.Body)
		}
		id := r.ID(t)
		if got := e.must(200, co, "GET", path("/api/v1/data-plans/%d", plan), nil).JSON(t)["on_loan"]; got != true {
			t.Fatalf("data plan on_loan = %v, want true", got)
		}
		// The data plan cannot go out twice.
		other := e.device(co, "phone")
		if r := e.do(co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": other,
			"data_plan_id": plan, "due_on": "2026-04-10", "walk_in_justification": walkIn}); r.Status != 409 {
			t.Fatalf("second loan of a data plan: %d %s", r.Status, r.Body)
		}

		// Renewal must move the date later.
		if r := e.do(co, "POST", path("/api/v1/loans/%d/renew", id), map[string]any{"due_on": "2026-04-01"}); r.Status != 422 || r.ErrorFields(t)["due_on"] == nil {
			t.Fatalf("renew to an earlier date: %d %s", r.Status, r.Body)
		}
		renewed := e.must(200, co, "POST", path("/api/v1/loans/%d/renew", id), map[string]any{"due_on": "2026-05-10"}).JSON(t)
		if renewed["due_on"] != "2026-05-10" || renewed["renewals"].(float64) != 1 {
			t.Fatalf("renewed loan: %v", renewed)
		}

		// Overdue once the clock passes the due date.
		e.clock.Set(testNow.AddDate(0, 3, 0))
		if got := e.must(200, co, "GET", path("/api/v1/loans/%d", id), nil).JSON(t)["overdue"]; got != true {
			t.Fatalf("overdue = %v after the due date", got)
		}
		if total := e.must(200, co, "GET", "/api/v1/loans?status=overdue", nil).JSON(t)["total"]; total.(float64) != 1 {
			t.Fatalf("overdue loans: %v, want 1", total)
		}
		e.clock.Set(testNow)

		returned := e.must(200, co, "POST", path("/api/v1/loans/%d/return", id), map[string]any{"condition": "fair", "notes": "scratched"}).JSON(t)
		if returned["status"] != "returned" || returned["return_condition"] != "fair" {
			t.Fatalf("returned loan: %v", returned)
		}
		if r := e.do(co, "POST", path("/api/v1/loans/%d/return", id), map[string]any{"condition": "fair"}); r.Status != 409 {
			t.Fatalf("returning a returned loan: %d %s", r.Status, r.Body)
		}
		dev := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)
		if dev["status"] != "inspection" || dev["condition"] != "fair" {
			t.Fatalf("device after return: %v", dev)
		}
		if got := e.must(200, co, "GET", path("/api/v1/data-plans/%d", plan), nil).JSON(t)["on_loan"]; got != false {
			t.Fatalf("data plan still on loan after return")
		}
		// Not issuable while in inspection.
		if r := e.do(co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn}); r.Status != 409 {
			t.Fatalf("issue a device in inspection: %d %s", r.Status, r.Body)
		}
		// The wipe must be confirmed before the device goes back.
		r = e.do(co, "POST", path("/api/v1/devices/%d/inspection", device), map[string]any{"wiped": false, "outcome": "ready"})
		if r.Status != 422 || r.ErrorFields(t)["wiped"] == nil {
			t.Fatalf("ready without wipe: %d %s", r.Status, r.Body)
		}
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)["status"]; st != "inspection" {
			t.Fatalf("a refused inspection changed the device to %v", st)
		}
		ready := e.must(200, co, "POST", path("/api/v1/devices/%d/inspection", device), map[string]any{"wiped": true, "outcome": "ready"}).JSON(t)
		if ready["status"] != "available" || ready["last_wiped_at"] == nil {
			t.Fatalf("device after inspection: %v", ready)
		}

		hist := e.must(200, co, "GET", path("/api/v1/devices/%d/history", device), nil).JSON(t)
		var actions []string
		for _, ev := range hist["items"].([]any) {
			m := ev.(map[string]any)
			actions = append(actions, m["action"].(string))
			if m["actor_name"] == "" || m["occurred_at"] == nil {
				t.Errorf("event without actor or time: %v", m)
			}
		}
		// The refused inspection changed nothing, so it left no event.
		want := "[device.created loan.issued loan.renewed loan.returned device.inspected]"
		if got := fmt.Sprint(actions); got != want {
			t.Fatalf("device history %v, want %s", got, want)
		}
	})
}

// Lost, then found: the loan is closed as lost, the device is lost until
// recovered, then goes to inspection; retiring takes it out for good.
func TestLostAndRecovered(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		device := e.device(co, "hotspot")
		client := e.referred(sw)
		id := e.loan(co, client, device)

		if r := e.do(co, "POST", path("/api/v1/loans/%d/recovered", id), map[string]any{"condition": "good"}); r.Status != 409 {
			t.Fatalf("recover an open loan: %d %s", r.Status, r.Body)
		}
		lost := e.must(200, co, "POST", path("/api/v1/loans/%d/lost", id), map[string]any{"notes": "left on a bus"}).JSON(t)
		if lost["status"] != "lost" || lost["lost_notes"] != "left on a bus" {
			t.Fatalf("lost loan: %v", lost)
		}
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)["status"]; st != "lost" {
			t.Fatalf("device status %v, want lost", st)
		}
		if total := e.must(200, co, "GET", "/api/v1/loans?status=lost", nil).JSON(t)["total"]; total.(float64) != 1 {
			t.Fatalf("lost loans: %v", total)
		}
		if r := e.do(co, "POST", path("/api/v1/loans/%d/recovered", id), map[string]any{"condition": "shiny"}); r.Status != 422 {
			t.Fatalf("bad condition: %d %s", r.Status, r.Body)
		}
		rec := e.must(200, co, "POST", path("/api/v1/loans/%d/recovered", id), map[string]any{"condition": "poor"}).JSON(t)
		if rec["recovered_at"] == nil || rec["recovered_condition"] != "poor" {
			t.Fatalf("recovered loan: %v", rec)
		}
		if r := e.do(co, "POST", path("/api/v1/loans/%d/recovered", id), map[string]any{"condition": "poor"}); r.Status != 409 {
			t.Fatalf("recover twice: %d %s", r.Status, r.Body)
		}
		dev := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)
		if dev["status"] != "inspection" || dev["condition"] != "poor" {
			t.Fatalf("device after recovery: %v", dev)
		}
		retired := e.must(200, co, "POST", path("/api/v1/devices/%d/inspection", device), map[string]any{"wiped": true, "outcome": "retire"}).JSON(t)
		if retired["status"] != "retired" {
			t.Fatalf("device after retire: %v", retired)
		}
		if r := e.do(co, "POST", path("/api/v1/devices/%d/inspection", device), map[string]any{"wiped": true, "outcome": "ready"}); r.Status != 409 {
			t.Fatalf("inspect a retired device: %d %s", r.Status, r.Body)
		}
		// The client's history shows the loan's whole story.
		hist := e.must(200, sw, "GET", path("/api/v1/clients/%d/history", client), nil).JSON(t)
		seen := map[string]bool{}
		for _, ev := range hist["items"].([]any) {
			seen[ev.(map[string]any)["action"].(string)] = true
		}
		for _, a := range []string{"client.created", "loan.issued", "loan.lost", "loan.recovered"} {
			if !seen[a] {
				t.Errorf("client history lacks %s: %v", a, seen)
			}
		}
	})
}
