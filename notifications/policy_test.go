package notifications

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

func TestDefaultPolicyIsValid(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A bad policy is refused with every bad field named by its path.
func TestPolicyValidationNamesEveryBadField(t *testing.T) {
	_, err := ParsePolicy([]byte(`{"due_soon_days": [3, 0, 3], "due_today": true,
		"overdue": [{"days": 1, "notify": ["client"]}, {"days": 400, "notify": ["mayor"]}, {"days": 7, "notify": []}],
		"training_hours_before": 72, "data_plan_ending_days": [], "send_at": "9am",
		"quiet_hours": {"start": "21:00", "end": ""}, "catch_up_days": 0}`))
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid {
		t.Fatalf("want field errors, got %v", err)
	}
	fields := e.Fields
	want := []string{"due_soon_days[1]", "due_soon_days[2]", "overdue[1].notify[0]", "overdue[2].notify", "overdue[1]",
		"training_hours_before", "send_at", "quiet_hours", "catch_up_days"}
	for _, f := range want {
		if _, ok := fields[f]; !ok {
			t.Errorf("no error for %s: %v", f, fields)
		}
	}
	if len(fields) != len(want) {
		t.Errorf("errors: %v", fields)
	}
	if _, err := ParsePolicy([]byte(`{"due_soon_days": [3], "mystery": 1}`)); err == nil || !strings.Contains(err.Error(), "mystery") {
		t.Errorf("an unknown field: %v", err)
	}
}

// Validation puts the steps in the order the sweep relies on.
func TestPolicyStepsAreOrdered(t *testing.T) {
	p := DefaultPolicy()
	p.DueSoonDays = []int{1, 7, 3}
	p.Overdue = []OverdueStep{{Days: 14, Notify: []Audience{ToCoordinators}}, {Days: 1, Notify: []Audience{ToClient}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.DueSoonDays[0] != 7 || p.DueSoonDays[2] != 1 || p.Overdue[0].Days != 1 {
		t.Fatalf("not ordered: %+v", p)
	}
}

func TestQuietHours(t *testing.T) {
	loc, _ := time.LoadLocation("America/Chicago")
	at := func(h, m int) time.Time { return time.Date(2026, 4, 9, h, m, 0, 0, loc) }
	night := QuietHours{Start: "21:00", End: "08:00"}
	lunch := QuietHours{Start: "12:00", End: "13:30"}
	for _, tc := range []struct {
		q     QuietHours
		t     time.Time
		until time.Time // zero: not quiet
	}{
		{night, at(20, 59), time.Time{}},
		{night, at(21, 0), time.Date(2026, 4, 10, 8, 0, 0, 0, loc)},
		{night, at(23, 30), time.Date(2026, 4, 10, 8, 0, 0, 0, loc)},
		{night, at(0, 0), at(8, 0)},
		{night, at(7, 59), at(8, 0)},
		{night, at(8, 0), time.Time{}},
		{lunch, at(11, 59), time.Time{}},
		{lunch, at(12, 0), at(13, 30)},
		{lunch, at(13, 30), time.Time{}},
		{QuietHours{}, at(23, 0), time.Time{}},
	} {
		until, quiet := tc.q.QuietUntil(tc.t.UTC(), loc)
		if quiet != !tc.until.IsZero() || !until.Equal(tc.until) {
			t.Errorf("%v at %s: got %v %v, want %v", tc.q, tc.t.Format("15:04"), quiet, until, tc.until)
		}
	}
}

// The local day's quiet hours follow daylight saving time: on the night
// clocks go forward, 08:00 is still 08:00 on the wall.
func TestQuietHoursAcrossDaylightSaving(t *testing.T) {
	loc, _ := time.LoadLocation("America/Chicago")
	night := QuietHours{Start: "21:00", End: "08:00"}
	until, quiet := night.QuietUntil(time.Date(2026, 3, 7, 22, 0, 0, 0, loc), loc)
	if want := time.Date(2026, 3, 8, 8, 0, 0, 0, loc); !quiet || !until.Equal(want) || until.UTC().Hour() != 13 {
		t.Fatalf("got %v (%v), want %v", until, quiet, want)
	}
}

func TestSubjectsInEachLanguage(t *testing.T) {
	for _, lang := range Languages {
		if _, ok := subjects[lang]; !ok {
			t.Errorf("no subjects in %s", lang)
		}
	}
}

// A step's window runs from its own day back to the day after the next
// step, or as far as the catch-up allows.
func TestDaysAhead(t *testing.T) {
	for _, tc := range []struct {
		steps             []int
		i, floor, catchUp int
		lo, hi            int
	}{
		{[]int{3, 1}, 0, 0, 2, 2, 3},
		{[]int{3, 1}, 1, 0, 2, 1, 1},
		{[]int{3, 2}, 0, 0, 3, 3, 3}, // the next step stops the catch-up
		{[]int{7}, 0, -1, 2, 6, 7},
		{[]int{7}, 0, -1, 1, 7, 7}, // no catch-up
		{[]int{1}, 0, -1, 5, 0, 1}, // a plan ending today is still announced
	} {
		if lo, hi := daysAhead(tc.steps, tc.i, tc.floor, tc.catchUp); lo != tc.lo || hi != tc.hi {
			t.Errorf("%v step %d, floor %d, catch-up %d: [%d, %d], want [%d, %d]", tc.steps, tc.i, tc.floor, tc.catchUp, lo, hi, tc.lo, tc.hi)
		}
	}
}
