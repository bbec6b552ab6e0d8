// Package calendar holds Date, a day on the calendar with no time or zone,
// for the dates people pick (due dates, plan start and end), and Time, a
// moment as people send it (a session's start and end).
package calendar

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

const layout = "2006-01-02"

// Date is a calendar day. The zero value means "no date".
type Date struct {
	Year  int
	Month time.Month
	Day   int
	// problem says why the JSON text this Date was read from is not a date
	// ("2026-02-30"); Year, Month and Day are then zero. Validation reports
	// it with Check, beside every other bad field of the same input.
	problem string
}

// MinYear and MaxYear bound the dates DeviceBank accepts: every date it
// deals with (births, proofs, loans, plans) falls well inside, and both
// databases store them alike.
const (
	MinYear = 1900
	MaxYear = 2200
)

// Parse reads a date written as YYYY-MM-DD, between MinYear and MaxYear.
func Parse(s string) (Date, error) {
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("must be a date written YYYY-MM-DD")
	}
	if t.Year() < MinYear || t.Year() > MaxYear {
		return Date{}, fmt.Errorf("must be a date between %d and %d", MinYear, MaxYear)
	}
	return Of(t), nil
}

// Of returns the day t falls on, in t's own location.
func Of(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Zone is loc, or UTC when no zone is set.
func Zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// In is the day t falls on in loc (UTC when loc is nil).
func In(t time.Time, loc *time.Location) Date { return Of(t.In(Zone(loc))) }

// Today is the day it is now in loc (UTC when loc is nil).
func Today(now time.Time, loc *time.Location) Date { return In(now, loc) }

// IsZero reports whether d is the zero date: no date was given. A date
// that was given but is not one is not zero (see Check).
func (d Date) IsZero() bool { return d == Date{} }

// Problem says why d, read from JSON, is not a date; "" for a date or no date.
func (d Date) Problem() string { return d.problem }

// Check records under field why d, read from JSON, is not a date, and
// reports whether d is usable: a date, or no date.
func (d Date) Check(bad *apperr.Fields, field string) bool {
	if d.problem != "" {
		bad.Add(field, d.problem)
		return false
	}
	return true
}

// Time is midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return Of(d.Time().AddDate(0, 0, n)) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return d.Time().After(o.Time()) }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(layout)
}

// MarshalJSON writes "YYYY-MM-DD", or null for the zero date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.problem != "" {
		return nil, fmt.Errorf("calendar: not a date: %s", d.problem)
	}
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD" or null. A value that is not a string
// is an error, like any value of the wrong type; a string that is not a
// date in range ("2026-02-30") is kept as a problem for Check to report,
// so that the other fields of the input are checked and reported with it.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a date written YYYY-MM-DD")
	}
	p, err := Parse(s)
	if err != nil {
		*d = Date{problem: err.Error()}
		return nil
	}
	*d = p
	return nil
}

// Value stores the date as YYYY-MM-DD text (a DATE column in PostgreSQL).
// A date read from bad JSON and not checked is refused, never stored.
func (d Date) Value() (driver.Value, error) {
	if d.problem != "" {
		return nil, fmt.Errorf("calendar: not a date: %s", d.problem)
	}
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// Scan reads a date from either database.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
		return nil
	case time.Time:
		*d = Of(v.UTC())
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	}
	return fmt.Errorf("calendar: cannot scan %T into Date", src)
}

func (d *Date) scanText(s string) error {
	if len(s) > len(layout) {
		s = s[:len(layout)]
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return fmt.Errorf("calendar: bad stored date %q", s)
	}
	*d = Of(t)
	return nil
}

// AddMonths returns d moved by n months, clamped to the last day of the
// month it lands in (31 March minus one month is 28 or 29 February).
func (d Date) AddMonths(n int) Date {
	total := int(d.Month) - 1 + n
	y := d.Year + total/12
	m := total % 12
	if m < 0 {
		m += 12
		y--
	}
	last := time.Date(y, time.Month(m+2), 0, 0, 0, 0, 0, time.UTC).Day()
	day := d.Day
	if day > last {
		day = last
	}
	return Date{Year: y, Month: time.Month(m + 1), Day: day}
}

// YearsSince is the number of whole years from d to on (an age).
func (d Date) YearsSince(on Date) int {
	years := on.Year - d.Year
	if on.Month < d.Month || (on.Month == d.Month && on.Day < d.Day) {
		years--
	}
	return years
}
