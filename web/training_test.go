package web_test

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/documents/doctest"
)

// Training through the API: sessions with a capacity and a waitlist,
// overlaps, cancellation, attendance and its history, clients' training
// records, and the training eligibility rule.

const sessionsURL = v1 + "/training/sessions"

// trainers is an admin, a coordinator (who schedules and records) and a
// social worker (whose clients take the classes).
type trainers struct {
	e                *env
	admin, coord, sw string
}

func newTrainers(e *env) *trainers {
	_, admin := e.user(accounts.Admin)
	_, coord := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	return &trainers{e: e, admin: admin, coord: coord, sw: sw}
}

// at is a time on testNow's calendar as RFC 3339.
func at(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// session schedules a session from start for length with capacity seats;
// extra fields are added or replaced.
func (tr *trainers) session(start time.Time, length time.Duration, capacity int, extra map[string]any) int64 {
	tr.e.t.Helper()
	b := map[string]any{"title": "Device basics", "topic": "device_basics", "language": "en", "location": "Library",
		"starts_at": at(start), "ends_at": at(start.Add(length)), "capacity": capacity}
	for k, v := range extra {
		b[k] = v
	}
	return tr.e.must(201, tr.coord, "POST", sessionsURL, b).ID(tr.e.t)
}

// pastSession schedules a session that starts at start (in the past of the
// clock) and enrolls clients in it while it was still ahead, then puts the
// clock back where it was.
func (tr *trainers) pastSession(start time.Time, length time.Duration, topic string, clients ...int64) int64 {
	tr.e.t.Helper()
	now := tr.e.clock.Now()
	tr.e.clock.Set(start.Add(-24 * time.Hour))
	defer tr.e.clock.Set(now)
	id := tr.session(start, length, 10, map[string]any{"topic": topic})
	for _, c := range clients {
		if st := tr.enroll(id, c); st != "enrolled" {
			tr.e.t.Fatalf("client %d enrolled in session %d as %s", c, id, st)
		}
	}
	return id
}

// enroll has the social worker enroll their client and returns the status
// the place was given.
func (tr *trainers) enroll(session, client int64) string {
	tr.e.t.Helper()
	r := tr.e.must(201, tr.sw, "POST", path(sessionsURL+"/%d/enrollments", session), map[string]any{"client_id": client})
	m := r.JSON(tr.e.t)
	if m["client_id"] != float64(client) || m["session_id"] != float64(session) {
		tr.e.t.Fatalf("enrollment of client %d in session %d answered %s", client, session, r.Body)
	}
	return m["status"].(string)
}

// getSession reads a session as the coordinator.
func (tr *trainers) getSession(id int64) map[string]any {
	tr.e.t.Helper()
	return tr.e.must(200, tr.coord, "GET", path(sessionsURL+"/%d", id), nil).JSON(tr.e.t)
}

// places maps each client with a place in session to its status.
func (tr *trainers) places(session int64) map[int64]string {
	tr.e.t.Helper()
	items, _ := tr.e.must(200, tr.coord, "GET", path(sessionsURL+"/%d/enrollments?limit=100", session), nil).JSON(tr.e.t)["items"].([]any)
	out := map[int64]string{}
	for _, it := range items {
		m := it.(map[string]any)
		out[int64(m["client_id"].(float64))] = m["status"].(string)
	}
	return out
}

func (tr *trainers) expectPlaces(t *testing.T, session int64, want map[int64]string) {
	t.Helper()
	if got := tr.places(session); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("session %d places: %v, want %v", session, got, want)
	}
}

func (tr *trainers) expectEnrolledCount(t *testing.T, session int64, want int) {
	t.Helper()
	if got := tr.getSession(session)["enrolled_count"]; got != float64(want) {
		t.Errorf("session %d enrolled_count %v, want %d", session, got, want)
	}
}

// attend records attendance as the coordinator.
func (tr *trainers) attend(session int64, body map[string]any) *response {
	tr.e.t.Helper()
	return tr.e.do(tr.coord, "POST", path(sessionsURL+"/%d/attendance", session), body)
}

// record is a client's training record, as their social worker sees it.
func (tr *trainers) record(client int64) map[string]any {
	tr.e.t.Helper()
	return tr.e.must(200, tr.sw, "GET", path(clientsURL+"/%d/training", client), nil).JSON(tr.e.t)
}

// nextWeek is a session start a week after testNow.
var nextWeek = time.Date(2026, 3, 17, 17, 0, 0, 0, time.UTC)

func TestTrainingCapacityAndWaitlist(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		s := tr.session(nextWeek, 2*time.Hour, 2, nil)
		c1, c2, c3, c4, c5 := e.client(tr.sw), e.client(tr.sw), e.client(tr.sw), e.client(tr.sw), e.client(tr.sw)

		// Two seats: the third client waits.
		for i, c := range []int64{c1, c2, c3} {
			want := []string{"enrolled", "enrolled", "waitlisted"}[i]
			if got := tr.enroll(s, c); got != want {
				t.Errorf("client %d of 3 in a session of 2: %s, want %s", i+1, got, want)
			}
		}
		tr.expectEnrolledCount(t, s, 2)
		tr.expectPlaces(t, s, map[int64]string{c1: "enrolled", c2: "enrolled", c3: "waitlisted"})

		// The same client twice is refused and takes nothing.
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": c3}), 409, "conflict")
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": c1}), 409, "conflict")
		tr.expectEnrolledCount(t, s, 2)

		// A withdrawal frees a seat for the first on the waitlist.
		r := e.must(200, tr.sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s, c1), nil).JSON(t)
		if r["status"] != "withdrawn" || r["client_id"] != float64(c1) {
			t.Errorf("withdrawal answered %v, want client %d withdrawn", r, c1)
		}
		tr.expectPlaces(t, s, map[int64]string{c1: "withdrawn", c2: "enrolled", c3: "enrolled"})
		tr.expectEnrolledCount(t, s, 2)
		// Withdrawing again: there is no place left to withdraw.
		expectError(t, e.do(tr.sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s, c1), nil), 404, "not_found")

		// Withdrawing from the waitlist frees no seat.
		if got := tr.enroll(s, c4); got != "waitlisted" {
			t.Fatalf("c4: %s, want waitlisted", got)
		}
		if got := tr.enroll(s, c5); got != "waitlisted" {
			t.Fatalf("c5: %s, want waitlisted", got)
		}
		e.must(200, tr.sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s, c4), nil)
		tr.expectEnrolledCount(t, s, 2)
		tr.expectPlaces(t, s, map[int64]string{c1: "withdrawn", c2: "enrolled", c3: "enrolled", c4: "withdrawn", c5: "waitlisted"})

		// The capacity cannot drop below the seats taken.
		expectError(t, e.do(tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"capacity": 1}), 422, "invalid", "capacity")
		if got := tr.getSession(s)["capacity"]; got != float64(2) {
			t.Errorf("after a refused shrink the capacity is %v, want 2", got)
		}

		// Raising it seats the waitlist, in order, as far as seats go.
		c6 := e.client(tr.sw)
		if got := tr.enroll(s, c6); got != "waitlisted" {
			t.Fatalf("c6: %s, want waitlisted", got)
		}
		p := e.must(200, tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"capacity": 3}).JSON(t)
		if p["capacity"] != float64(3) || p["enrolled_count"] != float64(3) {
			t.Errorf("PATCH capacity 3 answered capacity %v, enrolled_count %v; want 3, 3", p["capacity"], p["enrolled_count"])
		}
		tr.expectPlaces(t, s, map[int64]string{c1: "withdrawn", c2: "enrolled", c3: "enrolled", c4: "withdrawn", c5: "enrolled", c6: "waitlisted"})
		e.must(200, tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"capacity": 10})
		tr.expectPlaces(t, s, map[int64]string{c1: "withdrawn", c2: "enrolled", c3: "enrolled", c4: "withdrawn", c5: "enrolled", c6: "enrolled"})
		tr.expectEnrolledCount(t, s, 4)

		// A withdrawn client may enroll again.
		if got := tr.enroll(s, c1); got != "enrolled" {
			t.Errorf("c1 re-enrolling in a session with free seats: %s, want enrolled", got)
		}
		tr.expectEnrolledCount(t, s, 5)

		// The promotions are in the clients' history.
		if n := countAction(e.historyAt(tr.sw, path(clientsURL+"/%d/history", c3)), "training.promoted"); n != 1 {
			t.Errorf("client c3 has %d training.promoted events, want 1", n)
		}
		if n := countAction(e.historyAt(tr.sw, path(clientsURL+"/%d/history", c5)), "training.promoted"); n != 1 {
			t.Errorf("client c5 has %d training.promoted events, want 1", n)
		}
	})
}

func TestTrainingEnrollOverlap(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		first := tr.session(nextWeek, 2*time.Hour, 5, nil)                                                   // 17:00-19:00
		overlapping := tr.session(nextWeek.Add(time.Hour), 2*time.Hour, 5, map[string]any{"topic": "email"}) // 18:00-20:00
		inside := tr.session(nextWeek.Add(30*time.Minute), time.Hour, 5, map[string]any{"topic": "email"})   // 17:30-18:30
		before := tr.session(nextWeek.Add(-2*time.Hour), 2*time.Hour, 5, map[string]any{"topic": "email"})   // 15:00-17:00
		after := tr.session(nextWeek.Add(2*time.Hour), 2*time.Hour, 5, map[string]any{"topic": "safety"})    // 19:00-21:00
		c := e.client(tr.sw)
		if got := tr.enroll(first, c); got != "enrolled" {
			t.Fatalf("first enrollment: %s", got)
		}
		for _, s := range []int64{overlapping, inside} {
			expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": c}), 409, "conflict")
			tr.expectPlaces(t, s, map[int64]string{})
			tr.expectEnrolledCount(t, s, 0)
		}
		// Back to back on either side is not an overlap.
		if got := tr.enroll(before, c); got != "enrolled" {
			t.Errorf("a session ending as the first starts: %s, want enrolled", got)
		}
		if got := tr.enroll(after, c); got != "enrolled" {
			t.Errorf("a session starting as the first ends: %s, want enrolled", got)
		}
		// A waitlisted place holds its time too.
		full := tr.session(nextWeek.Add(48*time.Hour), time.Hour, 1, nil)
		tr.enroll(full, e.client(tr.sw))
		d := e.client(tr.sw)
		if got := tr.enroll(full, d); got != "waitlisted" {
			t.Fatalf("second client of a session of 1: %s", got)
		}
		same := tr.session(nextWeek.Add(48*time.Hour), time.Hour, 5, map[string]any{"topic": "email"})
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", same), map[string]any{"client_id": d}), 409, "conflict")
		// Once withdrawn, the time is free again.
		e.must(200, tr.sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", first, c), nil)
		if got := tr.enroll(inside, c); got != "enrolled" {
			t.Errorf("after withdrawing from the first, a session within it: %s, want enrolled", got)
		}
		// An overlapping session that was cancelled does not count.
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/cancel", full), map[string]any{})
		if got := tr.enroll(same, d); got != "enrolled" {
			t.Errorf("after the clashing session was cancelled: %s, want enrolled", got)
		}
	})
}

func TestTrainingEnrollStartedOrCancelled(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		c := e.client(tr.sw)

		// A session that starts now has started: no one joins it.
		now := tr.session(testNow.Add(time.Hour), time.Hour, 5, nil)
		e.clock.Set(testNow.Add(time.Hour))
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", now), map[string]any{"client_id": c}), 409, "conflict")
		e.clock.Set(testNow.Add(time.Hour - time.Second))
		if got := tr.enroll(now, c); got != "enrolled" {
			t.Errorf("a second before the start: %s, want enrolled", got)
		}
		e.clock.Set(testNow)
		started := tr.pastSession(testNow.Add(-30*time.Minute), time.Hour, "email")
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", started), map[string]any{"client_id": e.client(tr.sw)}), 409, "conflict")
		tr.expectPlaces(t, started, map[int64]string{})

		// Cancelling a session cancels every place in it.
		s := tr.session(nextWeek, time.Hour, 1, nil)
		a, b := e.client(tr.sw), e.client(tr.sw)
		tr.enroll(s, a)
		if got := tr.enroll(s, b); got != "waitlisted" {
			t.Fatalf("b: %s, want waitlisted", got)
		}
		r := e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/cancel", s), map[string]any{}).JSON(t)
		if r["status"] != "cancelled" || r["enrolled_count"] != float64(0) {
			t.Errorf("cancel answered status %v, enrolled_count %v; want cancelled, 0", r["status"], r["enrolled_count"])
		}
		tr.expectPlaces(t, s, map[int64]string{a: "cancelled", b: "cancelled"})
		if got := tr.getSession(s); got["status"] != "cancelled" || got["enrolled_count"] != float64(0) {
			t.Errorf("cancelled session reads %v, %v", got["status"], got["enrolled_count"])
		}
		// ...and it is closed to enrollment, edits and another cancel.
		expectError(t, e.do(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": e.client(tr.sw)}), 409, "conflict")
		expectError(t, e.do(tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"capacity": 5}), 409, "conflict")
		expectError(t, e.do(tr.coord, "POST", path(sessionsURL+"/%d/cancel", s), map[string]any{}), 409, "conflict")
		tr.expectPlaces(t, s, map[int64]string{a: "cancelled", b: "cancelled"})
		// A cancelled place cannot be withdrawn.
		expectError(t, e.do(tr.sw, "DELETE", path(sessionsURL+"/%d/enrollments/%d", s, a), nil), 404, "not_found")
		// The client's record shows the cancelled place, with no hours.
		rec := tr.record(a)
		sessions, _ := rec["sessions"].([]any)
		if len(sessions) != 1 || sessions[0].(map[string]any)["enrollment"].(map[string]any)["status"] != "cancelled" ||
			rec["total_hours"] != float64(0) {
			t.Errorf("record of a client whose session was cancelled: %s", asJSON(t, rec))
		}
		// Unknown sessions are not found.
		expectError(t, e.do(tr.coord, "POST", sessionsURL+"/999999/cancel", map[string]any{}), 404, "not_found")
		expectError(t, e.do(tr.sw, "POST", sessionsURL+"/999999/enrollments", map[string]any{"client_id": a}), 404, "not_found")
	})
}

func TestTrainingAttendance(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		s := tr.session(nextWeek, 2*time.Hour, 5, nil)
		c, other := e.client(tr.sw), e.client(tr.sw)
		tr.enroll(s, c)
		present := map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": true}
		odd, third := tr.session(nextWeek, 59*time.Minute+52*time.Second, 5, nil), e.client(tr.sw)
		tr.enroll(odd, third)

		// Not before the session starts.
		expectError(t, tr.attend(s, present), 409, "conflict")
		e.clock.Set(nextWeek.Add(-time.Second))
		expectError(t, tr.attend(s, present), 409, "conflict")
		e.clock.Set(nextWeek.Add(3 * time.Hour))
		history := path(clientsURL+"/%d/history", c)
		if n := countAction(e.historyAt(tr.sw, history), "training.attendance_recorded"); n != 0 {
			t.Fatalf("refused attendance recorded %d events", n)
		}

		// Hours beyond the session's length, or for an absent client, are refused.
		expectError(t, tr.attend(s, map[string]any{"client_id": c, "status": "present", "hours": 2.5}), 422, "invalid", "hours")
		expectError(t, tr.attend(s, map[string]any{"client_id": c, "status": "absent", "hours": 1}), 422, "invalid", "hours")
		expectError(t, tr.attend(s, map[string]any{"client_id": c, "status": "present", "hours": -1}), 422, "invalid", "hours")
		expectError(t, tr.attend(s, map[string]any{"client_id": c, "status": "asleep", "hours": 1}), 422, "invalid", "status")
		// The session's length is written for people: 59 minutes 52
		// seconds is "0.99 hours" (rounded down: what is shown is allowed).
		r := tr.attend(odd, map[string]any{"client_id": third, "status": "present", "hours": 1})
		expectError(t, r, 422, "invalid", "hours")
		if msg := r.ErrorFields(t)["hours"]; msg != "must be at most the session's length (0.99 hours)" {
			t.Errorf("hours past a session of 59m52s: %q", msg)
		}
		// Hours are shown with at most two decimals; the minutes credited
		// stay exact (0.99 hours is 59 minutes, shown as 0.98 hours).
		r = tr.attend(odd, map[string]any{"client_id": third, "status": "present", "hours": 0.99})
		if r.Status != 200 || r.JSON(t)["hours"] != 0.98 {
			t.Errorf("attendance of 0.99 hours answered %d %s, want hours 0.98", r.Status, r.Body)
		}
		if got, _ := tr.record(third)["sessions"].([]any)[0].(map[string]any)["enrollment"].(map[string]any); got["hours"] != 0.98 {
			t.Errorf("the record shows %s, want hours 0.98", asJSON(t, got))
		}
		credited := oneEvent(t, e.historyAt(tr.sw, path(clientsURL+"/%d/history", third)), "training.attendance_recorded")
		expectChanges(t, credited, map[string][2]any{"attendance": {"", "present"}, "minutes": {0, 59}})
		// Only an enrolled client has attendance.
		expectError(t, tr.attend(s, map[string]any{"client_id": other, "status": "present", "hours": 1}), 422, "invalid", "client_id")
		if rec := tr.record(c); rec["total_hours"] != float64(0) {
			t.Errorf("after refused attendance, total_hours %v", rec["total_hours"])
		}

		// Exactly the session's length is fine.
		r = tr.attend(s, present)
		if r.Status != 200 {
			t.Fatalf("attendance: %d %s", r.Status, r.Body)
		}
		if m := r.JSON(t); m["attendance"] != "present" || m["hours"] != float64(2) || m["module_completed"] != true {
			t.Errorf("attendance answered %s", r.Body)
		}
		ev := oneEvent(t, e.historyAt(tr.sw, history), "training.attendance_recorded")
		expectChanges(t, ev, map[string][2]any{"attendance": {"", "present"}, "minutes": {0, 120}, "module_completed": {false, true}})

		// An edit after the fact is a second event with old and new values.
		e.clock.Set(nextWeek.Add(72 * time.Hour))
		r = tr.attend(s, map[string]any{"client_id": c, "status": "late", "hours": 1.5, "module_completed": true})
		if r.Status != 200 || r.JSON(t)["hours"] != 1.5 || r.JSON(t)["attendance"] != "late" {
			t.Fatalf("correction: %d %s", r.Status, r.Body)
		}
		var edits []map[string]any
		for _, ev := range e.historyAt(tr.sw, history) {
			if ev["action"] == "training.attendance_recorded" {
				edits = append(edits, ev)
			}
		}
		if len(edits) != 2 {
			t.Fatalf("%d training.attendance_recorded events after a correction, want 2", len(edits))
		}
		var second map[string]any
		for _, ev := range edits {
			if ch, _ := ev["changes"].(map[string]any); ch != nil && ch["attendance"] != nil &&
				ch["attendance"].(map[string]any)["from"] == "present" {
				second = ev
			}
		}
		if second == nil {
			t.Fatalf("no event records the change from present: %s", asJSON(t, edits))
		}
		expectChanges(t, second, map[string][2]any{"attendance": {"present", "late"}, "minutes": {120, 90}})
		if rec := tr.record(c); rec["total_hours"] != 1.5 {
			t.Errorf("after the correction total_hours is %v, want 1.5", rec["total_hours"])
		}
		// The same record again changes nothing and records nothing.
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": c, "status": "late", "hours": 1.5, "module_completed": true})
		if n := countAction(e.historyAt(tr.sw, history), "training.attendance_recorded"); n != 2 {
			t.Errorf("a repeated record added events: %d, want 2", n)
		}
		// Marked absent: the hours and the module go.
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": c, "status": "absent", "hours": 0})
		if rec := tr.record(c); rec["total_hours"] != float64(0) || len(rec["completed_modules"].([]any)) != 0 {
			t.Errorf("after marking absent: total_hours %v, modules %v", rec["total_hours"], rec["completed_modules"])
		}
	})
}

func TestTrainingClientRecordTotals(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		c := e.client(tr.sw)
		basics := tr.pastSession(testNow.Add(-72*time.Hour), 2*time.Hour, "device_basics", c)
		email := tr.pastSession(testNow.Add(-48*time.Hour), 2*time.Hour, "email", c)
		safety := tr.pastSession(testNow.Add(-24*time.Hour), 3*time.Hour, "online_safety", c)
		booked := tr.session(nextWeek, time.Hour, 5, map[string]any{"topic": "banking"})
		tr.enroll(booked, c)

		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", basics), map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": true})
		// Failed the assessment: the hours count, the module does not.
		r := e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", email),
			map[string]any{"client_id": c, "status": "present", "hours": 1.5, "module_completed": true, "assessment_score": 60, "pass_mark": 70})
		if r.JSON(t)["module_completed"] != false {
			t.Errorf("a score of 60 against a pass mark of 70 completed the module: %s", r.Body)
		}
		// Exactly the pass mark passes.
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", safety),
			map[string]any{"client_id": c, "status": "late", "hours": 0.25, "module_completed": true, "assessment_score": 70, "pass_mark": 70})

		rec := tr.record(c)
		if rec["client_id"] != float64(c) || rec["total_hours"] != 3.75 {
			t.Errorf("total_hours %v, want 3.75 (2 + 1.5 + 0.25)", rec["total_hours"])
		}
		if got := fmt.Sprint(rec["completed_modules"]); got != "[device_basics online_safety]" {
			t.Errorf("completed_modules %s, want [device_basics online_safety]", got)
		}
		sessions, _ := rec["sessions"].([]any)
		var order []int64
		for _, s := range sessions {
			order = append(order, int64(s.(map[string]any)["session"].(map[string]any)["id"].(float64)))
		}
		if fmt.Sprint(order) != fmt.Sprint([]int64{basics, email, safety, booked}) {
			t.Errorf("record sessions %v, want by start %v", order, []int64{basics, email, safety, booked})
		}
		// The coordinator and admin read the same record.
		for _, who := range []string{tr.coord, tr.admin} {
			other := e.must(200, who, "GET", path(clientsURL+"/%d/training", c), nil).JSON(t)
			if other["total_hours"] != 3.75 {
				t.Errorf("another reader sees total_hours %v", other["total_hours"])
			}
		}
		expectError(t, e.do(tr.sw, "GET", clientsURL+"/999999/training", nil), 404, "not_found")
		// A client with no training has an empty record.
		empty := tr.record(e.client(tr.sw))
		if empty["total_hours"] != float64(0) || len(empty["sessions"].([]any)) != 0 || len(empty["completed_modules"].([]any)) != 0 {
			t.Errorf("record of an untrained client: %s", asJSON(t, empty))
		}
	})
}

// trainingRules requires 2 hours in 12 months and the device_basics module.
var trainingRules = map[string]any{"name": "Trained first", "region": "48", "rules": map[string]any{"all_of": []any{
	map[string]any{"name": "trained", "kind": "training", "hours": 2, "months": 12, "modules": []string{"device_basics"}},
}}}

func TestTrainingEligibilityRule(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		e.must(200, tr.admin, "PUT", rules, trainingRules)

		c := e.client(tr.sw)
		d := e.check(tr.sw, c, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "trained", false, "0 of 2 required hours completed in the last 12 months", "modules still to complete: device_basics")

		s := tr.pastSession(testNow.Add(-48*time.Hour), 2*time.Hour, "device_basics", c)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": true})
		d = e.check(tr.sw, c, "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "trained", true, "2 of 2 required hours completed in the last 12 months", "completed the modules device_basics")

		// Exactly at the hours boundary passes; a minute short fails. The
		// module was completed in both cases.
		short := e.client(tr.sw)
		s = tr.pastSession(testNow.Add(-24*time.Hour), 2*time.Hour, "device_basics", short)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": short, "status": "present", "hours": 119.0 / 60, "module_completed": true})
		d = e.check(tr.sw, short, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "trained", false, "1.98 of 2 required hours", "completed the modules device_basics")

		// Hours from two sessions add up; a late arrival's hours count.
		split := e.client(tr.sw)
		s1 := tr.pastSession(testNow.Add(-10*24*time.Hour), time.Hour, "device_basics", split)
		s2 := tr.pastSession(testNow.Add(-9*24*time.Hour), 2*time.Hour, "email", split)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s1), map[string]any{"client_id": split, "status": "late", "hours": 0.5, "module_completed": true})
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s2), map[string]any{"client_id": split, "status": "present", "hours": 1.5})
		d = e.check(tr.sw, split, "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "trained", true, "2 of 2 required hours")

		// The window: a session exactly 12 months ago counts, one a day
		// older does not.
		edge, old := e.client(tr.sw), e.client(tr.sw)
		twelve := time.Date(2025, 3, 10, 17, 0, 0, 0, time.UTC)
		for _, x := range []struct {
			client int64
			start  time.Time
		}{{edge, twelve}, {old, twelve.Add(-24 * time.Hour)}} {
			s := tr.pastSession(x.start, 2*time.Hour, "device_basics", x.client)
			e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": x.client, "status": "present", "hours": 2, "module_completed": true})
		}
		d = e.check(tr.sw, edge, "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "trained", true, "2 of 2 required hours")
		d = e.check(tr.sw, old, "laptop")
		expectOutcome(t, d, "ineligible")
		// ...but the module, completed once, still counts.
		expectRule(t, d, "trained", false, "0 of 2 required hours", "completed the modules device_basics")

		// Hours without the module are not enough.
		nomod := e.client(tr.sw)
		s = tr.pastSession(testNow.Add(-5*24*time.Hour), 3*time.Hour, "email", nomod)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s), map[string]any{"client_id": nomod, "status": "present", "hours": 3, "module_completed": true})
		d = e.check(tr.sw, nomod, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "trained", false, "3 of 2 required hours", "modules still to complete: device_basics")

		// A rule set whose training rule is malformed is refused.
		bad := map[string]any{"name": "Bad", "region": "48", "rules": map[string]any{"kind": "training", "months": 12}}
		expectError(t, e.do(tr.admin, "PUT", rules, bad), 422, "invalid")
	})
}

// An hours-only rule at a fractional boundary: exactly 90 minutes passes,
// 89 fails.
func TestTrainingEligibilityExactBoundary(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		e.must(200, tr.admin, "PUT", rules, map[string]any{"name": "Hours only", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"name": "trained", "kind": "training", "hours": 1.5, "months": 6},
		}}})
		exact, short := e.client(tr.sw), e.client(tr.sw)
		for _, x := range []struct {
			client  int64
			minutes int
		}{{exact, 90}, {short, 89}} {
			s := tr.pastSession(testNow.Add(-24*time.Hour), 2*time.Hour, "email", x.client)
			e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s),
				map[string]any{"client_id": x.client, "status": "present", "hours": float64(x.minutes) / 60})
		}
		d := e.check(tr.sw, exact, "laptop")
		expectOutcome(t, d, "eligible")
		expectRule(t, d, "trained", true, "1.5 of 1.5 required hours completed in the last 6 months")
		d = e.check(tr.sw, short, "laptop")
		expectOutcome(t, d, "ineligible")
		expectRule(t, d, "trained", false, "1.48 of 1.5 required hours")
	})
}

func TestTrainingConcurrentEnrollment(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		s := tr.session(nextWeek, time.Hour, 3, nil)
		clients := make([]int64, 10)
		for i := range clients {
			clients[i] = e.client(tr.sw)
		}
		var wg sync.WaitGroup
		results := make([]*response, len(clients))
		errs := make([]error, len(clients))
		start := make(chan struct{})
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = e.tryDo(tr.sw, "POST", path(sessionsURL+"/%d/enrollments", s), map[string]any{"client_id": c})
			}()
		}
		close(start)
		wg.Wait()
		count := map[string]int{}
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("enrollment %d: %v", i, errs[i])
			}
			if r.Status != 201 {
				t.Errorf("enrollment %d: %d %s", i, r.Status, r.Body)
				continue
			}
			count[r.JSON(t)["status"].(string)]++
		}
		if count["enrolled"] != 3 || count["waitlisted"] != 7 {
			t.Errorf("10 clients at once for 3 seats: %v, want 3 enrolled, 7 waitlisted", count)
		}
		tr.expectEnrolledCount(t, s, 3)
		got := map[string]int{}
		for _, st := range tr.places(s) {
			got[st]++
		}
		if got["enrolled"] != 3 || got["waitlisted"] != 7 {
			t.Errorf("places stored: %v, want 3 enrolled, 7 waitlisted", got)
		}
	})
}

func TestTrainingListSessions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		day := func(d int) time.Time { return time.Date(2026, 4, d, 17, 0, 0, 0, time.UTC) }
		a := tr.session(day(1), time.Hour, 5, nil)
		b := tr.session(day(2), time.Hour, 5, map[string]any{"language": "es", "topic": "email"})
		c := tr.session(day(3), time.Hour, 5, map[string]any{"language": "es"})
		d := tr.session(day(4), time.Hour, 5, map[string]any{"topic": "email"})
		x := tr.session(day(5), time.Hour, 5, nil)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/cancel", x), map[string]any{})

		ids := func(q string) []int64 {
			t.Helper()
			got := listIDs(t, e.must(200, tr.sw, "GET", sessionsURL+q, nil))
			sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			return got
		}
		expect := func(q string, want ...int64) {
			t.Helper()
			if got := ids(q); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET sessions%s: %v, want %v", q, got, want)
			}
		}
		expect("", a, b, c, d)
		expect("?include_cancelled=true", a, b, c, d, x)
		// from is inclusive, to exclusive, on starts_at.
		expect("?from="+q(at(day(2)))+"&to="+q(at(day(4))), b, c)
		expect("?from="+q(at(day(2).Add(time.Second))), c, d)
		expect("?to="+q(at(day(2).Add(time.Second))), a, b)
		expect("?from="+q("2026-04-02T12:00:00-05:00"), b, c, d) // 17:00Z: day 2's start exactly
		expect("?topic=email", b, d)
		expect("?language=es", b, c)
		expect("?language=es&topic=email", b)
		expect("?topic=nothing")

		r := e.do(tr.sw, "GET", sessionsURL+"?from=tomorrow", nil)
		expectError(t, r, 422, "invalid", "from")
		r = e.do(tr.sw, "GET", sessionsURL+"?to=2026-04-01", nil)
		expectError(t, r, 422, "invalid", "to")
		expectError(t, e.do(tr.sw, "GET", sessionsURL+"?include_cancelled=maybe", nil), 422, "invalid", "include_cancelled")

		// The list answers in order of start time.
		got := listIDs(t, e.must(200, tr.sw, "GET", sessionsURL, nil))
		if fmt.Sprint(got) != fmt.Sprint([]int64{a, b, c, d}) {
			t.Errorf("sessions in order %v, want %v", got, []int64{a, b, c, d})
		}
	})
}

func TestTrainingSessionValidation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		r := e.do(tr.coord, "POST", sessionsURL, map[string]any{"title": "", "topic": "", "starts_at": at(nextWeek),
			"ends_at": at(nextWeek.Add(-time.Hour)), "capacity": 0, "language": "not a language"})
		expectError(t, r, 422, "invalid")
		expectFieldsExactly(t, r, "title", "topic", "ends_at", "capacity", "language")
		if n := e.totalAt(tr.coord, sessionsURL); n != 0 {
			t.Errorf("a refused session was stored: %d sessions", n)
		}
		s := tr.session(nextWeek, time.Hour, 5, map[string]any{"language": "fr-ca"})
		got := tr.getSession(s)
		if got["language"] != "fr-CA" || got["status"] != "scheduled" || got["enrolled_count"] != float64(0) {
			t.Errorf("session reads %s", asJSON(t, got))
		}
		// A PATCH changes only what it names.
		p := e.must(200, tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"location": "Room 4"}).JSON(t)
		sameExcept(t, got, p, "location", "updated_at")
		if p["location"] != "Room 4" {
			t.Errorf("location %v after PATCH", p["location"])
		}
		expectError(t, e.do(tr.coord, "PATCH", path(sessionsURL+"/%d", s), map[string]any{"ends_at": at(nextWeek.Add(13 * time.Hour))}), 422, "invalid", "ends_at")
		expectError(t, e.do(tr.coord, "GET", sessionsURL+"/999999", nil), 404, "not_found")
	})
}

func TestTrainingCertificate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		c := e.client(tr.sw)
		basics := tr.pastSession(testNow.Add(-48*time.Hour), 2*time.Hour, "device_basics", c)
		email := tr.pastSession(testNow.Add(-24*time.Hour), 2*time.Hour, "email", c)
		cert := path(clientsURL+"/%d/training/certificates/", c)
		history := path(clientsURL+"/%d/history", c)
		views := func() int {
			t.Helper()
			return countAction(e.allHistoryAt(tr.sw, history), "client.viewed")
		}

		// Enrolled but no attendance yet: no certificate, and nothing read.
		expectError(t, e.do(tr.sw, "GET", cert+"device_basics", nil), 404, "not_found")
		if n := views(); n != 0 {
			t.Errorf("a certificate not found recorded %d client.viewed events", n)
		}

		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", basics),
			map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": true})
		// Attended, but the module not completed: still no certificate.
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", email),
			map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": false})

		r := e.must(200, tr.sw, "GET", cert+"device_basics", nil)
		if ct := r.Header.Get("Content-Type"); ct != "application/pdf" {
			t.Errorf("certificate Content-Type %q, want application/pdf", ct)
		}
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="certificate-device_basics.pdf"` {
			t.Errorf("certificate Content-Disposition %q", cd)
		}
		if !bytes.HasPrefix(r.Body, []byte("%PDF-")) {
			t.Errorf("certificate is not a PDF: %q", trim(r.Body))
		}
		if n := views(); n != 1 {
			t.Errorf("%d client.viewed events after reading the certificate, want 1", n)
		}

		for _, module := range []string{"email", "banking", "no_such_module"} {
			expectError(t, e.do(tr.sw, "GET", cert+module, nil), 404, "not_found")
		}
		expectError(t, e.do(tr.sw, "GET", clientsURL+"/999999/training/certificates/device_basics", nil), 404, "not_found")
		if n := views(); n != 1 {
			t.Errorf("%d client.viewed events after certificates not found, want still 1", n)
		}
	})
}

// Names in any Latin, Greek or Cyrillic script print on the certificate as
// written, and the same certificate read twice is the same bytes.
func TestTrainingCertificateNames(t *testing.T) {
	names := [][2]string{{"José", "Núñez"}, {"Zoë", "Brontë"}, {"Françoise", "Lefèvre"}, {"Łukasz", "Wąsik"},
		{"Nguyễn Thị", "Ánh"}, {"Σοφία", "Παπαδοπούλου"}, {"Ольга", "Ёлкина"}}
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		ids := make([]int64, len(names))
		for i, n := range names {
			ids[i] = e.client(tr.sw)
			e.must(200, tr.sw, "PATCH", path(clientsURL+"/%d", ids[i]), map[string]any{"first_name": n[0], "last_name": n[1]})
		}
		s := tr.pastSession(testNow.Add(-48*time.Hour), 2*time.Hour, "device_basics", ids...)
		for i, n := range names {
			e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", s),
				map[string]any{"client_id": ids[i], "status": "present", "hours": 2, "module_completed": true})
			cert := path(clientsURL+"/%d/training/certificates/device_basics", ids[i])
			pdf := e.must(200, tr.sw, "GET", cert, nil).Body
			if again := e.must(200, tr.sw, "GET", cert, nil).Body; !bytes.Equal(pdf, again) {
				t.Errorf("%s %s's certificate read twice differs (%d and %d bytes)", n[0], n[1], len(pdf), len(again))
			}
			if text, name := doctest.Text(t, pdf), n[0]+" "+n[1]; !strings.Contains(text, name) {
				t.Errorf("the certificate does not name %q; it reads:\n%s", name, text)
			}
		}
	})
}
