package web_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/web"
)

// Eligibility through the API: the client's situation, checks against the
// default and replaced rules, rule set versions and guideline tables.

// 2026 HHS guideline for the 48 states, household of 3: $27,320; 200% of it
// is $54,640. Household of 9: $55,720 + $5,680 = $61,400; 200%: $122,800.
const (
	limit3     = 5464000  // 200% for 3 people, 2026
	limit9     = 12280000 // 200% for 9 people, 2026
	recent     = "2026-01-15"
	clientsURL = v1 + "/clients"
	check      = v1 + "/eligibility/check"
	rules      = v1 + "/eligibility/rules"
	guides     = v1 + "/eligibility/guidelines"
)

// situated records a client of worker's with a household of 3, recent
// proof and no income disclosed; extra fields are added or replaced.
func (e *env) situated(worker string, extra map[string]any) int64 {
	e.t.Helper()
	b := clientBody(fmt.Sprintf("EL-%d", e.seq.Add(1)), map[string]any{"proof_verified_on": recent})
	for k, v := range extra {
		b[k] = v
	}
	return e.must(201, worker, "POST", clientsURL, b).ID(e.t)
}

// check asks whether client qualifies for a device of kind.
func (e *env) check(token string, client int64, kind string) map[string]any {
	e.t.Helper()
	return e.must(200, token, "POST", check, map[string]any{"client_id": client, "device_kind": kind}).JSON(e.t)
}

// household is a client's household_id, as their caseworker sees it.
func (e *env) household(worker string, client int64) int64 {
	e.t.Helper()
	h, ok := e.must(200, worker, "GET", path(clientsURL+"/%d", client), nil).JSON(e.t)["household_id"].(float64)
	if !ok {
		e.t.Fatalf("client %d has no household_id", client)
	}
	return int64(h)
}

// expectOutcome fails unless the decision's outcome is want.
func expectOutcome(t testing.TB, d map[string]any, want string) {
	t.Helper()
	if d["outcome"] != want {
		b, _ := json.Marshal(d)
		t.Errorf("outcome %v, want %s\n%s", d["outcome"], want, b)
	}
}

// ruleResult is the result of the rule named name in a decision.
func ruleResult(t testing.TB, d map[string]any, name string) map[string]any {
	t.Helper()
	results, _ := d["rules"].([]any)
	for _, r := range results {
		if m := r.(map[string]any); m["rule"] == name {
			return m
		}
	}
	b, _ := json.Marshal(d)
	t.Fatalf("decision has no result for rule %s\n%s", name, b)
	return nil
}

// expectRule fails unless the named rule passed (or not) with a reason
// containing each of parts.
func expectRule(t testing.TB, d map[string]any, name string, passed bool, parts ...string) {
	t.Helper()
	r := ruleResult(t, d, name)
	if r["passed"] != passed {
		t.Errorf("rule %s: passed %v, want %v (reason %q)", name, r["passed"], passed, r["reason"])
	}
	reason, _ := r["reason"].(string)
	for _, p := range parts {
		if !strings.Contains(reason, p) {
			t.Errorf("rule %s: reason %q does not mention %q", name, reason, p)
		}
	}
}

func ruleNames(d map[string]any) []string {
	results, _ := d["rules"].([]any)
	out := make([]string, len(results))
	for i, r := range results {
		out[i], _ = r.(map[string]any)["rule"].(string)
	}
	return out
}

func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEligibilityClientFields(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)

		r := e.must(201, sw, "POST", clientsURL, clientBody("FIELDS-1", map[string]any{
			"programs": []string{"wic", "snap", "wic"}, "needs": []string{"no_home_internet", "disability", "disability"},
			"annual_income_cents": 2500000, "proof_verified_on": "2026-03-10", "date_of_birth": "1980-05-01"}))
		c := r.JSON(t)
		id := r.ID(t)
		if got := asJSON(t, c["programs"]); got != `["snap","wic"]` {
			t.Errorf("programs %s, want sorted without repeats", got)
		}
		if got := asJSON(t, c["needs"]); got != `["disability","no_home_internet"]` {
			t.Errorf("needs %s, want sorted without repeats", got)
		}
		if c["annual_income_cents"] != float64(2500000) || c["proof_verified_on"] != "2026-03-10" || c["date_of_birth"] != "1980-05-01" {
			t.Errorf("created client: income %v, proof %v, born %v", c["annual_income_cents"], c["proof_verified_on"], c["date_of_birth"])
		}
		// What was stored is what is read back.
		got := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)
		for _, k := range []string{"programs", "needs", "annual_income_cents", "proof_verified_on", "date_of_birth", "household_id"} {
			if asJSON(t, got[k]) != asJSON(t, c[k]) {
				t.Errorf("%s read back as %s, created as %s", k, asJSON(t, got[k]), asJSON(t, c[k]))
			}
		}
		created := oneEvent(t, e.historyAt(sw, path(clientsURL+"/%d/history", id)), "client.created")
		// It names the fields given, never their values.
		if ch := asJSON(t, created["changes"]); !strings.Contains(ch, `"annual_income_cents"`) || !strings.Contains(ch, `"programs"`) ||
			strings.Contains(ch, "snap") || strings.Contains(ch, "2500000") {
			t.Errorf("client.created records %s", ch)
		}

		// A client with nothing disclosed has empty lists and nulls.
		bare := e.must(201, sw, "POST", clientsURL, clientBody("FIELDS-2", nil)).JSON(t)
		if asJSON(t, bare["programs"]) != `[]` || asJSON(t, bare["needs"]) != `[]` || bare["annual_income_cents"] != nil ||
			bare["proof_verified_on"] != nil || bare["date_of_birth"] != nil {
			t.Errorf("a client created without the situation fields: %s", asJSON(t, bare))
		}

		// PATCH: the lists are normalized; a field left out stays.
		before := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)
		after := e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{
			"programs": []string{"tanf", "medicaid", "tanf"}, "needs": []string{"age_60_plus"}}).JSON(t)
		if asJSON(t, after["programs"]) != `["medicaid","tanf"]` || asJSON(t, after["needs"]) != `["age_60_plus"]` {
			t.Errorf("after PATCH: programs %s, needs %s", asJSON(t, after["programs"]), asJSON(t, after["needs"]))
		}
		sameExcept(t, before, after, "programs", "needs", "updated_at")
		expectFields(t, oneEvent(t, e.historyAt(sw, path(clientsURL+"/%d/history", id)), "client.updated"),
			[]string{"needs", "programs"}, "snap", "medicaid", "disability", "age_60_plus")

		// The same set in another order with repeats is no change at all.
		e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"programs": []string{"tanf", "medicaid", "medicaid"}})
		if n := countAction(e.historyAt(sw, path(clientsURL+"/%d/history", id)), "client.updated"); n != 1 {
			t.Errorf("re-sending the same programs recorded a change: %d client.updated events, want 1", n)
		}

		// annual_income_cents absent keeps the income; null clears it.
		r = e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"last_name": "Kept"})
		if inc := r.JSON(t)["annual_income_cents"]; inc != float64(2500000) {
			t.Errorf("a PATCH without annual_income_cents left it %v, want 2500000", inc)
		}
		r = e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), `{"annual_income_cents": null}`)
		if m := r.JSON(t); m["annual_income_cents"] != nil || m["last_name"] != "Kept" {
			t.Errorf("a PATCH with annual_income_cents null: income %v, last name %v", m["annual_income_cents"], m["last_name"])
		}
		if inc := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)["annual_income_cents"]; inc != nil {
			t.Errorf("income read back as %v after it was cleared", inc)
		}
		events := e.historyAt(sw, path(clientsURL+"/%d/history", id))
		expectFields(t, events[len(events)-1], []string{"annual_income_cents"}, "2500000")
		// 0 is a disclosed income, not "not disclosed".
		if inc := e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"annual_income_cents": 0}).JSON(t)["annual_income_cents"]; inc != float64(0) {
			t.Errorf("income 0 stored as %v", inc)
		}

		// Dates: today is allowed, tomorrow is not.
		for _, field := range []string{"proof_verified_on", "date_of_birth"} {
			e.must(200, sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{field: "2026-03-10"})
			r := e.do(sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{field: "2026-03-11"})
			expectError(t, r, 422, "invalid", field)
			expectFieldsExactly(t, r, field)
			if v := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)[field]; v != "2026-03-10" {
				t.Errorf("%s is %v after a refused future date", field, v)
			}
			r = e.do(sw, "POST", clientsURL, clientBody("FUTURE-"+field, map[string]any{field: "2027-01-01"}))
			expectError(t, r, 422, "invalid", field)
			expectFieldsExactly(t, r, field)
		}

		// Codes must be lowercase letters, digits and underscores.
		for _, bad := range [][]string{{"SNAP"}, {"snap", "no internet"}, {""}, {"1st"}} {
			for _, field := range []string{"programs", "needs"} {
				r := e.do(sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{field: bad})
				expectError(t, r, 422, "invalid", field)
				expectFieldsExactly(t, r, field)
			}
		}
		tooMany := make([]string, 31)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf("code_%d", i)
		}
		expectError(t, e.do(sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"programs": tooMany}), 422, "invalid", "programs")
		expectError(t, e.do(sw, "PATCH", path(clientsURL+"/%d", id), map[string]any{"annual_income_cents": -1}), 422, "invalid", "annual_income_cents")

		// Every bad field is named at once, and nothing changes.
		allBad := map[string]any{"annual_income_cents": -100, "programs": []string{"Snap"}, "needs": []string{"no home"},
			"proof_verified_on": "2026-04-01", "date_of_birth": "2030-01-01"}
		stable := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)
		updates := countAction(e.historyAt(sw, path(clientsURL+"/%d/history", id)), "client.updated")
		r = e.do(sw, "PATCH", path(clientsURL+"/%d", id), allBad)
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "annual_income_cents", "programs", "needs", "proof_verified_on", "date_of_birth")
		if now := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t); asJSON(t, now) != asJSON(t, stable) {
			t.Errorf("a refused PATCH changed the client:\nbefore %s\nafter  %s", asJSON(t, stable), asJSON(t, now))
		}
		if n := countAction(e.historyAt(sw, path(clientsURL+"/%d/history", id)), "client.updated"); n != updates {
			t.Errorf("a refused PATCH was recorded: %d client.updated events, had %d", n, updates)
		}
		total := e.totalAt(sw, clientsURL)
		allBad["household_id"] = 987654321
		r = e.do(sw, "POST", clientsURL, clientBody("ALLBAD-1", allBad))
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "annual_income_cents", "programs", "needs", "proof_verified_on", "date_of_birth", "household_id")
		if n := e.totalAt(sw, clientsURL); n != total {
			t.Errorf("a refused create added a client: %d, had %d", n, total)
		}
	})
}

func TestHouseholds(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, a := e.user(accounts.SocialWorker)
		_, b := e.user(accounts.SocialWorker)

		// A new client gets a household of their own.
		first := e.client(a)
		second := e.client(a)
		h1, h2 := e.household(a, first), e.household(a, second)
		if h1 == h2 {
			t.Fatalf("two new clients share household %d", h1)
		}
		// A client of the same worker can join it, at creation...
		joined := e.must(201, a, "POST", clientsURL, clientBody("HH-1", map[string]any{"household_id": h1})).ID(t)
		if h := e.household(a, joined); h != h1 {
			t.Errorf("a client created into household %d is in %d", h1, h)
		}
		// ...or later, and the move is recorded.
		if h := e.must(200, a, "PATCH", path(clientsURL+"/%d", second), map[string]any{"household_id": h1}).JSON(t)["household_id"]; h != float64(h1) {
			t.Errorf("after joining household %d the client is in %v", h1, h)
		}
		expectFields(t, oneEvent(t, e.historyAt(a, path(clientsURL+"/%d/history", second)), "client.updated"),
			[]string{"household_id"})

		// A household holding only another worker's clients cannot be joined,
		// nor one that does not exist.
		other := e.client(b)
		hb := e.household(b, other)
		total := e.totalAt(a, clientsURL)
		for _, h := range []int64{hb, 987654321} {
			r := e.do(a, "POST", clientsURL, clientBody(fmt.Sprintf("HH-X%d", h), map[string]any{"household_id": h}))
			expectError(t, r, 422, "invalid", "household_id")
			expectFieldsExactly(t, r, "household_id")
			r = e.do(a, "PATCH", path(clientsURL+"/%d", first), map[string]any{"household_id": h})
			expectError(t, r, 422, "invalid", "household_id")
			expectFieldsExactly(t, r, "household_id")
		}
		if n := e.totalAt(a, clientsURL); n != total {
			t.Errorf("refused creates added clients: %d, had %d", n, total)
		}
		if h := e.household(a, first); h != h1 {
			t.Errorf("after refused moves the client is in household %d, want %d", h, h1)
		}
		if n := countAction(e.historyAt(a, path(clientsURL+"/%d/history", first)), "client.updated"); n != 0 {
			t.Errorf("refused moves were recorded: %d client.updated events", n)
		}
		// Worker B cannot pull A's client into B's household either (A's
		// client is not found for B), and B's own client cannot join A's.
		expectError(t, e.do(b, "PATCH", path(clientsURL+"/%d", first), map[string]any{"household_id": hb}), 404, "not_found")
		expectError(t, e.do(b, "PATCH", path(clientsURL+"/%d", other), map[string]any{"household_id": h1}), 422, "invalid", "household_id")

		// An admin may join any household.
		if h := e.must(200, admin, "PATCH", path(clientsURL+"/%d", other), map[string]any{"household_id": h1}).JSON(t)["household_id"]; h != float64(h1) {
			t.Errorf("the admin moved B's client into household %d; it is in %v", h1, h)
		}

		// null leaves the household for a new one of the client's own.
		r := e.must(200, a, "PATCH", path(clientsURL+"/%d", joined), `{"household_id": null}`).JSON(t)
		if h, _ := r["household_id"].(float64); h == 0 || int64(h) == h1 || int64(h) == h2 || int64(h) == hb {
			t.Errorf("after leaving household %d the client is in %v, want a new household", h1, r["household_id"])
		}
		// A PATCH that does not name household_id keeps it.
		if h := e.must(200, a, "PATCH", path(clientsURL+"/%d", first), map[string]any{"household_size": 4}).JSON(t)["household_id"]; h != float64(h1) {
			t.Errorf("a PATCH without household_id moved the client to %v", h)
		}
	})
}

func TestEligibilityCheckIncome(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)

		// Exactly 200% of the 2026 guideline for 3 people qualifies.
		at := e.situated(sw, map[string]any{"annual_income_cents": limit3})
		d := e.check(sw, at, "laptop")
		expectOutcome(t, d, "eligible")
		if d["rule_set_version"] != float64(1) || d["decided_on"] != "2026-03-10" {
			t.Errorf("rule_set_version %v, decided_on %v; want 1 and 2026-03-10", d["rule_set_version"], d["decided_on"])
		}
		expectRule(t, d, "income_at_most_200_percent", true, "$54,640", "at or below", "2026 guideline", "3 people")
		expectRule(t, d, "income_or_program", true)
		wantRules := []string{"income_at_most_200_percent", "programs", "income_or_program", "proof_recent",
			"max_open_same_kind_per_client", "max_open_hotspot_per_household", "no_recent_loss"}
		if got := ruleNames(d); fmt.Sprint(got) != fmt.Sprint(wantRules) {
			t.Errorf("rules reported %v, want %v", got, wantRules)
		}

		// One dollar more does not.
		over := e.situated(sw, map[string]any{"annual_income_cents": limit3 + 100})
		d = e.check(sw, over, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "income_at_most_200_percent", false, "$54,641", "is above", "$54,640")
		expectRule(t, d, "income_or_program", false)
		expectRule(t, d, "programs", false)

		// Not disclosed: a person must review.
		undisclosed := e.situated(sw, nil)
		d = e.check(sw, undisclosed, "laptop")
		expectOutcome(t, d, "needs_review")
		if r := ruleResult(t, d, "income_at_most_200_percent"); r["unknown"] != true || r["passed"] != false ||
			!strings.Contains(r["reason"].(string), "not disclosed") {
			t.Errorf("undisclosed income: %v", r)
		}
		// Disclosing it decides: through the PATCH, the check sees the change.
		e.must(200, sw, "PATCH", path(clientsURL+"/%d", undisclosed), map[string]any{"annual_income_cents": limit3 + 100})
		expectOutcome(t, e.check(sw, undisclosed, "laptop"), "ineligible")

		// On SNAP: eligible whatever the income, disclosed or not.
		for _, income := range []any{int64(900_000_000), nil} {
			snap := e.situated(sw, map[string]any{"annual_income_cents": income, "programs": []string{"snap"}})
			d = e.check(sw, snap, "laptop")
			expectOutcome(t, d, "eligible")
			expectRule(t, d, "programs", true, "SNAP")
			expectRule(t, d, "income_or_program", true)
		}
		// A program that does not qualify does not help.
		d = e.check(sw, e.situated(sw, map[string]any{"annual_income_cents": limit3 + 100, "programs": []string{"local_pantry"}}), "laptop")
		expectOutcome(t, d, "ineligible")

		// Proof: verified 12 months ago to the day is recent enough; a day
		// earlier is not; never verified needs a person.
		d = e.check(sw, e.situated(sw, map[string]any{"annual_income_cents": limit3, "proof_verified_on": "2025-03-10"}), "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "proof_recent", true, "2025-03-10")
		d = e.check(sw, e.situated(sw, map[string]any{"annual_income_cents": limit3, "proof_verified_on": "2025-03-09"}), "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "proof_recent", false, "2025-03-09", "12 months")
		d = e.check(sw, e.situated(sw, map[string]any{"annual_income_cents": limit3, "programs": []string{"snap"}, "proof_verified_on": nil}), "laptop")
		expectOutcome(t, d, "needs_review")
		if r := ruleResult(t, d, "proof_recent"); r["unknown"] != true {
			t.Errorf("proof never verified: %v", r)
		}

		// A household of 9, beyond the table's 8 rows.
		nine := e.situated(sw, map[string]any{"household_size": 9, "annual_income_cents": limit9})
		d = e.check(sw, nine, "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "income_at_most_200_percent", true, "9 people", "$122,800")
		e.must(200, sw, "PATCH", path(clientsURL+"/%d", nine), map[string]any{"annual_income_cents": limit9 + 100})
		d = e.check(sw, nine, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "income_at_most_200_percent", false, "$122,801", "$122,800")

		// The decision date picks the table: in 2025 the 2025 table (200% for
		// 3 people: $53,300); in January 2027, before a 2027 table, the
		// latest loaded (2026).
		between := e.situated(sw, map[string]any{"annual_income_cents": 5400000})
		expectRule(t, e.check(sw, between, "laptop"), "income_at_most_200_percent", true, "$54,640")
		e.clock.Set(time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC))
		d = e.check(sw, between, "laptop")
		if d["decided_on"] != "2025-06-01" {
			t.Errorf("decided_on %v with the clock on 2025-06-01", d["decided_on"])
		}
		expectRule(t, d, "income_at_most_200_percent", false, "$53,300", "2025 guideline")
		e.clock.Set(time.Date(2027, 1, 5, 15, 0, 0, 0, time.UTC))
		d = e.check(sw, between, "laptop")
		if d["decided_on"] != "2027-01-05" {
			t.Errorf("decided_on %v with the clock on 2027-01-05", d["decided_on"])
		}
		expectRule(t, d, "income_at_most_200_percent", true, "$54,640", "2026 (the latest table loaded)")
		e.clock.Set(testNow)
	})
}

func TestEligibilityCheckLendingHistory(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		ok := map[string]any{"annual_income_cents": 2000000}

		// One open loan per kind per client.
		c := e.situated(sw, ok)
		e.refer(sw, c)
		expectOutcome(t, e.check(sw, c, "laptop"), "eligible")
		e.loan(co, c, e.device(co, "laptop"))
		d := e.check(sw, c, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "max_open_same_kind_per_client", false, "1 laptop")
		d = e.check(sw, c, "phone")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "max_open_same_kind_per_client", true)
		// The coordinator, who sees the referred client, gets the same answer.
		expectOutcome(t, e.check(co, c, "laptop"), "ineligible")

		// One hotspot per household, across its clients.
		first := e.situated(sw, ok)
		second := e.situated(sw, map[string]any{"annual_income_cents": 2000000, "household_id": e.household(sw, first)})
		outsider := e.situated(sw, ok)
		e.refer(sw, first)
		expectOutcome(t, e.check(sw, second, "hotspot"), "eligible")
		hotspot := e.loan(co, first, e.device(co, "hotspot"))
		d = e.check(sw, second, "hotspot")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "max_open_hotspot_per_household", false, "the household has 1 hotspot")
		expectRule(t, d, "max_open_same_kind_per_client", true)
		expectOutcome(t, e.check(sw, second, "laptop"), "eligible")
		expectOutcome(t, e.check(sw, outsider, "hotspot"), "eligible")
		// Returned, the hotspot no longer counts.
		e.must(200, co, "POST", path(v1+"/loans/%d/return", hotspot), map[string]any{"condition": "good"})
		expectOutcome(t, e.check(sw, second, "hotspot"), "eligible")

		// A lost, unrecovered device bars a new loan until it is recovered.
		loser := e.situated(sw, ok)
		e.refer(sw, loser)
		loan := e.loan(co, loser, e.device(co, "phone"))
		e.must(200, co, "POST", path(v1+"/loans/%d/lost", loan), map[string]any{"notes": "left on a bus"})
		d = e.check(sw, loser, "tablet")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "no_recent_loss", false, "2026-03-10")
		expectRule(t, d, "max_open_same_kind_per_client", true)
		e.must(200, co, "POST", path(v1+"/loans/%d/recovered", loan), map[string]any{"condition": "good"})
		d = e.check(sw, loser, "tablet")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "no_recent_loss", true)
	})
}

func TestEligibilityCheckRecordsOnlyARead(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		swID, sw := e.user(accounts.SocialWorker)
		_, admin := e.user(accounts.Admin)
		c := e.situated(sw, map[string]any{"annual_income_cents": 2000000})

		client := e.must(200, sw, "GET", path(clientsURL+"/%d", c), nil).JSON(t)
		hist := e.historyAt(sw, path(clientsURL+"/%d/history", c))
		before := e.world(admin)
		versions := e.totalAt(admin, rules+"/versions")

		d := e.check(sw, c, "laptop")
		expectOutcome(t, d, "eligible")
		if d["rule_set_version"] != float64(1) || d["decided_on"] != "2026-03-10" {
			t.Errorf("rule_set_version %v, decided_on %v", d["rule_set_version"], d["decided_on"])
		}

		// Nothing is saved but the record of the reading.
		after := e.world(admin)
		before.Events++
		if after != before {
			t.Errorf("a check changed the world: want %+v, got %+v", before, after)
		}
		if n := e.totalAt(admin, rules+"/versions"); n != versions {
			t.Errorf("a check added rule set versions: %d, had %d", n, versions)
		}
		if now := e.must(200, sw, "GET", path(clientsURL+"/%d", c), nil).JSON(t); asJSON(t, now) != asJSON(t, client) {
			t.Errorf("a check changed the client:\nbefore %s\nafter  %s", asJSON(t, client), asJSON(t, now))
		}
		events := e.historyAt(sw, path(clientsURL+"/%d/history", c))
		if len(events) != len(hist)+1 {
			t.Fatalf("history %v after a check, was %v", actionsOf(events), actionsOf(hist))
		}
		ev := events[len(events)-1]
		if ev["action"] != "client.eligibility_checked" || ev["actor_id"] != float64(swID) ||
			ev["subject_type"] != "client" || ev["subject_id"] != float64(c) || asJSON(t, ev["changes"]) != `{}` {
			t.Errorf("the check's event: %s", asJSON(t, ev))
		}

		// A refused check records nothing.
		for _, body := range []any{map[string]any{"client_id": c, "device_kind": "drone"}, map[string]any{"client_id": 987654321, "device_kind": "phone"}, `{"client_id":`} {
			e.do(sw, "POST", check, body)
		}
		if n := len(e.historyAt(sw, path(clientsURL+"/%d/history", c))); n != len(events) {
			t.Errorf("refused checks were recorded: %d events, had %d", n, len(events))
		}
	})
}

func TestEligibilityCheckInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		c := e.situated(sw, nil)

		r := e.do(sw, "POST", check, map[string]any{"device_kind": "drone"})
		expectError(t, r, 422, "invalid", "client_id", "device_kind")
		expectFieldsExactly(t, r, "client_id", "device_kind")
		r = e.do(sw, "POST", check, map[string]any{"client_id": c})
		expectError(t, r, 422, "invalid", "device_kind")
		expectFieldsExactly(t, r, "device_kind")
		r = e.do(sw, "POST", check, map[string]any{"client_id": c, "device_kind": "phone", "urgent": true})
		expectError(t, r, 422, "invalid", "urgent")
		// A client that does not exist is named like one the caller may not
		// see (TestCoordinatorReachesOnlyReferredClients).
		r = e.do(sw, "POST", check, map[string]any{"client_id": 987654321, "device_kind": "phone"})
		expectError(t, r, 422, "invalid", "client_id")
		if got := r.ErrorFields(t)["client_id"]; got != "no client you can see has this id" {
			t.Errorf("check of a client that does not exist: client_id %q", got)
		}
		expectError(t, e.do(sw, "POST", check, `{"client_id": 1,`), 400, "malformed")
		expectError(t, e.do(sw, "POST", check, `null`), 400, "malformed")
		// needs_data_plan is accepted.
		expectOutcome(t, e.must(200, sw, "POST", check, map[string]any{"client_id": c, "device_kind": "hotspot", "needs_data_plan": true}).JSON(t), "needs_review")
	})
}

func TestEligibilityRules(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		adminID, admin := e.user(accounts.Admin)
		_, sw := e.user(accounts.SocialWorker)

		// A new database has the default as version 1.
		cur := e.must(200, admin, "GET", rules, nil).JSON(t)
		def, err := eligibility.ParseRuleSet([]byte(eligibility.DefaultRuleSet))
		if err != nil {
			t.Fatal(err)
		}
		var wantRS any
		json.Unmarshal([]byte(asJSON(t, def)), &wantRS)
		if cur["version"] != float64(1) || cur["name"] != "DeviceBank default" || cur["created_by"] != nil {
			t.Errorf("current rules on a new database: %s", asJSON(t, cur))
		}
		if asJSON(t, cur["rule_set"]) != asJSON(t, wantRS) {
			t.Errorf("version 1 is\n%s\nwant the default\n%s", asJSON(t, cur["rule_set"]), asJSON(t, wantRS))
		}
		vs := e.must(200, admin, "GET", rules+"/versions", nil).JSON(t)
		if items, _ := vs["items"].([]any); vs["total"] != float64(1) || len(items) != 1 || items[0].(map[string]any)["version"] != float64(1) {
			t.Errorf("versions on a new database: %s", asJSON(t, vs))
		}

		// Clients to check under each version.
		at100 := e.situated(sw, map[string]any{"annual_income_cents": 2732000, "proof_verified_on": nil})
		over100 := e.situated(sw, map[string]any{"annual_income_cents": 2732100})
		snapRich := e.situated(sw, map[string]any{"annual_income_cents": 90_000_000, "programs": []string{"snap"}})
		expectOutcome(t, e.check(sw, at100, "laptop"), "needs_review") // no proof
		expectOutcome(t, e.check(sw, over100, "laptop"), "eligible")
		expectOutcome(t, e.check(sw, snapRich, "laptop"), "eligible")

		// An invalid rule set names every bad path and stores nothing.
		r := e.do(admin, "PUT", rules, map[string]any{"name": "", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 0},
			map[string]any{"kind": "proof_recent", "months": 200},
			map[string]any{"kind": "teleport"},
			map[string]any{"any_of": []any{}},
			map[string]any{"kind": "max_open_loans", "per": "street", "max": 1},
		}}})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "name", "rules.all_of[0].percent", "rules.all_of[1].months", "rules.all_of[2].kind",
			"rules.all_of[3].any_of", "rules.all_of[4].per")
		r = e.do(admin, "PUT", rules, map[string]any{"name": "Odd", "region": "48", "rules": map[string]any{"kind": "income", "percent": 100, "color": "red"}})
		expectError(t, r, 422, "invalid")
		expectError(t, e.do(admin, "PUT", rules, `{"name": "Broken", "rules": `), 400, "malformed")
		expectError(t, e.do(admin, "PUT", rules, `null`), 400, "malformed")
		expectError(t, e.do(admin, "PUT", rules, `[]`), 400, "malformed")
		if n := e.totalAt(admin, rules+"/versions"); n != 1 {
			t.Errorf("refused rule sets were stored: %d versions", n)
		}
		if v := e.must(200, admin, "GET", rules, nil).JSON(t)["version"]; v != float64(1) {
			t.Errorf("current version %v after refused replacements", v)
		}

		// A valid one becomes version 2, listed first.
		strict := map[string]any{"name": "Income only", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 100}}}}
		put := e.must(200, admin, "PUT", rules, strict).JSON(t)
		if put["version"] != float64(2) || put["name"] != "Income only" || put["created_by"] != float64(adminID) {
			t.Errorf("PUT answered %s", asJSON(t, put))
		}
		vs = e.must(200, admin, "GET", rules+"/versions", nil).JSON(t)
		items, _ := vs["items"].([]any)
		if vs["total"] != float64(2) || len(items) != 2 || items[0].(map[string]any)["version"] != float64(2) ||
			items[1].(map[string]any)["version"] != float64(1) || items[0].(map[string]any)["name"] != "Income only" {
			t.Errorf("versions after a replacement: %s", asJSON(t, vs))
		}
		cur = e.must(200, admin, "GET", rules, nil).JSON(t)
		if cur["version"] != float64(2) || asJSON(t, cur["rule_set"]) != asJSON(t, put["rule_set"]) {
			t.Errorf("current rules after a replacement: %s", asJSON(t, cur))
		}

		// Checks now follow version 2: income at or below 100% and nothing else.
		d := e.check(sw, at100, "laptop")
		expectOutcome(t, d, "eligible")
		if d["rule_set_version"] != float64(2) {
			t.Errorf("rule_set_version %v after the replacement, want 2", d["rule_set_version"])
		}
		if got := ruleNames(d); fmt.Sprint(got) != "[income_at_most_100_percent]" {
			t.Errorf("rules reported under version 2: %v", got)
		}
		expectRule(t, d, "income_at_most_100_percent", true, "100%", "$27,320")
		d = e.check(sw, over100, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "income_at_most_100_percent", false, "$27,321", "$27,320")
		expectOutcome(t, e.check(sw, snapRich, "laptop"), "ineligible")

		// Only admins read or replace the rules.
		expectError(t, e.do(sw, "PUT", rules, strict), 403, "forbidden")
		if n := e.totalAt(admin, rules+"/versions"); n != 2 {
			t.Errorf("%d versions after a refused PUT, want 2", n)
		}
	})
}

func TestEligibilityGuidelines(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, sw := e.user(accounts.SocialWorker)

		ids := func() []string {
			items, _ := e.must(200, admin, "GET", guides, nil).JSON(t)["items"].([]any)
			out := make([]string, len(items))
			for i, it := range items {
				out[i], _ = it.(map[string]any)["id"].(string)
			}
			return out
		}
		list := e.must(200, admin, "GET", guides, nil).JSON(t)
		items, _ := list["items"].([]any)
		if fmt.Sprint(ids()) != "[hhs-2025-48 hhs-2026-48]" || len(items) != 2 {
			t.Fatalf("shipped tables: %s", asJSON(t, list))
		}
		g26 := items[1].(map[string]any)
		if g26["year"] != float64(2026) || g26["region"] != "48" || asJSON(t, g26["amounts_cents"]) !=
			"[1596000,2164000,2732000,3300000,3868000,4436000,5004000,5572000]" || g26["each_additional_cents"] != float64(568000) {
			t.Errorf("the 2026 table: %s", asJSON(t, g26))
		}

		// An Alaska-like table: 150% of it for 6 people is
		// ($41,000 + 2 × $7,000) × 1.5 = $82,500.
		ak := map[string]any{"id": "ak-2026-test", "name": "Alaska 2026 (test)", "region": "AK", "year": 2026,
			"currency": "USD", "source": "test figures", "amounts_cents": []int64{2000000, 2700000, 3400000, 4100000},
			"each_additional_cents": 700000}
		r := e.must(201, admin, "POST", guides, ak).JSON(t)
		if r["id"] != "ak-2026-test" || r["region"] != "AK" || asJSON(t, r["amounts_cents"]) != "[2000000,2700000,3400000,4100000]" {
			t.Errorf("POST answered %s", asJSON(t, r))
		}
		if got := ids(); fmt.Sprint(got) != "[hhs-2025-48 hhs-2026-48 ak-2026-test]" {
			t.Errorf("tables after loading one: %v", got)
		}

		six := e.situated(sw, map[string]any{"household_size": 6, "annual_income_cents": 8250000})
		sixOver := e.situated(sw, map[string]any{"household_size": 6, "annual_income_cents": 8250100})
		// Under the default (region 48) the 2026 table applies: 200% for 6
		// is $88,720, so both qualify.
		expectRule(t, e.check(sw, sixOver, "phone"), "income_at_most_200_percent", true, "$88,720")

		e.must(200, admin, "PUT", rules, map[string]any{"name": "Alaska", "region": "AK", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 150}}}})
		d := e.check(sw, six, "phone")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "income_at_most_150_percent", true, "$82,500", "6 people", "2026 guideline")
		d = e.check(sw, sixOver, "phone")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "income_at_most_150_percent", false, "$82,501", "$82,500")

		// A region with no table at all is refused, named with the rule
		// set's other problems, and stores nothing.
		versions := e.totalAt(admin, rules+"/versions")
		rh := e.do(admin, "PUT", rules, map[string]any{"name": "Hawaii", "region": "HI", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 0}}}})
		expectError(t, rh, 422, "invalid")
		expectFieldsExactly(t, rh, "region", "rules.all_of[0].percent")
		if msg, _ := rh.ErrorFields(t)["region"].(string); !strings.Contains(msg, `"HI"`) || !strings.Contains(msg, "48, AK") {
			t.Errorf("region: %q", msg)
		}
		if n := e.totalAt(admin, rules+"/versions"); n != versions {
			t.Errorf("a refused rule set was stored: %d versions, were %d", n, versions)
		}
		// A region whose tables are all for later years cannot be decided
		// this year.
		hi := maps.Clone(ak)
		hi["id"], hi["region"], hi["year"] = "hi-2027-test", "HI", 2027
		e.must(201, admin, "POST", guides, hi)
		e.must(200, admin, "PUT", rules, map[string]any{"name": "Hawaii", "region": "HI", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 150}}}})
		d = e.check(sw, six, "phone")
		expectOutcome(t, d, "needs_review")
		expectRule(t, d, "income_at_most_150_percent", false, "region HI")

		// An id already loaded, or a shipped one, is a conflict on id.
		r2 := e.do(admin, "POST", guides, ak)
		expectError(t, r2, 409, "conflict", "id")
		shippedID := map[string]any{}
		for k, v := range ak {
			shippedID[k] = v
		}
		shippedID["id"] = "hhs-2026-48"
		expectError(t, e.do(admin, "POST", guides, shippedID), 409, "conflict", "id")

		// An invalid table names each bad field.
		bad := map[string]any{}
		for k, v := range ak {
			bad[k] = v
		}
		bad["id"], bad["source"], bad["amounts_cents"] = "ak-2027-test", "", []int64{2000000, 1900000, 2500000}
		r2 = e.do(admin, "POST", guides, bad)
		expectError(t, r2, 422, "invalid", "amounts_cents[1]", "source")
		expectFieldsExactly(t, r2, "amounts_cents[1]", "source")
		expectError(t, e.do(admin, "POST", guides, `{"id": "x",`), 400, "malformed")
		expectError(t, e.do(admin, "POST", guides, map[string]any{"id": "x", "amounts": []int{1}}), 422, "invalid", "amounts")
		expectError(t, e.do(sw, "POST", guides, map[string]any{"id": "sw-table"}), 403, "forbidden")
		if got := ids(); fmt.Sprint(got) != "[hhs-2025-48 hhs-2026-48 ak-2026-test hi-2027-test]" {
			t.Errorf("tables after refused loads: %v", got)
		}
	})
}

// inZone is an env whose services keep the agency's calendar in loc.
func inZone(t *testing.T, db *storage.DB, loc *time.Location) *env {
	t.Helper()
	e := newEnv(t, db)
	svc := testServices(t, db, app.Options{Now: e.clock.Now, Location: loc})
	return &env{t: t, db: db, svc: svc, clock: e.clock, httpc: e.httpc, base: serve(t, svc, web.Config{SignInPerMinute: 1000})}
}

// "Today" for the situation's dates is the agency's day, the day that
// decisions are dated and loans are due by, not the day in UTC.
func TestEligibilityDatesUseTheAgencyDay(t *testing.T) {
	for _, tc := range []struct {
		zone     *time.Location
		utc      time.Time
		today    string // in the agency's zone
		tomorrow string
	}{
		// 20:00 on 10 March in the agency (UTC-6): already 11 March in UTC.
		{time.FixedZone("UTC-6", -6*3600), time.Date(2026, 3, 11, 2, 0, 0, 0, time.UTC), "2026-03-10", "2026-03-11"},
		// 08:00 on 11 March in the agency (UTC+9): still 10 March in UTC.
		{time.FixedZone("UTC+9", 9*3600), time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC), "2026-03-11", "2026-03-12"},
	} {
		t.Run(tc.zone.String(), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *storage.DB) {
				e := inZone(t, db, tc.zone)
				e.clock.Set(tc.utc)
				_, sw := e.user(accounts.SocialWorker)
				c := e.situated(sw, map[string]any{"proof_verified_on": nil})
				if d := e.check(sw, c, "phone"); d["decided_on"] != tc.today {
					t.Errorf("decided_on %v, want the agency's day %s", d["decided_on"], tc.today)
				}
				for _, field := range []string{"proof_verified_on", "date_of_birth"} {
					if r := e.do(sw, "PATCH", path(clientsURL+"/%d", c), map[string]any{field: tc.today}); r.Status != 200 {
						t.Errorf("%s set to the agency's today %s: %d %s, want 200", field, tc.today, r.Status, r.Body)
					}
					if r := e.do(sw, "PATCH", path(clientsURL+"/%d", c), map[string]any{field: tc.tomorrow}); r.Status != 422 || r.ErrorFields(t)[field] == nil {
						t.Errorf("%s set to the agency's tomorrow %s: %d %s, want 422 on %s", field, tc.tomorrow, r.Status, trim(r.Body), field)
					}
				}
			})
		})
	}
}
