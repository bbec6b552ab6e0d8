package web_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// Who reaches a client: a coordinator only those a social worker (or an
// admin) referred to the program, by a device request or a training place
// not since cancelled or withdrawn. A coordinator's own loans and bookings
// refer no one. Every route that names a client answers for one the caller
// may not see exactly as for one that does not exist.

// ghost is a client id that does not exist.
const ghost = 987654321

// clientProbe is one request that names a client, and the status each
// caller who may not see the client gets: the same answer, to the byte,
// whether the client exists or not.
type clientProbe struct {
	method string
	path   func(client int64) string
	body   func(client int64) any
	// want is the status for the coordinator, another social worker and a
	// funder, in that order.
	want [3]int
}

// referralWorld is the staff and records the access tests stand on.
type referralWorld struct {
	e                          *env
	admin, co, sw, swB, funder string
}

func newReferralWorld(e *env) *referralWorld {
	w := &referralWorld{e: e}
	_, w.admin = e.user(accounts.Admin)
	_, w.co = e.user(accounts.Coordinator)
	_, w.sw = e.user(accounts.SocialWorker)
	_, w.swB = e.user(accounts.SocialWorker)
	_, w.funder = e.user(accounts.Funder)
	return w
}

// session schedules a session ten days ahead at hour (UTC), as the
// coordinator, and returns its id.
func (w *referralWorld) session(hour int) int64 {
	w.e.t.Helper()
	start := time.Date(2026, 3, 20, hour, 0, 0, 0, time.UTC)
	return w.e.must(201, w.co, "POST", sessionsURL, map[string]any{"title": "Device basics", "topic": "device_basics",
		"starts_at": at(start), "ends_at": at(start.Add(time.Hour)), "capacity": 10}).ID(w.e.t)
}

// enroll books client into session as who and returns the place's status.
func (w *referralWorld) enroll(who string, session, client int64) string {
	w.e.t.Helper()
	return w.e.must(201, who, "POST", path(sessionsURL+"/%d/enrollments", session), map[string]any{"client_id": client}).JSON(w.e.t)["status"].(string)
}

// sees reports whether the coordinator may open the client's record, and
// checks that their client list says the same.
func (w *referralWorld) sees(client int64) bool {
	w.e.t.Helper()
	r := w.e.do(w.co, "GET", path(clientsURL+"/%d", client), nil)
	if r.Status != 200 && r.Status != 404 {
		w.e.t.Fatalf("coordinator GET client %d: %d %s", client, r.Status, r.Body)
	}
	listed := has(listIDs(w.e.t, w.e.must(200, w.co, "GET", clientsURL+"?limit=500", nil)), client)
	if listed != (r.Status == 200) {
		w.e.t.Errorf("client %d: the record answers %d but the coordinator's list has them: %v", client, r.Status, listed)
	}
	return r.Status == 200
}

func (w *referralWorld) expectSeen(client int64, want bool, why string) {
	w.e.t.Helper()
	if got := w.sees(client); got != want {
		w.e.t.Errorf("%s: the coordinator sees client %d: %v, want %v", why, client, got, want)
	}
}

// counts counts a client's recorded reads and checks, as the admin sees
// the history (which records only client.history_viewed).
func (w *referralWorld) counts(client int64) string {
	w.e.t.Helper()
	events := w.e.allHistoryAt(w.admin, path(clientsURL+"/%d/history", client))
	return fmt.Sprintf("viewed %d, checked %d", countAction(events, "client.viewed"), countAction(events, "client.eligibility_checked"))
}

// A client the coordinator once served, through a referral that has since
// lapsed, and who holds a loan and places the coordinator made, is out of
// the coordinator's reach on every route that names a client, exactly as a
// client that does not exist; so is it for another social worker and a
// funder. The coordinator still manages the loan itself.
func TestCoordinatorReachesOnlyReferredClients(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := newReferralWorld(e)
		sw, co := w.sw, w.co

		// A client of the worker's who was never referred: the
		// coordinator can neither book nor lend nor see them, and the
		// refused booking leaves no place (the item's case: nothing
		// stays visible).
		never := e.client(sw)
		s := w.session(9)
		wantNoClient(t, e.do(co, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": never}), "coordinator books a client no one referred")
		wantNoClient(t, e.do(co, "POST", v1+"/loans", map[string]any{"client_id": never, "device_id": e.device(co, "phone"), "due_on": "2026-04-10", "walk_in_justification": walkIn}),
			"coordinator lends to a client no one referred")
		wantNotFound(t, e.do(co, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s, never), nil), "coordinator withdraws a client no one referred")
		if n := e.totalAt(w.admin, path(sessionsURL+"/%d/enrollments", s)); n != 0 {
			t.Errorf("after the coordinator's refused booking the session has %d places", n)
		}
		w.expectSeen(never, false, "a client no one referred")

		// The stranger: referred by the worker's request, then served by
		// the coordinator (a place in a session to come, one in a session
		// under way, a loan, a reminder), then the request is cancelled.
		stranger := e.client(sw)
		req := e.refer(sw, stranger)
		w.expectSeen(stranger, true, "after the worker's request")
		now := e.clock.Now()
		e.clock.Set(now.Add(-48 * time.Hour))
		started := e.must(201, co, "POST", sessionsURL, map[string]any{"title": "Under way", "topic": "device_basics",
			"starts_at": at(now.Add(-time.Hour)), "ends_at": at(now.Add(time.Hour)), "capacity": 10}).ID(t)
		w.enroll(co, started, stranger)
		e.clock.Set(now)
		w.enroll(co, s, stranger)
		loan := e.loan(co, stranger, e.device(co, "phone"))
		note := e.must(201, co, "POST", path(v1+"/loans/%d/reminders", loan), map[string]any{}).ID(t)
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", req), map[string]any{})
		w.expectSeen(stranger, false, "after the worker cancelled their only request, with the coordinator's places and loan")

		// What the probes below must not reach is there: the worker sees it.
		for _, p := range []string{path(v1+"/loans?client_id=%d", stranger), path(v1+"/requests?client_id=%d", stranger),
			path(v1+"/notifications?client_id=%d", stranger)} {
			if n := e.totalAt(sw, p); n != 1 {
				t.Fatalf("worker GET %s: %d items, want 1", p, n)
			}
		}
		if r := e.must(200, sw, "GET", path(clientsURL+"/%d/training", stranger), nil).JSON(t); len(r["sessions"].([]any)) != 2 {
			t.Fatalf("the stranger's training record: %v", r)
		}

		free := e.device(co, "tablet")
		later := w.session(15)
		probes := []clientProbe{
			{"GET", func(c int64) string { return path(clientsURL+"/%d", c) }, nil, [3]int{404, 404, 403}},
			{"GET", func(c int64) string { return path(clientsURL+"/%d/history", c) }, nil, [3]int{404, 404, 403}},
			{"PATCH", func(c int64) string { return path(clientsURL+"/%d", c) }, func(int64) any { return map[string]any{"last_name": "X"} }, [3]int{403, 404, 403}},
			{"GET", func(c int64) string { return path(clientsURL+"/%d/training", c) }, nil, [3]int{404, 404, 403}},
			{"GET", func(c int64) string { return path(clientsURL+"/%d/training/certificates/device_basics", c) }, nil, [3]int{404, 404, 403}},
			{"POST", func(int64) string { return check }, func(c int64) any { return map[string]any{"client_id": c, "device_kind": "phone"} }, [3]int{422, 422, 403}},
			{"POST", func(int64) string { return v1 + "/requests" }, func(c int64) any { return map[string]any{"client_id": c, "device_kind": "phone"} }, [3]int{403, 422, 403}},
			{"POST", func(int64) string { return v1 + "/loans" }, func(c int64) any {
				return map[string]any{"client_id": c, "device_id": free, "due_on": "2026-04-10", "walk_in_justification": walkIn}
			}, [3]int{422, 403, 403}},
			{"POST", func(int64) string { return path(sessionsURL+"/%d/enrollments", later) }, func(c int64) any { return map[string]any{"client_id": c} }, [3]int{422, 422, 403}},
			{"DELETE", func(c int64) string { return path(sessionsURL+"/%d/enrollments/%d", s, c) }, nil, [3]int{404, 404, 403}},
			{"POST", func(int64) string { return path(sessionsURL+"/%d/attendance", started) }, func(c int64) any {
				return map[string]any{"client_id": c, "status": "present", "hours": 1}
			}, [3]int{422, 403, 403}},
			{"GET", func(c int64) string { return path(v1+"/loans?client_id=%d", c) }, nil, [3]int{200, 200, 403}},
			{"GET", func(c int64) string { return path(v1+"/requests?client_id=%d", c) }, nil, [3]int{200, 200, 403}},
			{"GET", func(c int64) string { return path(v1+"/notifications?client_id=%d", c) }, nil, [3]int{200, 200, 403}},
		}
		before := w.counts(stranger)
		for _, p := range probes {
			for i, who := range []string{co, w.swB, w.funder} {
				label := fmt.Sprintf("%s %s as %s", p.method, p.path(stranger), []string{"coordinator", "worker B", "funder"}[i])
				var body, ghostBody any
				if p.body != nil {
					body, ghostBody = p.body(stranger), p.body(ghost)
				}
				got := e.do(who, p.method, p.path(stranger), body)
				none := e.do(who, p.method, p.path(ghost), ghostBody)
				if got.Status != p.want[i] {
					t.Errorf("%s: %d %s, want %d", label, got.Status, trim(got.Body), p.want[i])
				}
				if got.Status != none.Status || !bytes.Equal(got.Body, none.Body) {
					t.Errorf("%s answers otherwise than for a client that does not exist:\n  %d %s\n  %d %s", label, got.Status, got.Body, none.Status, none.Body)
				}
				if got.Status == 200 {
					if ids := listIDs(t, got); len(ids) != 0 {
						t.Errorf("%s lists %v", label, ids)
					}
				}
			}
		}
		// ...and no probe changed anything or was recorded as a read.
		if after := w.counts(stranger); after != before {
			t.Errorf("refused probes were recorded: %s, was %s", after, before)
		}
		if d := e.must(200, w.admin, "GET", path(v1+"/devices/%d", free), nil).JSON(t); d["status"] != "available" {
			t.Errorf("a refused loan took the device: %v", d["status"])
		}
		for _, it := range e.must(200, w.admin, "GET", path(sessionsURL+"/%d/enrollments", s), nil).JSON(t)["items"].([]any) {
			if p := it.(map[string]any); p["client_id"] == float64(stranger) && p["status"] != "enrolled" {
				t.Errorf("after refused withdrawals the stranger's place is %v", p["status"])
			}
		}
		if n := e.totalAt(w.admin, path(sessionsURL+"/%d/enrollments", later)); n != 0 {
			t.Errorf("refused bookings left %d places", n)
		}
		// Searching by name or case number finds nothing either.
		caseNumber := e.must(200, sw, "GET", path(clientsURL+"/%d", stranger), nil).JSON(t)["case_number"].(string)
		if ids := listIDs(t, e.must(200, co, "GET", clientsURL+"?q="+q(caseNumber), nil)); len(ids) != 0 {
			t.Errorf("the coordinator's search for the stranger's case number: %v", ids)
		}

		// The coordinator still manages the loan and its reminders: the
		// loan by its id, a reminder sent about it, the outbox; but a
		// reminder's text, which names the client, is not shown.
		e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil)
		if !has(listIDs(t, e.must(200, co, "GET", v1+"/loans", nil)), loan) {
			t.Errorf("the coordinator's loans lack loan %d", loan)
		}
		sent := e.must(201, co, "POST", path(v1+"/loans/%d/reminders", loan), map[string]any{}).JSON(t)
		if body, _ := sent["body"].(string); body != "" {
			t.Errorf("remind now shows the coordinator the text sent to a client they may not see: %q", body)
		}
		for _, n := range e.notes(co, path("?loan_id=%d", loan)) {
			if body, _ := n["body"].(string); body != "" {
				t.Errorf("the outbox shows the coordinator reminder %v's text: %q", n["id"], body)
			}
		}
		if notes := e.notes(sw, path("?loan_id=%d", loan)); len(notes) != 2 || notes[1]["id"] != float64(note) || notes[1]["body"] == "" {
			t.Errorf("the worker's view of the reminders: %v", notes)
		}
		e.must(200, co, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"})

		// A place the worker books refers the client again.
		w.enroll(sw, later, stranger)
		w.expectSeen(stranger, true, "after the worker booked a place")
		e.must(200, co, "GET", path(clientsURL+"/%d/training", stranger), nil)
		if ids := listIDs(t, e.must(200, co, "GET", path(v1+"/loans?client_id=%d", stranger), nil)); len(ids) != 1 || ids[0] != loan {
			t.Errorf("the coordinator's loans of a referred client: %v, want [%d]", ids, loan)
		}
	})
}

// What refers a client, and for how long.
func TestReferralsLastWhileTheirRequestOrPlaceDoes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := newReferralWorld(e)
		sw, co, admin := w.sw, w.co, w.admin

		// A worker's request refers the client; cancelled, it no longer
		// does, and the coordinator no longer sees the request either (it
		// quotes the client's situation).
		asked := e.client(sw)
		req := e.refer(sw, asked)
		w.expectSeen(asked, true, "a worker's request")
		e.must(200, co, "GET", path(v1+"/requests/%d", req), nil)
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", req), map[string]any{})
		w.expectSeen(asked, false, "a cancelled request")
		wantNotFound(t, e.do(co, "GET", path(v1+"/requests/%d", req), nil), "coordinator GET a cancelled request of a client not referred")
		if has(listIDs(t, e.must(200, co, "GET", v1+"/requests?limit=500", nil)), req) {
			t.Errorf("the coordinator's requests list the cancelled request %d", req)
		}

		// A denied request still refers: the coordinator may override it.
		rich := e.situated(sw, map[string]any{"annual_income_cents": limit3 + 100})
		denied := e.must(201, sw, "POST", v1+"/requests", map[string]any{"client_id": rich, "device_kind": "laptop"}).JSON(t)
		if denied["status"] != "denied" {
			t.Fatalf("request for a client over the limit: %v", denied)
		}
		w.expectSeen(rich, true, "a denied request")
		// Filed by mistake and denied at once, it can still be undone: the
		// worker cancels it, and the client is out of reach again.
		e.must(200, sw, "POST", path(v1+"/requests/%v/cancel", denied["id"]), nil)
		w.expectSeen(rich, false, "a denied request, cancelled")

		// A place the worker books refers the client; withdrawn, it no
		// longer does.
		s1, s2 := w.session(9), w.session(12)
		booked := e.client(sw)
		w.enroll(sw, s1, booked)
		w.expectSeen(booked, true, "a place the worker booked")
		// The coordinator may now book them too, but that place refers no
		// one: when the worker withdraws theirs, the client is out of reach,
		// the coordinator's place notwithstanding.
		w.enroll(co, s2, booked)
		e.must(200, sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s1, booked), nil)
		w.expectSeen(booked, false, "the worker's place withdrawn, the coordinator's kept")
		wantNotFound(t, e.do(co, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s2, booked), nil), "coordinator withdraws a client no longer referred")
		wantNotFound(t, e.do(co, "GET", path(clientsURL+"/%d/training", booked), nil), "coordinator reads the training of a client no longer referred")

		// A worker's place in a session the agency cancels still refers:
		// the client is asked to call and book another.
		s3 := w.session(15)
		called := e.client(sw)
		w.enroll(sw, s3, called)
		e.must(200, co, "POST", path(sessionsURL+"/%d/cancel", s3), map[string]any{})
		w.expectSeen(called, true, "a place in a cancelled session")

		// An admin's request or booking refers like a worker's.
		byAdmin := e.client(sw)
		e.must(201, admin, "POST", v1+"/requests", map[string]any{"client_id": byAdmin, "device_kind": "other"})
		w.expectSeen(byAdmin, true, "an admin's request")
		placedByAdmin := e.client(sw)
		w.enroll(admin, w.session(18), placedByAdmin)
		w.expectSeen(placedByAdmin, true, "an admin's booking")

		// An admin's loan does not: only requests and places refer.
		lentByAdmin := e.client(sw)
		e.loan(admin, lentByAdmin, e.device(co, "phone"))
		w.expectSeen(lentByAdmin, false, "an admin's loan")

		// The referrals were made by role: a worker later made a
		// coordinator takes nothing with them, and their requests still
		// refer.
		keeperID, keeper := e.user(accounts.SocialWorker)
		kept := e.client(keeper)
		e.refer(keeper, kept)
		e.must(200, admin, "PATCH", path(v1+"/users/%d", keeperID), map[string]any{"role": "coordinator"})
		w.expectSeen(kept, true, "a request by a worker since made a coordinator")
	})
}

// A loan names its request in a body field: a request the coordinator may
// not see (of a client out of their reach) answers exactly as one that does
// not exist, telling neither that it exists nor what kind it asked for. So
// does another referred client's request, which the loan may not take.
func TestLoanNamesRequestsOutOfReachAsMissing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := newReferralWorld(e)
		sw, co := w.sw, w.co
		served := e.referred(sw)
		hidden := e.client(sw)
		cancelled := e.must(201, sw, "POST", v1+"/requests", map[string]any{"client_id": hidden, "device_kind": "laptop"}).ID(t)
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", cancelled), map[string]any{})
		sameKind := e.must(201, sw, "POST", v1+"/requests", map[string]any{"client_id": hidden, "device_kind": "phone"}).ID(t)
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", sameKind), map[string]any{})
		w.expectSeen(hidden, false, "a cancelled request")
		other := e.referred(sw)
		visible := e.must(201, sw, "POST", v1+"/requests", map[string]any{"client_id": other, "device_kind": "phone"}).ID(t)

		free := e.device(co, "phone")
		issue := func(request int64) *response {
			return e.do(co, "POST", v1+"/loans", map[string]any{"client_id": served, "device_id": free, "due_on": "2026-04-10", "request_id": request})
		}
		none := issue(ghost)
		if none.Status != 422 {
			t.Fatalf("a loan against a request that does not exist: %d %s", none.Status, none.Body)
		}
		for _, r := range []struct {
			what string
			id   int64
		}{{"a cancelled request of a client out of reach, for another kind", cancelled},
			{"a cancelled request of a client out of reach, for the device's kind", sameKind},
			{"another referred client's request", visible}} {
			if got := issue(r.id); got.Status != none.Status || !bytes.Equal(got.Body, none.Body) {
				t.Errorf("a loan against %s answers otherwise than for one that does not exist:\n  %d %s\n  %d %s", r.what, got.Status, got.Body, none.Status, none.Body)
			}
		}
		if d := e.must(200, co, "GET", path(v1+"/devices/%d", free), nil).JSON(t); d["status"] != "available" {
			t.Errorf("a refused loan took the device: %v", d["status"])
		}
	})
}

// Reading a client's training (the whole record, or one place of theirs)
// shows attendance, hours and assessments: it is recorded in the client's
// history like a read of the record, once per read; a refused read is not.
func TestTrainingReadsAreRecorded(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w := newReferralWorld(e)
		client := e.client(w.sw)
		s := w.session(9)
		w.enroll(w.sw, s, client)
		hist := path(clientsURL+"/%d/history", client)
		reads := func() int { return countAction(e.allHistoryAt(w.admin, hist), "client.training_viewed") }
		if n := reads(); n != 0 {
			t.Fatalf("%d training reads recorded before any", n)
		}
		e.must(200, w.sw, "GET", path(clientsURL+"/%d/training", client), nil)
		e.must(200, w.co, "GET", path(sessionsURL+"/%d/enrollments/%d", s, client), nil)
		wantNotFound(t, e.do(w.swB, "GET", path(clientsURL+"/%d/training", client), nil), "another worker reads the training")
		wantNotFound(t, e.do(w.swB, "GET", path(sessionsURL+"/%d/enrollments/%d", s, client), nil), "another worker reads the place")
		if n := reads(); n != 2 {
			t.Fatalf("%d training reads recorded, want 2 (the refused ones are not)", n)
		}
	})
}
