package web_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/eligibility"
)

// Device requests through the API: filing and the decision made at once,
// the coordinator's decisions, the waitlist and its order, devices that
// free up, and loans that fulfil requests.

const (
	requestsURL = v1 + "/requests"
	waitlistURL = v1 + "/waitlist"
)

// reqEnv is the staff the request tests act as.
type reqEnv struct {
	*env
	admin, co, sw string
}

func newReqEnv(e *env) *reqEnv {
	_, admin := e.user(accounts.Admin)
	_, co := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	return &reqEnv{env: e, admin: admin, co: co, sw: sw}
}

// eligible is a new client of the worker's on SNAP with recent proof, with
// the needs given.
func (r *reqEnv) eligible(needs ...string) int64 {
	r.t.Helper()
	if needs == nil {
		needs = []string{}
	}
	return r.situated(r.sw, map[string]any{"programs": []string{"snap"}, "needs": needs})
}

// file has the worker file a request and expects 201; extra fields are
// added to the body.
func (r *reqEnv) file(client int64, kind string, extra map[string]any) map[string]any {
	r.t.Helper()
	b := map[string]any{"client_id": client, "device_kind": kind}
	for k, v := range extra {
		b[k] = v
	}
	return r.must(201, r.sw, "POST", requestsURL, b).JSON(r.t)
}

// fileAs files a request and fails unless it was decided into status.
func (r *reqEnv) fileAs(status string, client int64, kind string, extra map[string]any) int64 {
	r.t.Helper()
	m := r.file(client, kind, extra)
	if m["status"] != status {
		r.t.Fatalf("request for client %d filed as %v, want %s: %s", client, m["status"], status, asJSON(r.t, m))
	}
	return int64(m["id"].(float64))
}

// req reads a request as the admin, who sees every one (a coordinator no
// longer sees a cancelled request of a client not otherwise referred).
func (r *reqEnv) req(id int64) map[string]any {
	r.t.Helper()
	return r.must(200, r.admin, "GET", path(requestsURL+"/%d", id), nil).JSON(r.t)
}

// expectStatus fails unless request id is in status.
func (r *reqEnv) expectStatus(id int64, status string) {
	r.t.Helper()
	if got := r.req(id)["status"]; got != status {
		r.t.Errorf("request %d is %v, want %s", id, got, status)
	}
}

// waitlist is the request ids on a waitlist, in order, with the entries.
func (r *reqEnv) waitlist(q string) ([]int64, []map[string]any) {
	r.t.Helper()
	m := r.must(200, r.co, "GET", waitlistURL+q, nil).JSON(r.t)
	items, _ := m["items"].([]any)
	ids := make([]int64, len(items))
	entries := make([]map[string]any, len(items))
	for i, it := range items {
		entries[i] = it.(map[string]any)
		ids[i] = int64(entries[i]["request_id"].(float64))
	}
	if !strings.Contains(q, "limit=") && int(m["total"].(float64)) != len(items) {
		r.t.Errorf("GET /waitlist%s: total %v, %d items", q, m["total"], len(items))
	}
	return ids, entries
}

// requestActions are the request.* actions in a client's history, in order.
func (r *reqEnv) requestActions(client int64) []string {
	r.t.Helper()
	var out []string
	for _, a := range actionsOf(r.historyAt(r.admin, path(clientsURL+"/%d/history", client))) {
		if len(a) > 8 && a[:8] == "request." {
			out = append(out, a)
		}
	}
	return out
}

func (r *reqEnv) expectActions(client int64, want ...string) {
	r.t.Helper()
	if got := r.requestActions(client); fmt.Sprint(got) != fmt.Sprint(want) {
		r.t.Errorf("client %d's request history: %v, want %v", client, got, want)
	}
}

// tick moves the clock on a minute, so that requests filed one after the
// other have different times.
func (r *reqEnv) tick() {
	r.clock.Set(r.clock.Now().Add(time.Minute))
}

func TestRequestFiling(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		r.device(r.co, "laptop")

		// Eligible with a laptop free: ready at once, with the decision.
		first := r.eligible()
		res := r.must(201, r.sw, "POST", requestsURL, map[string]any{"client_id": first, "device_kind": "laptop",
			"reason": "  job search  "})
		m := res.JSON(t)
		id := res.ID(t)
		if loc := res.Header.Get("Location"); loc != path(requestsURL+"/%d", id) {
			t.Errorf("Location %q, want %s", loc, path(requestsURL+"/%d", id))
		}
		if m["status"] != "ready" || m["client_id"] != float64(first) || m["device_kind"] != "laptop" || m["urgency"] != "normal" ||
			m["reason"] != "job search" || m["loan_id"] != nil || m["justification"] != "" || m["waitlisted_at"] != nil {
			t.Errorf("filed request: %s", asJSON(t, m))
		}
		d, _ := m["decision"].(map[string]any)
		expectOutcome(t, d, "eligible")
		if d["rule_set_version"] != float64(1) || d["decided_on"] != "2026-03-10" {
			t.Errorf("decision rule_set_version %v, decided_on %v; want 1, 2026-03-10", d["rule_set_version"], d["decided_on"])
		}
		expectRule(t, d, "programs", true, "SNAP")
		if m["priority"] != float64(10) || asJSON(t, m["priority_reasons"]) != `["normal urgency: +10"]` {
			t.Errorf("priority %v %s, want 10 [normal urgency: +10]", m["priority"], asJSON(t, m["priority_reasons"]))
		}
		// What was stored is what is read back.
		if got := r.req(id); asJSON(t, got) != asJSON(t, m) {
			t.Errorf("read back as\n%s\nfiled as\n%s", asJSON(t, got), asJSON(t, m))
		}

		// The one laptop is promised to that request: the next waits.
		second := r.eligible()
		m = r.file(second, "laptop", map[string]any{"urgency": "high"})
		if m["status"] != "waitlisted" || m["waitlisted_at"] == nil || m["priority"] != float64(30) {
			t.Errorf("second request for the one laptop: %s", asJSON(t, m))
		}
		expectOutcome(t, m["decision"].(map[string]any), "eligible")

		// Ineligible: denied, with the failing rule.
		rich := r.situated(r.sw, map[string]any{"annual_income_cents": limit3 + 100})
		m = r.file(rich, "laptop", nil)
		d = m["decision"].(map[string]any)
		if m["status"] != "denied" || m["waitlisted_at"] != nil {
			t.Errorf("ineligible request: %s", asJSON(t, m))
		}
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "income_at_most_200_percent", false, "$54,641")

		// Unknown income: a person must review.
		unknown := r.situated(r.sw, nil)
		m = r.file(unknown, "laptop", nil)
		if m["status"] != "needs_review" || m["waitlisted_at"] != nil {
			t.Errorf("request with undisclosed income: %s", asJSON(t, m))
		}
		expectOutcome(t, m["decision"].(map[string]any), "needs_review")

		// No laptop was given to the later requests: still one ready.
		if n := r.totalAt(r.co, requestsURL+"?status=ready&device_kind=laptop"); n != 1 {
			t.Errorf("%d ready laptop requests, want 1", n)
		}

		// A second open request for the same kind: 409, and no request.
		for _, c := range []int64{first, second, unknown} {
			res := r.do(r.sw, "POST", requestsURL, map[string]any{"client_id": c, "device_kind": "laptop"})
			expectError(t, res, 409, "conflict")
			if n := r.totalAt(r.co, path(requestsURL+"?client_id=%d", c)); n != 1 {
				t.Errorf("client %d has %d requests after a refused second one, want 1", c, n)
			}
		}
		// A denied request is closed: the client may ask again (and is
		// denied again); another kind is another request.
		r.fileAs("denied", rich, "laptop", nil)
		r.fileAs("waitlisted", first, "tablet", nil)

		// Bad input names the fields; nothing is filed.
		before := r.totalAt(r.co, requestsURL)
		res = r.do(r.sw, "POST", requestsURL, map[string]any{"client_id": first, "device_kind": "toaster", "urgency": "now"})
		expectError(t, res, 422, "invalid", "device_kind", "urgency")
		expectError(t, r.do(r.sw, "POST", requestsURL, map[string]any{"device_kind": "phone"}), 422, "invalid", "client_id")
		if n := r.totalAt(r.co, requestsURL); n != before {
			t.Errorf("%d requests after refused filings, want %d", n, before)
		}

		// The request records the rule set it was decided under.
		var rs map[string]any
		if err := json.Unmarshal([]byte(eligibility.DefaultRuleSet), &rs); err != nil {
			t.Fatal(err)
		}
		rs["name"] = "Second"
		if v := r.must(200, r.admin, "PUT", rules, rs).JSON(t)["version"]; v != float64(2) {
			t.Fatalf("new rule set version %v, want 2", v)
		}
		m = r.file(r.eligible(), "phone", nil)
		if d := m["decision"].(map[string]any); d["rule_set_version"] != float64(2) {
			t.Errorf("request filed under version 2 records version %v", d["rule_set_version"])
		}
		if d := r.req(id)["decision"].(map[string]any); d["rule_set_version"] != float64(1) {
			t.Errorf("the first request now records version %v, want 1", d["rule_set_version"])
		}
	})
}

func TestRequestStateMachine(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)

		// needs_review -> approved -> waitlisted (no laptop is free).
		reviewed := r.situated(r.sw, map[string]any{"programs": []string{"snap"}, "proof_verified_on": nil})
		id := r.fileAs("needs_review", reviewed, "laptop", nil)
		m := r.must(200, r.co, "POST", path(requestsURL+"/%d/approve", id), map[string]any{"justification": "saw the SNAP card"}).JSON(t)
		if m["status"] != "waitlisted" || m["justification"] != "saw the SNAP card" || m["waitlisted_at"] == nil {
			t.Errorf("approved with no laptop free: %s", asJSON(t, m))
		}
		r.expectStatus(id, "waitlisted")
		r.expectActions(reviewed, "request.filed", "request.approved", "request.waitlisted")
		approved := oneEvent(t, r.historyAt(r.admin, path(clientsURL+"/%d/history", reviewed)), "request.approved")
		// The justification is named, never quoted (it may speak of the client).
		if ch, _ := approved["changes"].(map[string]any); asJSON(t, ch["texts"]) != `["justification"]` || strings.Contains(asJSON(t, ch), "SNAP card") ||
			asJSON(t, ch["status"]) != `{"from":"needs_review","to":"approved"}` {
			t.Errorf("request.approved records %s", asJSON(t, approved["changes"]))
		}

		// Approving again, or approving a waitlisted request: 409.
		res := r.do(r.co, "POST", path(requestsURL+"/%d/approve", id), map[string]any{})
		expectError(t, res, 409, "conflict")
		r.expectStatus(id, "waitlisted")

		// With a laptop free, an approved review goes to ready (no
		// justification needed to approve); approving a ready request is 409.
		r.device(r.co, "laptop")
		// The laptop went to the waitlisted request.
		r.expectStatus(id, "ready")
		r.device(r.co, "laptop")
		other := r.situated(r.sw, map[string]any{"programs": []string{"snap"}, "proof_verified_on": nil})
		ready := r.fileAs("needs_review", other, "laptop", nil)
		if m := r.must(200, r.admin, "POST", path(requestsURL+"/%d/approve", ready), map[string]any{}).JSON(t); m["status"] != "ready" || m["justification"] != "" {
			t.Errorf("approved with a laptop free: %s", asJSON(t, m))
		}
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/approve", ready), map[string]any{"justification": "approve it twice"}), 409, "conflict")
		r.expectStatus(ready, "ready")
		r.expectActions(other, "request.filed", "request.approved", "request.ready")

		// Deny needs a justification of at least 10 characters.
		denyMe := r.situated(r.sw, nil)
		dn := r.fileAs("needs_review", denyMe, "phone", nil)
		for _, body := range []map[string]any{{}, {"justification": ""}, {"justification": "too short"}, {"justification": "     x     "}} {
			res := r.do(r.co, "POST", path(requestsURL+"/%d/deny", dn), body)
			expectError(t, res, 422, "invalid", "justification")
			expectFieldsExactly(t, res, "justification")
		}
		r.expectStatus(dn, "needs_review")
		m = r.must(200, r.co, "POST", path(requestsURL+"/%d/deny", dn), map[string]any{"justification": "  income not verifiable  "}).JSON(t)
		if m["status"] != "denied" || m["justification"] != "income not verifiable" {
			t.Errorf("denied: %s", asJSON(t, m))
		}
		r.expectStatus(dn, "denied")
		// Denying a denied request, or approving one: 409.
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/deny", dn), map[string]any{"justification": "deny it once more"}), 409, "conflict")
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/approve", dn), map[string]any{"justification": "approve instead"}), 409, "conflict")
		r.expectActions(denyMe, "request.filed", "request.denied")

		// Override of a denied request: justification required, then
		// approved against the rules and placed (no phone: waitlisted).
		rich := r.situated(r.sw, map[string]any{"annual_income_cents": limit3 + 100})
		ov := r.fileAs("denied", rich, "phone", nil)
		for _, body := range []map[string]any{{}, {"justification": "short"}} {
			res := r.do(r.co, "POST", path(requestsURL+"/%d/override", ov), body)
			expectError(t, res, 422, "invalid", "justification")
		}
		r.expectStatus(ov, "denied")
		m = r.must(200, r.co, "POST", path(requestsURL+"/%d/override", ov), map[string]any{"justification": "job lost last week"}).JSON(t)
		if m["status"] != "waitlisted" || m["justification"] != "job lost last week" {
			t.Errorf("overridden: %s", asJSON(t, m))
		}
		// The decision made at filing stays on record.
		expectOutcome(t, m["decision"].(map[string]any), "ineligible")
		r.expectActions(rich, "request.filed", "request.approved", "request.waitlisted")
		// Override is for denied requests only.
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/override", ov), map[string]any{"justification": "override it again"}), 409, "conflict")
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/override", ready), map[string]any{"justification": "override a ready one"}), 409, "conflict")
		r.expectStatus(ov, "waitlisted")
		r.expectStatus(ready, "ready")

		// Cancel: once; the second is 409. A social worker cancels their
		// own client's request.
		m = r.must(200, r.sw, "POST", path(requestsURL+"/%d/cancel", ov), map[string]any{}).JSON(t)
		if m["status"] != "cancelled" {
			t.Errorf("cancelled: %s", asJSON(t, m))
		}
		expectError(t, r.do(r.sw, "POST", path(requestsURL+"/%d/cancel", ov), map[string]any{}), 409, "conflict")
		expectError(t, r.do(r.admin, "POST", path(requestsURL+"/%d/cancel", ov), map[string]any{}), 409, "conflict")
		// The cancelled request was the client's only referral: the
		// coordinator sees neither it nor the client any more.
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/cancel", ov), map[string]any{}), 404, "not_found")
		expectError(t, r.do(r.co, "GET", path(clientsURL+"/%d", rich), nil), 404, "not_found")
		r.expectStatus(ov, "cancelled")
		// A cancelled or denied request cannot be decided again.
		expectError(t, r.do(r.admin, "POST", path(requestsURL+"/%d/deny", ov), map[string]any{"justification": "deny a cancelled one"}), 409, "conflict")
		expectError(t, r.do(r.admin, "POST", path(requestsURL+"/%d/override", ov), map[string]any{"justification": "revive a cancelled one"}), 409, "conflict")
		r.expectStatus(ov, "cancelled")
		// A denied request may still be cancelled (its referral ends), and
		// then no longer overridden.
		r.must(200, r.co, "POST", path(requestsURL+"/%d/cancel", dn), nil)
		r.expectStatus(dn, "cancelled")
		expectError(t, r.do(r.admin, "POST", path(requestsURL+"/%d/override", dn), map[string]any{"justification": "revive a cancelled one"}), 409, "conflict")
		r.expectActions(rich, "request.filed", "request.approved", "request.waitlisted", "request.cancelled")
		cancelled := oneEvent(t, r.historyAt(r.admin, path(clientsURL+"/%d/history", rich)), "request.cancelled")
		if ch, _ := cancelled["changes"].(map[string]any); asJSON(t, ch["status"]) != `{"from":"waitlisted","to":"cancelled"}` {
			t.Errorf("request.cancelled records %s", asJSON(t, cancelled["changes"]))
		}
		// Once closed, the client may ask again.
		r.fileAs("denied", rich, "phone", nil)

		// A request that does not exist: 404 for every action.
		for _, a := range []string{"approve", "deny", "override"} {
			expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/%s", 999999, a), map[string]any{"justification": "no such request"}), 404, "not_found")
		}
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/cancel", 999999), map[string]any{}), 404, "not_found")
		expectError(t, r.do(r.co, "GET", path(requestsURL+"/%d", 999999), nil), 404, "not_found")
	})
}

func TestWaitlistOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)

		// Filed a minute apart, none with a laptop free.
		early := r.eligible()
		earlyReq := r.fileAs("waitlisted", early, "laptop", nil)
		r.tick()
		later := r.eligible()
		laterReq := r.fileAs("waitlisted", later, "laptop", nil)
		r.tick()
		low := r.eligible()
		lowReq := r.fileAs("waitlisted", low, "laptop", map[string]any{"urgency": "low"})
		r.tick()
		fleeing := r.eligible("fleeing_violence")
		fleeingReq := r.fileAs("waitlisted", fleeing, "laptop", map[string]any{"urgency": "high"})
		r.tick()
		offline := r.eligible("no_home_internet", "disability")
		offlineReq := r.fileAs("waitlisted", offline, "laptop", nil)
		r.tick()
		phone := r.eligible()
		phoneReq := r.fileAs("waitlisted", phone, "phone", map[string]any{"urgency": "high"})

		ids, entries := r.waitlist("?kind=laptop")
		want := []int64{fleeingReq, offlineReq, earlyReq, laterReq, lowReq}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("laptop waitlist %v, want %v (fleeing, offline, early, later, low)", ids, want)
		}
		wantScores := []float64{70, 45, 10, 10, 0}
		wantReasons := []string{
			`["high urgency: +30","fleeing violence: +40"]`,
			`["normal urgency: +10","disability: +15","no home internet: +20"]`,
			`["normal urgency: +10"]`, `["normal urgency: +10"]`, `["low urgency: +0"]`}
		wantClients := []int64{fleeing, offline, early, later, low}
		for i, en := range entries {
			if en["position"] != float64(i+1) || en["score"] != wantScores[i] || asJSON(t, en["priority_reasons"]) != wantReasons[i] ||
				en["client_id"] != float64(wantClients[i]) || en["device_kind"] != "laptop" || en["waitlisted_at"] == nil {
				t.Errorf("waitlist entry %d: %s; want position %d, score %v, reasons %s, client %d",
					i, asJSON(t, en), i+1, wantScores[i], wantReasons[i], wantClients[i])
			}
		}
		// Equal scores: the earlier first.
		if entries[2]["waitlisted_at"].(string) >= entries[3]["waitlisted_at"].(string) {
			t.Errorf("equal scores: %v served before %v", entries[2]["waitlisted_at"], entries[3]["waitlisted_at"])
		}
		// Paging keeps the positions.
		if n := r.totalAt(r.co, waitlistURL+"?kind=laptop&limit=2&offset=2"); n != 5 {
			t.Errorf("a page of the laptop waitlist has total %d, want 5", n)
		}
		if ids, entries := r.waitlist("?kind=laptop&limit=2&offset=2"); fmt.Sprint(ids) != fmt.Sprint(want[2:4]) ||
			entries[0]["position"] != float64(3) || entries[1]["position"] != float64(4) {
			t.Errorf("page 2 of the laptop waitlist: %s", asJSON(t, entries))
		}
		// Every kind: each line numbered on its own.
		all := r.must(200, r.co, "GET", waitlistURL, nil).JSON(t)
		if all["total"] != float64(6) {
			t.Errorf("whole waitlist total %v, want 6", all["total"])
		}
		for _, it := range all["items"].([]any) {
			en := it.(map[string]any)
			if en["request_id"] == float64(phoneReq) && en["position"] != float64(1) {
				t.Errorf("the only phone request is at position %v", en["position"])
			}
			if en["request_id"] == float64(fleeingReq) && en["position"] != float64(1) {
				t.Errorf("the head of the laptop line is at position %v", en["position"])
			}
		}
		if ids, _ := r.waitlist("?kind=phone"); fmt.Sprint(ids) != fmt.Sprint([]int64{phoneReq}) {
			t.Errorf("phone waitlist %v, want [%d]", ids, phoneReq)
		}
		if ids, _ := r.waitlist("?kind=tablet"); len(ids) != 0 {
			t.Errorf("tablet waitlist %v, want empty", ids)
		}
		expectError(t, r.do(r.co, "GET", waitlistURL+"?kind=toaster", nil), 422, "invalid", "kind")

		// A laptop taken in: the head of the line is ready, the line shorter.
		r.tick()
		laptop := r.device(r.co, "laptop")
		r.expectStatus(fleeingReq, "ready")
		if ids, entries := r.waitlist("?kind=laptop"); fmt.Sprint(ids) != fmt.Sprint(want[1:]) || entries[0]["position"] != float64(1) {
			t.Errorf("after a laptop came in, the waitlist is %v, want %v from position 1", ids, want[1:])
		}
		r.expectStatus(phoneReq, "waitlisted")
		r.expectActions(fleeing, "request.filed", "request.waitlisted", "request.ready")

		// Cancelling the ready request passes its laptop to the next.
		r.must(200, r.sw, "POST", path(requestsURL+"/%d/cancel", fleeingReq), map[string]any{})
		r.expectStatus(fleeingReq, "cancelled")
		r.expectStatus(offlineReq, "ready")
		if ids, _ := r.waitlist("?kind=laptop"); fmt.Sprint(ids) != fmt.Sprint(want[2:]) {
			t.Errorf("after a ready request was cancelled, the waitlist is %v, want %v", ids, want[2:])
		}
		r.expectActions(fleeing, "request.filed", "request.waitlisted", "request.ready", "request.cancelled")
		r.expectActions(offline, "request.filed", "request.waitlisted", "request.ready")

		// Denying a ready request passes its laptop on too.
		r.must(200, r.co, "POST", path(requestsURL+"/%d/deny", offlineReq), map[string]any{"justification": "moved out of the area"})
		r.expectStatus(offlineReq, "denied")
		r.expectStatus(earlyReq, "ready")
		if ids, _ := r.waitlist("?kind=laptop"); fmt.Sprint(ids) != fmt.Sprint(want[3:]) {
			t.Errorf("after a ready request was denied, the waitlist is %v, want %v", ids, want[3:])
		}

		// The laptop goes out to early and comes back: while it is being
		// inspected nobody else is ready; inspected ready, the next is.
		loan := r.must(201, r.co, "POST", v1+"/loans", map[string]any{"client_id": early, "device_id": laptop,
			"due_on": "2026-04-10", "request_id": earlyReq}).ID(t)
		r.expectStatus(earlyReq, "fulfilled")
		r.must(200, r.co, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"})
		r.expectStatus(laterReq, "waitlisted")
		r.must(200, r.co, "POST", path(v1+"/devices/%d/inspection", laptop), map[string]any{"wiped": true, "outcome": "ready"})
		r.expectStatus(laterReq, "ready")
		r.expectStatus(lowReq, "waitlisted")
		if ids, _ := r.waitlist("?kind=laptop"); fmt.Sprint(ids) != fmt.Sprint([]int64{lowReq}) {
			t.Errorf("after the inspection, the waitlist is %v, want [%d]", ids, lowReq)
		}
		r.expectActions(later, "request.filed", "request.waitlisted", "request.ready")
		r.expectActions(early, "request.filed", "request.waitlisted", "request.ready", "request.fulfilled")
	})
}

func TestLoanFulfilsRequest(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		laptop := r.device(r.co, "laptop")
		client := r.eligible()
		id := r.fileAs("ready", client, "laptop", nil)
		other := r.eligible()
		waiting := r.fileAs("waitlisted", other, "laptop", nil)

		// nothingChanged fails unless the laptop is still free, never lent,
		// and both requests are as they were.
		nothingChanged := func(what string) {
			t.Helper()
			if st := r.must(200, r.co, "GET", path(v1+"/devices/%d", laptop), nil).JSON(t)["status"]; st != "available" {
				t.Errorf("after %s the laptop is %v, want available", what, st)
			}
			if n := r.totalAt(r.co, path(v1+"/loans?device_id=%d", laptop)); n != 0 {
				t.Errorf("after %s the laptop has %d loans, want 0", what, n)
			}
			if m := r.req(id); m["status"] != "ready" || m["loan_id"] != nil {
				t.Errorf("after %s the ready request is %v, loan %v", what, m["status"], m["loan_id"])
			}
			if m := r.req(waiting); m["status"] != "waitlisted" || m["loan_id"] != nil {
				t.Errorf("after %s the waitlisted request is %v, loan %v", what, m["status"], m["loan_id"])
			}
		}
		loanBody := func(c, req int64) map[string]any {
			return map[string]any{"client_id": c, "device_id": laptop, "due_on": "2026-04-10", "request_id": req}
		}

		// Another client's request: 422 on request_id.
		res := r.do(r.co, "POST", v1+"/loans", loanBody(other, id))
		expectError(t, res, 422, "invalid", "request_id")
		nothingChanged("a loan against another client's request")
		// A request that does not exist: 422.
		expectError(t, r.do(r.co, "POST", v1+"/loans", loanBody(other, 999999)), 422, "invalid", "request_id")
		nothingChanged("a loan against a request that does not exist")
		// A waitlisted request: 409.
		expectError(t, r.do(r.co, "POST", v1+"/loans", loanBody(other, waiting)), 409, "conflict")
		nothingChanged("a loan against a waitlisted request")
		// A request for another kind: 422.
		tabletReq := r.fileAs("waitlisted", client, "tablet", nil)
		expectError(t, r.do(r.co, "POST", v1+"/loans", loanBody(client, tabletReq)), 422, "invalid", "request_id")
		nothingChanged("a loan of a laptop against a tablet request")
		r.expectStatus(tabletReq, "waitlisted")

		// The client's own ready request: the loan is issued as any other
		// and the request is fulfilled by it.
		res = r.must(201, r.co, "POST", v1+"/loans", loanBody(client, id))
		loan := res.JSON(t)
		loanID := res.ID(t)
		if loan["status"] != "open" || loan["client_id"] != float64(client) || loan["device_id"] != float64(laptop) ||
			loan["due_on"] != "2026-04-10" || loan["renewals"] != float64(0) {
			t.Errorf("loan against a request: %s", asJSON(t, loan))
		}
		if got := r.must(200, r.co, "GET", path(v1+"/loans/%d", loanID), nil).JSON(t); got["status"] != "open" || got["device_id"] != float64(laptop) {
			t.Errorf("loan read back: %s", asJSON(t, got))
		}
		if st := r.must(200, r.co, "GET", path(v1+"/devices/%d", laptop), nil).JSON(t)["status"]; st != "on_loan" {
			t.Errorf("device lent against a request is %v, want on_loan", st)
		}
		m := r.req(id)
		if m["status"] != "fulfilled" || m["loan_id"] != float64(loanID) {
			t.Errorf("fulfilled request: status %v, loan_id %v; want fulfilled, %d", m["status"], m["loan_id"], loanID)
		}
		// The worker sees it fulfilled too.
		if m := r.must(200, r.sw, "GET", path(requestsURL+"/%d", id), nil).JSON(t); m["status"] != "fulfilled" || m["loan_id"] != float64(loanID) {
			t.Errorf("the worker reads the request as %v, loan %v", m["status"], m["loan_id"])
		}
		r.expectStatus(waiting, "waitlisted")
		r.expectActions(client, "request.filed", "request.ready", "request.filed", "request.waitlisted", "request.fulfilled")
		events := r.historyAt(r.admin, path(clientsURL+"/%d/history", client))
		issued := oneEvent(t, events, "loan.issued")
		if ch, _ := issued["changes"].(map[string]any); ch["request_id"] != float64(id) {
			t.Errorf("loan.issued records request_id %v, want %d", ch["request_id"], id)
		}
		acts := actionsOf(events)
		if i, j := slices.Index(acts, "loan.issued"), slices.Index(acts, "request.fulfilled"); i < 0 || j < i {
			t.Errorf("history %v: want loan.issued, then request.fulfilled", acts)
		}

		// Fulfilled is final: no cancel, deny, and no second loan against it.
		expectError(t, r.do(r.sw, "POST", path(requestsURL+"/%d/cancel", id), map[string]any{}), 409, "conflict")
		expectError(t, r.do(r.co, "POST", path(requestsURL+"/%d/deny", id), map[string]any{"justification": "changed my mind"}), 409, "conflict")
		second := r.device(r.co, "laptop")
		// The new laptop went to the waiting request.
		r.expectStatus(waiting, "ready")
		res = r.do(r.co, "POST", v1+"/loans", map[string]any{"client_id": client, "device_id": second, "due_on": "2026-04-10", "request_id": id})
		if res.Status != 409 && res.Status != 422 {
			t.Errorf("a second loan against a fulfilled request: %d %s, want 409 or 422", res.Status, res.Body)
		}
		if n := r.totalAt(r.co, path(v1+"/loans?device_id=%d", second)); n != 0 {
			t.Errorf("the refused second loan was issued: %d loans of the second laptop", n)
		}
		if m := r.req(id); m["status"] != "fulfilled" || m["loan_id"] != float64(loanID) {
			t.Errorf("after a refused second loan: status %v, loan %v", m["status"], m["loan_id"])
		}
	})
}

func TestRequestIdempotentFiling(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := newReqEnv(e)
		client := r.eligible()
		body := map[string]any{"client_id": client, "device_kind": "laptop", "urgency": "high"}
		first := r.must(201, r.sw, "POST", requestsURL, body, "Idempotency-Key", "file-1")
		if got := first.Header.Get("Idempotent-Replayed"); got != "" {
			t.Errorf("Idempotent-Replayed %q on the first answer", got)
		}
		for i := 0; i < 2; i++ {
			again := r.do(r.sw, "POST", requestsURL, body, "Idempotency-Key", "file-1")
			expectReplay(t, first, again)
		}
		if n := r.totalAt(r.co, path(requestsURL+"?client_id=%d", client)); n != 1 {
			t.Errorf("%d requests after a resend, want 1", n)
		}
		r.expectActions(client, "request.filed", "request.waitlisted")
		// Without the key, the same body is a second request: 409.
		expectError(t, r.do(r.sw, "POST", requestsURL, body), 409, "conflict")
	})
}
