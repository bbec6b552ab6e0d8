package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
)

// A coordinator schedules a session (a mistake first, shown in place),
// sees the roster the workers' bookings fill, and records attendance once
// the session has begun.
func TestBrowserTraining(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		_, co := e.user(accounts.Coordinator)
		_, email := e.staff(accounts.Coordinator, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)
		if status := b.open("/training"); status != 200 || b.text("h1") != "Training" {
			t.Fatalf("GET /training: %d, %q", status, b.text("h1"))
		}
		b.check("training")
		if status := b.submit(`main a[href="/training/new"]`); status != 200 || b.text("h1") != "Schedule a session" {
			t.Fatalf("the session form: %d, %q", status, b.text("h1"))
		}
		b.check("training-new")

		// testNow is 15:00 UTC, the agency's zone in tests: the session is at 17:00.
		const form = `main form[action="/training/new"] button[type="submit"]`
		b.fill("title", "Your new tablet, step by step", "topic", "device_basics", "location", "Library, room 2",
			"starts_at", "2026-03-10T17:00", "ends_at", "2026-03-10T16:00", "capacity", "10")
		if status := b.submit(form); status != 422 || !strings.Contains(b.text("#f-ends_at-error"), "must be after") {
			t.Fatalf("a session that ends before it starts: %d, %q", status, b.text("main"))
		}
		b.check("training-new-errors")
		b.fill("ends_at", "2026-03-10T19:00")
		if status := b.submit(form); status != 200 || b.text("h1") != "Your new tablet, step by step" ||
			!strings.Contains(b.text("main"), "No one has a place yet") {
			t.Fatalf("the session scheduled: %d, %q", status, b.text("main"))
		}
		b.check("training-session")
		sessionPath, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(sessionPath, "/training/")

		// Two of a worker's clients are booked.
		first, second := e.client(sw), e.client(sw)
		for _, c := range []int64{first, second} {
			e.must(201, sw, "POST", path(sessionsURL+"/%s/enrollments", id), map[string]any{"client_id": c})
		}

		// After it began (signed in again: the clock moved past the idle
		// timeout), the roster takes attendance.
		e.clock.Set(testNow.Add(2*time.Hour + 30*time.Minute))
		b.signIn(email, browserPassword)
		if status := b.open(sessionPath); status != 200 || !strings.Contains(b.text("#roster-caption"), "Places in this session") ||
			b.text("#attendance") != "Record attendance" {
			t.Fatalf("the roster: %d, %q", status, b.text("main"))
		}
		b.check("training-attendance")
		b.click(path(`#f-present-%d`, first))
		b.click(path(`#f-completed-%d`, first))
		if status := b.submit(`main form[action$="/attendance"] button`); status != 200 || !strings.Contains(b.text("table"), "present") ||
			!strings.Contains(b.text("table"), "absent") || !strings.Contains(b.text("table"), "completed") {
			t.Fatalf("attendance: %d, %q", status, b.text("main"))
		}
		n, _ := strconv.ParseInt(id, 10, 64)
		got := e.places(co, n)
		if got[first]["attendance"] != "present" || got[first]["module_completed"] != true || got[second]["attendance"] != "absent" {
			t.Errorf("the attendance recorded: %v", got)
		}
		b.check("training-attendance-recorded")
	})
}
