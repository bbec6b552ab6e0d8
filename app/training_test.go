package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/training"
)

// session schedules a session of hours hours starting at start.
func (f *fixture) session(co *accounts.Actor, topic string, start time.Time, hours, capacity int) *training.Session {
	f.t.Helper()
	starts, ends := calendar.TimeOf(start), calendar.TimeOf(start.Add(time.Duration(hours)*time.Hour))
	ss, err := f.svc.Training.CreateSession(context.Background(), co, training.SessionInput{Title: str("Class " + topic), Topic: str(topic),
		StartsAt: &starts, EndsAt: &ends, Capacity: &capacity})
	if err != nil {
		f.t.Fatal(err)
	}
	return ss
}

func TestSessionCapacityWaitlistAndOverlap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		tomorrow := f.clock.Now().Add(24 * time.Hour).Truncate(time.Hour)
		basics := f.session(co, "device_basics", tomorrow, 2, 2)
		a, b, c := f.person(sw, nil), f.person(sw, nil), f.person(sw, nil)
		enroll := func(client int64) string {
			t.Helper()
			e, err := f.svc.Training.Enroll(ctx, sw, basics.ID, client)
			if err != nil {
				t.Fatal(err)
			}
			return e.Status
		}
		if got := fmt.Sprintln(enroll(a), enroll(b), enroll(c)); got != "enrolled enrolled waitlisted\n" {
			t.Fatalf("three clients for two seats: %s", got)
		}
		if _, err := f.svc.Training.Enroll(ctx, sw, basics.ID, a); !apperrIs(err, "conflict") {
			t.Fatalf("enrolling twice: %v", err)
		}
		// An overlapping session is refused; one that starts as this ends is not.
		overlap := f.session(co, "internet_safety", tomorrow.Add(time.Hour), 2, 10)
		if _, err := f.svc.Training.Enroll(ctx, sw, overlap.ID, a); !apperrIs(err, "conflict") {
			t.Fatalf("overlapping session: %v", err)
		}
		after := f.session(co, "telehealth", tomorrow.Add(2*time.Hour), 1, 10)
		if _, err := f.svc.Training.Enroll(ctx, sw, after.ID, a); err != nil {
			t.Fatalf("back-to-back session: %v", err)
		}
		// A withdrawal seats the first on the waitlist.
		if _, err := f.svc.Training.Withdraw(ctx, sw, basics.ID, b); err != nil {
			t.Fatal(err)
		}
		rec, err := f.svc.Training.ClientRecord(ctx, sw, c)
		if err != nil || len(rec.Sessions) != 1 || rec.Sessions[0].Enrollment.Status != "enrolled" {
			t.Fatalf("the waitlisted client after a withdrawal: %+v %v", rec, err)
		}
		// Capacity cannot drop below the seats taken.
		one := 1
		if _, err := f.svc.Training.UpdateSession(ctx, co, basics.ID, training.SessionInput{Capacity: &one}); !apperrIs(err, "invalid") {
			t.Fatalf("capacity below the seats taken: %v", err)
		}
		// Another worker's client cannot be enrolled by this worker.
		other := f.actor(accounts.SocialWorker)
		if _, err := f.svc.Training.Enroll(ctx, other, after.ID, b); !apperrIs(err, "invalid") {
			t.Fatalf("another worker's client: %v", err)
		}
		// Cancelling a session cancels its places.
		if _, err := f.svc.Training.CancelSession(ctx, co, basics.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Training.Enroll(ctx, sw, basics.ID, b); !apperrIs(err, "conflict") {
			t.Fatalf("enrolling in a cancelled session: %v", err)
		}
	})
}

// Capacity holds when many enroll at once.
func TestConcurrentEnrollmentRespectsCapacity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		ss := f.session(co, "job_search", f.clock.Now().Add(48*time.Hour), 2, 3)
		const n = 10
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = f.person(sw, nil)
		}
		statuses := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				e, err := f.svc.Training.Enroll(ctx, sw, ss.ID, ids[i])
				errs[i] = err
				if err == nil {
					statuses[i] = e.Status
				}
			}(i)
		}
		wg.Wait()
		count := map[string]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("enrollment %d: %v", i, err)
			}
			count[statuses[i]]++
		}
		got, _ := f.svc.Training.Session(ctx, ss.ID)
		if count["enrolled"] != 3 || count["waitlisted"] != n-3 || got.EnrolledCount != 3 {
			t.Fatalf("%v, seat count %d; want 3 enrolled and %d waitlisted", count, got.EnrolledCount, n-3)
		}
	})
}

func TestAttendanceHoursAndModules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		start := f.clock.Now().Add(time.Hour).Truncate(time.Minute)
		ss := f.session(co, "device_basics", start, 3, 5)
		client := f.person(sw, nil)
		if _, err := f.svc.Training.Enroll(ctx, sw, ss.ID, client); err != nil {
			t.Fatal(err)
		}
		mark := func(in training.AttendanceInput) error {
			in.ClientID = client
			_, err := f.svc.Training.RecordAttendance(ctx, co, ss.ID, in)
			return err
		}
		if err := mark(training.AttendanceInput{Status: "present", Hours: 3}); !apperrIs(err, "conflict") {
			t.Fatalf("attendance before the session: %v", err)
		}
		f.clock.Set(start.Add(4 * time.Hour))
		if err := mark(training.AttendanceInput{Status: "present", Hours: 3.5}); !apperrIs(err, "invalid") {
			t.Fatalf("more hours than the session: %v", err)
		}
		if err := mark(training.AttendanceInput{Status: "absent", Hours: 1}); !apperrIs(err, "invalid") {
			t.Fatalf("hours for an absent client: %v", err)
		}
		score, pass := 60, 70
		if err := mark(training.AttendanceInput{Status: "late", Hours: 2.5, ModuleCompleted: true, AssessmentScore: &score, PassMark: &pass}); err != nil {
			t.Fatal(err)
		}
		rec, _ := f.svc.Training.ClientRecord(ctx, sw, client)
		if rec.TotalHours != 2.5 || len(rec.CompletedModules) != 0 {
			t.Fatalf("after a failed assessment: %+v", rec)
		}
		// Corrected after the fact: the change is recorded with old and new values.
		score = 85
		if err := mark(training.AttendanceInput{Status: "present", Hours: 3, ModuleCompleted: true, AssessmentScore: &score, PassMark: &pass}); err != nil {
			t.Fatal(err)
		}
		rec, _ = f.svc.Training.ClientRecord(ctx, sw, client)
		if rec.TotalHours != 3 || fmt.Sprint(rec.CompletedModules) != "[device_basics]" {
			t.Fatalf("after the correction: %+v", rec)
		}
		events, _, err := f.svc.Clients.History(ctx, sw, client, storage.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		corrections := 0
		for _, ev := range events {
			if ev.Action == "training.attendance_recorded" {
				corrections++
				if string(ev.Changes) == "{}" {
					t.Errorf("an attendance event without its changes")
				}
			}
		}
		if corrections != 2 {
			t.Fatalf("%d attendance events, want 2 (the first record and the correction)", corrections)
		}
	})
}

// Training counts in eligibility: a rule set that requires training is met
// once attendance is recorded.
func TestTrainingMakesAClientEligible(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		admin, sw, co := f.actor(accounts.Admin), f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		if _, err := f.svc.Eligibility.ReplaceRuleSet(ctx, admin, []byte(`{"name": "training first", "region": "48",
			"rules": {"kind": "training", "hours": 2, "months": 12, "modules": ["device_basics"]}}`)); err != nil {
			t.Fatal(err)
		}
		client := f.person(sw, cents(10000))
		check := func() string {
			t.Helper()
			d, err := f.svc.Eligibility.Check(ctx, sw, client, eligibility.Request{DeviceKind: "laptop"})
			if err != nil {
				t.Fatal(err)
			}
			return string(d.Outcome) + ": " + d.Rules[0].Reason
		}
		if got := check(); got != "ineligible: 0 of 2 required hours completed in the last 12 months; modules still to complete: device_basics" {
			t.Fatalf("before training: %s", got)
		}
		start := f.clock.Now().Add(time.Hour)
		ss := f.session(co, "device_basics", start, 2, 5)
		if _, err := f.svc.Training.Enroll(ctx, sw, ss.ID, client); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(start.Add(3 * time.Hour))
		if _, err := f.svc.Training.RecordAttendance(ctx, co, ss.ID, training.AttendanceInput{ClientID: client, Status: "present", Hours: 2, ModuleCompleted: true}); err != nil {
			t.Fatal(err)
		}
		if got := check(); got != "eligible: 2 of 2 required hours completed in the last 12 months; completed the modules device_basics" {
			t.Fatalf("after training: %s", got)
		}
	})
}

// A coordinator cannot book a place for a client no one referred; a place
// the client's social worker booked makes the client one the coordinator
// may see, and the certificate of a completed module names them.
func TestCoordinatorSeesReferredTraineesAndCertificates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		client := f.person(sw, nil)
		if _, err := f.svc.Clients.Get(ctx, co, client); !apperrIs(err, "not_found") {
			t.Fatalf("before training: %v", err)
		}
		start := f.clock.Now().Add(time.Hour)
		ss := f.session(co, "internet_safety", start, 2, 5)
		if _, err := f.svc.Training.Enroll(ctx, co, ss.ID, client); !apperrIs(err, "invalid") {
			t.Fatalf("a coordinator books a place for a client no one referred: %v", err)
		}
		if _, err := f.svc.Clients.Get(ctx, co, client); !apperrIs(err, "not_found") {
			t.Fatalf("after a refused booking: %v", err)
		}
		if _, err := f.svc.Training.Enroll(ctx, sw, ss.ID, client); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Clients.Get(ctx, co, client); err != nil {
			t.Fatalf("a coordinator cannot open the record of a client their worker booked: %v", err)
		}
		if _, err := f.svc.Training.CertificateFor(ctx, co, client, "internet_safety"); !apperrIs(err, "not_found") {
			t.Fatalf("a certificate before completion: %v", err)
		}
		f.clock.Set(start.Add(3 * time.Hour))
		if _, err := f.svc.Training.RecordAttendance(ctx, co, ss.ID, training.AttendanceInput{ClientID: client, Status: "present", Hours: 2, ModuleCompleted: true}); err != nil {
			t.Fatal(err)
		}
		pdf, err := f.svc.Training.CertificateFor(ctx, sw, client, "internet_safety")
		if err != nil || len(pdf) < 500 || string(pdf[:5]) != "%PDF-" {
			t.Fatalf("certificate: %d bytes, %v", len(pdf), err)
		}
		other := f.actor(accounts.SocialWorker)
		if _, err := f.svc.Training.CertificateFor(ctx, other, client, "internet_safety"); !apperrIs(err, "not_found") {
			t.Fatalf("another worker's certificate: %v", err)
		}
	})
}

// With one connection in the pool (--db-max-open-conns 1), cancelling a
// session, which tells its clients in its own transaction, does not wait
// for a second connection: everything it reads, it reads through that
// transaction (it once read the reminder policy through the pool, and
// waited for ever).
func TestCancelSessionOnAPoolOfOne(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		db.SetPool(storage.Pool{MaxOpen: 1, MaxIdle: 1})
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		ss := f.session(co, "device_basics", f.clock.Now().Add(48*time.Hour).Truncate(time.Hour), 2, 5)
		client := f.person(sw, nil)
		if _, err := f.svc.Training.Enroll(context.Background(), sw, ss.ID, client); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := f.svc.Training.CancelSession(ctx, co, ss.ID); err != nil {
			t.Fatalf("cancel on a pool of one: %v", err)
		}
	})
}
