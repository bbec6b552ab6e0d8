package calendar

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

// timeFormat is what a time read from JSON must look like.
const timeFormat = "must be a time written RFC 3339, such as 2026-04-02T17:30:00-05:00"

// Time is a moment read from JSON as RFC 3339 text. Like Date, a string
// that is not a real time ("2026-02-30T10:00:00Z", "25:00") is kept as a
// problem for Check to report, beside every other bad field of the input.
type Time struct {
	t       time.Time
	problem string
}

// TimeOf returns t as a Time.
func TimeOf(t time.Time) Time { return Time{t: t} }

// Time is the moment; the zero time for one that is not a time.
func (t Time) Time() time.Time { return t.t }

// Problem says why t, read from JSON, is not a time; "" for a time.
func (t Time) Problem() string { return t.problem }

// Check records under field why t, read from JSON, is not a time, and
// reports whether t is usable.
func (t Time) Check(bad *apperr.Fields, field string) bool {
	if t.problem != "" {
		bad.Add(field, t.problem)
		return false
	}
	return true
}

// MarshalJSON writes the time as RFC 3339.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.problem != "" {
		return nil, fmt.Errorf("calendar: not a time: %s", t.problem)
	}
	return t.t.MarshalJSON()
}

// UnmarshalJSON reads an RFC 3339 string. A value that is not a string is
// an error, like any value of the wrong type; a string that is not a time
// is kept as a problem for Check to report.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(timeFormat)
	}
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		problem := timeFormat
		// "day out of range", "hour out of range": say which part is wrong.
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			problem += " (" + strings.TrimPrefix(pe.Message, ": ") + ")"
		}
		*t = Time{problem: problem}
		return nil
	}
	*t = Time{t: v}
	return nil
}
