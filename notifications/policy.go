package notifications

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

// Policy says which reminders the sweep creates and when they may go out.
// The built-in DefaultPolicy applies until an admin sets another.
type Policy struct {
	// DueSoonDays: remind the client this many days before a loan is due
	// (e.g. 3 and 1).
	DueSoonDays []int `json:"due_soon_days"`
	// DueToday: remind the client on the day a loan is due.
	DueToday bool `json:"due_today"`
	// Overdue steps: after this many days overdue, notify these people.
	// Later steps usually escalate: the client, then a copy to their social
	// worker, then the coordinators.
	Overdue []OverdueStep `json:"overdue"`
	// TrainingDayBefore: remind enrolled clients the day before a session.
	TrainingDayBefore bool `json:"training_day_before"`
	// TrainingHoursBefore: remind them this many hours before (0: do not).
	TrainingHoursBefore int `json:"training_hours_before"`
	// TrainingCancelled: tell enrolled clients when a session is cancelled.
	TrainingCancelled bool `json:"training_cancelled"`
	// DataPlanEndingDays: remind the client this many days before the data
	// plan on their loan ends.
	DataPlanEndingDays []int `json:"data_plan_ending_days"`
	// CoordinatorDigest: a daily summary to coordinators of devices waiting
	// for inspection and loans overdue.
	CoordinatorDigest bool `json:"coordinator_digest"`
	// SendAt is the agency-local time ("09:00") day reminders are scheduled.
	SendAt string `json:"send_at"`
	// QuietHours: nothing goes to a client between Start and End, agency
	// time ("21:00" to "08:00"); what falls inside waits for End.
	QuietHours QuietHours `json:"quiet_hours"`
	// CatchUpDays: a day reminder missed (the service was down) is still
	// sent this many days late, counting the day itself; 1 means no catch-up.
	CatchUpDays int `json:"catch_up_days"`

	// nulls are the places where the JSON the policy was read from had
	// null, which would otherwise read as 0, false or nothing; Validate
	// reports them.
	nulls []string
}

// UnmarshalJSON reads a policy strictly (unknown fields are an error) and
// notes where it has null.
func (p *Policy) UnmarshalJSON(b []byte) error {
	type plain Policy // the same fields, without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v plain
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*p = Policy(v)
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	p.nulls = nullPaths("", doc, nil)
	return nil
}

// nullPaths lists the paths (quiet_hours.start, overdue[1].days) of the
// nulls in a decoded JSON value.
func nullPaths(path string, v any, out []string) []string {
	switch x := v.(type) {
	case nil:
		out = append(out, path)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			out = nullPaths(sub, x[k], out)
		}
	case []any:
		for i, e := range x {
			out = nullPaths(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	}
	return out
}

// topField is the policy field a path is in: overdue for overdue[1].days.
func topField(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// Audience is who an overdue step notifies.
type Audience string

const (
	ToClient       Audience = "client"
	ToSocialWorker Audience = "social_worker"
	ToCoordinators Audience = "coordinators"
)

// OverdueStep is one step of the overdue escalation.
type OverdueStep struct {
	Days   int        `json:"days"`
	Notify []Audience `json:"notify"`
}

// QuietHours is a span of the agency's day, possibly across midnight.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// DefaultPolicy is what a new agency starts with.
func DefaultPolicy() Policy {
	return Policy{
		DueSoonDays: []int{3, 1},
		DueToday:    true,
		Overdue: []OverdueStep{
			{Days: 1, Notify: []Audience{ToClient}},
			{Days: 7, Notify: []Audience{ToClient, ToSocialWorker}},
			{Days: 14, Notify: []Audience{ToClient, ToSocialWorker, ToCoordinators}},
		},
		TrainingDayBefore:   true,
		TrainingHoursBefore: 2,
		TrainingCancelled:   true,
		DataPlanEndingDays:  []int{7},
		CoordinatorDigest:   true,
		SendAt:              "09:00",
		QuietHours:          QuietHours{Start: "21:00", End: "08:00"},
		CatchUpDays:         2,
	}
}

// ParsePolicy reads a policy from JSON, rejecting unknown fields, and
// validates it.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return Policy{}, apperr.New(apperr.Invalid, "reminder policy: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return p, p.Validate()
}

// Validate reports every bad field of p at once, by path, and puts the
// day lists in the order the sweep uses (largest first). A null is
// reported where it is; the other checks of a field with a null in it
// are left out, since they would only describe the 0 it was read as.
func (p *Policy) Validate() error {
	var bad apperr.Fields
	nulled := map[string]bool{}
	for _, path := range p.nulls {
		bad.Add(path, "must not be null: give a value (the default policy shows one for every field)")
		nulled[topField(path)] = true
	}
	if err := p.validate(); err != nil {
		for path, problem := range err.(*apperr.Error).Fields {
			if !nulled[topField(path)] {
				bad.Add(path, problem)
			}
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	p.nulls = nil
	sort.Sort(sort.Reverse(sort.IntSlice(p.DueSoonDays)))
	sort.Sort(sort.Reverse(sort.IntSlice(p.DataPlanEndingDays)))
	sort.Slice(p.Overdue, func(i, j int) bool { return p.Overdue[i].Days < p.Overdue[j].Days })
	if p.DueSoonDays == nil {
		p.DueSoonDays = []int{}
	}
	if p.DataPlanEndingDays == nil {
		p.DataPlanEndingDays = []int{}
	}
	if p.Overdue == nil {
		p.Overdue = []OverdueStep{}
	}
	return nil
}

// validate checks the values of p.
func (p *Policy) validate() error {
	var bad apperr.Fields
	days := func(path string, list []int, min, max int) {
		seen := map[int]bool{}
		for i, d := range list {
			switch {
			case d < min || d > max:
				bad.Add(fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("must be between %d and %d", min, max))
			case seen[d]:
				bad.Add(fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("%d appears twice", d))
			}
			seen[d] = true
		}
		bad.Check(len(list) > 10, path, "may list at most 10 days")
	}
	days("due_soon_days", p.DueSoonDays, 1, 60)
	days("data_plan_ending_days", p.DataPlanEndingDays, 0, 60)
	steps := make([]int, len(p.Overdue))
	for i, s := range p.Overdue {
		steps[i] = s.Days
		bad.Check(len(s.Notify) == 0, fmt.Sprintf("overdue[%d].notify", i), "must name at least one of client, social_worker, coordinators")
		for j, a := range s.Notify {
			if !slices.Contains([]Audience{ToClient, ToSocialWorker, ToCoordinators}, a) {
				bad.Add(fmt.Sprintf("overdue[%d].notify[%d]", i, j), "must be client, social_worker or coordinators")
			}
		}
	}
	days("overdue", steps, 1, 365)
	bad.Check(p.TrainingHoursBefore < 0 || p.TrainingHoursBefore > 48, "training_hours_before", "must be between 0 (off) and 48")
	if _, err := clock(p.SendAt); err != nil || p.SendAt == "" {
		bad.Add("send_at", "must be a time of day such as 09:00")
	}
	if _, err := clock(p.QuietHours.Start); err != nil {
		bad.Add("quiet_hours.start", err.Error())
	}
	if _, err := clock(p.QuietHours.End); err != nil {
		bad.Add("quiet_hours.end", err.Error())
	}
	if p.QuietHours.Start != "" && p.QuietHours.Start == p.QuietHours.End {
		bad.Add("quiet_hours.end", "must differ from start (leave both empty for no quiet hours)")
	}
	if (p.QuietHours.Start == "") != (p.QuietHours.End == "") {
		bad.Add("quiet_hours", "needs both start and end, or neither")
	}
	bad.Check(p.CatchUpDays < 1 || p.CatchUpDays > 7, "catch_up_days", "must be between 1 (no catch-up) and 7")
	return bad.Err()
}

// clock parses "HH:MM" into the time since midnight; "" is allowed (no
// quiet hours) and gives -1.
func clock(s string) (time.Duration, error) {
	if s == "" {
		return -1, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("must be a time of day such as 08:00")
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// at is the instant of the agency-local time of day hhmm on day.
func at(day time.Time, hhmm string, loc *time.Location) time.Time {
	d, _ := clock(hhmm)
	if d < 0 {
		d = 0
	}
	y, m, dd := day.In(loc).Date()
	return time.Date(y, m, dd, int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, loc)
}

// QuietUntil reports whether t falls in the quiet hours and, if so, when
// they end (agency time).
func (q QuietHours) QuietUntil(t time.Time, loc *time.Location) (time.Time, bool) {
	start, _ := clock(q.Start)
	end, _ := clock(q.End)
	if start < 0 || end < 0 {
		return time.Time{}, false
	}
	local := t.In(loc)
	y, m, d := local.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// Wall-clock time since midnight (not elapsed time, which a DST change skews).
	since := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute
	// Across midnight (21:00-08:00): quiet after start or before end.
	switch {
	case start > end && since >= start:
		return at(midnight.AddDate(0, 0, 1), q.End, loc), true
	case start > end && since < end, start < end && since >= start && since < end:
		return at(midnight, q.End, loc), true
	}
	return time.Time{}, false
}
