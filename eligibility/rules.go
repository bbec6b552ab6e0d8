package eligibility

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RuleSet is an agency's written eligibility rules, as data. It is stored
// with a version; every decision records the version it used.
type RuleSet struct {
	Name string `json:"name"`
	// Region picks the guideline tables for income rules ("48" for the HHS
	// table of the 48 contiguous states and DC).
	Region string `json:"region"`
	// Rules is the root of the rule tree, usually an all_of group.
	Rules Rule `json:"rules"`
	// Priority weighs the waitlist; left out, DefaultPriority applies.
	Priority *Priority `json:"priority,omitempty"`
}

// Priority holds the waitlist weights: points for the request's urgency
// and for each needs flag the client has. Higher scores are served first;
// equal scores in the order they joined.
type Priority struct {
	Urgency map[string]int `json:"urgency"`
	Needs   map[string]int `json:"needs"`
}

// DefaultPriority is used when a rule set gives no weights.
var DefaultPriority = Priority{
	Urgency: map[string]int{"low": 0, "normal": 10, "high": 30},
	Needs: map[string]int{"fleeing_violence": 40, "leaving_care": 25, "no_home_internet": 20,
		"disability": 15, "age_60_plus": 10, "school_age_children": 10},
}

// Urgencies are the urgency levels of a request.
var Urgencies = []string{"low", "normal", "high"}

// Rule is a node of the rule tree: a group (AllOf or AnyOf) or one check,
// named by Kind. Only the fields of its kind are used.
type Rule struct {
	// Name labels the rule in decisions; a readable one is made when empty.
	Name  string `json:"name,omitempty"`
	AllOf []Rule `json:"all_of,omitempty"`
	AnyOf []Rule `json:"any_of,omitempty"`
	Kind  Kind   `json:"kind,omitempty"`

	Percent    int      `json:"percent,omitempty"`     // income
	Programs   []string `json:"programs,omitempty"`    // programs
	Months     int      `json:"months,omitempty"`      // proof_recent, no_recent_loss, waiting_period
	Max        *int     `json:"max,omitempty"`         // max_open_loans
	Per        string   `json:"per,omitempty"`         // max_open_loans: client or household
	DeviceKind string   `json:"device_kind,omitempty"` // max_open_loans: a kind, or empty for the requested kind
	MinAge     *int     `json:"min_age,omitempty"`     // age_range
	MaxAge     *int     `json:"max_age,omitempty"`     // age_range
	Prefixes   []string `json:"postal_prefixes,omitempty"`
	Flags      []string `json:"flags,omitempty"`   // needs: any of these flags
	Hours      *float64 `json:"hours,omitempty"`   // training: at least this many hours within Months
	Modules    []string `json:"modules,omitempty"` // training: these modules completed (ever)
}

// Kind names a check.
type Kind string

const (
	KindIncome        Kind = "income"         // household income at or below Percent% of the guideline
	KindPrograms      Kind = "programs"       // enrolled in any of Programs
	KindProofRecent   Kind = "proof_recent"   // income or program proof verified within Months
	KindMaxOpenLoans  Kind = "max_open_loans" // fewer than Max open loans of a device kind, Per client or household
	KindNoRecentLoss  Kind = "no_recent_loss" // no unresolved lost device in the last Months
	KindWaitingPeriod Kind = "waiting_period" // Months since the last loan ended
	KindAgeRange      Kind = "age_range"      // age between MinAge and MaxAge
	KindPostalArea    Kind = "postal_area"    // postal code starts with one of Prefixes
	KindNeeds         Kind = "needs"          // has any of Flags
	KindTraining      Kind = "training"       // at least Hours of training within Months, and/or Modules completed
)

// kindFields are the fields each kind of rule takes.
var kindFields = map[Kind][]string{
	KindIncome: {"percent"}, KindPrograms: {"programs"}, KindProofRecent: {"months"},
	KindMaxOpenLoans: {"max", "per", "device_kind"}, KindNoRecentLoss: {"months"}, KindWaitingPeriod: {"months"},
	KindAgeRange: {"min_age", "max_age"}, KindPostalArea: {"postal_prefixes"}, KindNeeds: {"flags"},
	KindTraining: {"hours", "months", "modules"},
}

// Kinds lists the checks a rule can name.
var Kinds = []Kind{KindIncome, KindPrograms, KindProofRecent, KindMaxOpenLoans, KindNoRecentLoss,
	KindWaitingPeriod, KindAgeRange, KindPostalArea, KindNeeds, KindTraining}

// DeviceKinds are the kinds of device a request can ask for.
var DeviceKinds = []string{"phone", "tablet", "laptop", "hotspot", "other"}

// ParseRuleSet reads a rule set written as JSON and checks it. Errors name
// the path of every bad part ("rules.all_of[2].months: must be 1 to 120").
func ParseRuleSet(data []byte) (*RuleSet, error) {
	var rs RuleSet
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return nil, &ValidationError{Problems: map[string]string{"": "not a rule set: " + strings.TrimPrefix(err.Error(), "json: ")}}
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return &rs, nil
}

// ValidationError lists what is wrong with a rule set, by path.
type ValidationError struct {
	Problems map[string]string
}

func (e *ValidationError) Error() string {
	var parts []string
	for _, p := range sortedKeys(e.Problems) {
		if p == "" {
			parts = append(parts, e.Problems[p])
		} else {
			parts = append(parts, p+": "+e.Problems[p])
		}
	}
	return strings.Join(parts, "; ")
}

// Validate checks the whole rule set and reports every problem.
func (rs *RuleSet) Validate() error {
	problems := map[string]string{}
	if strings.TrimSpace(rs.Name) == "" {
		problems["name"] = "is required"
	} else if len([]rune(rs.Name)) > 200 {
		problems["name"] = "must be at most 200 characters"
	}
	if strings.TrimSpace(rs.Region) == "" {
		problems["region"] = `is required: the guideline region, such as "48"`
	} else if len([]rune(rs.Region)) > 20 {
		problems["region"] = "must be at most 20 characters"
	}
	rs.Rules.validate("rules", problems, 0)
	if p := rs.Priority; p != nil {
		for u, w := range p.Urgency {
			if !contains(Urgencies, u) {
				problems["priority.urgency."+u] = "must be low, normal or high"
			} else if w < 0 || w > 1000 {
				problems["priority.urgency."+u] = "must be 0 to 1000"
			}
		}
		for f, w := range p.Needs {
			if !ValidCode(f) {
				problems["priority.needs."+f] = "must be a needs flag code"
			} else if w < 0 || w > 1000 {
				problems["priority.needs."+f] = "must be 0 to 1000"
			}
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

const maxDepth = 8

func (r *Rule) validate(path string, problems map[string]string, depth int) {
	set := 0
	if r.AllOf != nil {
		set++
	}
	if r.AnyOf != nil {
		set++
	}
	if r.Kind != "" {
		set++
	}
	if set != 1 {
		problems[path] = "must be exactly one of: an all_of group, an any_of group, or a rule with a kind"
		return
	}
	if depth > maxDepth {
		problems[path] = fmt.Sprintf("groups nest too deep (at most %d)", maxDepth)
		return
	}
	if len([]rune(r.Name)) > 100 {
		problems[path+".name"] = "must be at most 100 characters"
	}
	group := func(name string, rules []Rule) {
		if len(rules) == 0 {
			problems[path+"."+name] = "must list at least one rule"
		}
		for i := range rules {
			rules[i].validate(fmt.Sprintf("%s.%s[%d]", path, name, i), problems, depth+1)
		}
	}
	switch {
	case r.AllOf != nil:
		group("all_of", r.AllOf)
		return
	case r.AnyOf != nil:
		group("any_of", r.AnyOf)
		return
	}
	bad := func(field, problem string) { problems[path+"."+field] = problem }
	// Fields of other kinds are refused, so a stored rule says only what it checks.
	for field, set := range map[string]bool{
		"percent": r.Percent != 0, "programs": r.Programs != nil, "months": r.Months != 0, "max": r.Max != nil,
		"per": r.Per != "", "device_kind": r.DeviceKind != "", "min_age": r.MinAge != nil, "max_age": r.MaxAge != nil,
		"postal_prefixes": r.Prefixes != nil, "flags": r.Flags != nil, "hours": r.Hours != nil, "modules": r.Modules != nil,
	} {
		if set && !contains(kindFields[r.Kind], field) {
			bad(field, "does not apply to a rule of kind "+string(r.Kind))
		}
	}
	months := func() {
		if r.Months < 1 || r.Months > 120 {
			bad("months", "must be 1 to 120")
		}
	}
	switch r.Kind {
	case KindIncome:
		if r.Percent < 1 || r.Percent > 1000 {
			bad("percent", "must be 1 to 1000")
		}
	case KindPrograms:
		if len(r.Programs) == 0 {
			bad("programs", "must list at least one program code")
		}
		for i, p := range r.Programs {
			if !ValidCode(p) {
				bad(fmt.Sprintf("programs[%d]", i), "must be a code of lowercase letters, digits and underscores")
			}
		}
	case KindProofRecent, KindNoRecentLoss, KindWaitingPeriod:
		months()
	case KindMaxOpenLoans:
		if r.Max == nil || *r.Max < 1 || *r.Max > 20 {
			bad("max", "must be 1 to 20")
		}
		if r.Per != "client" && r.Per != "household" {
			bad("per", "must be client or household")
		}
		if r.DeviceKind != "" && !contains(DeviceKinds, r.DeviceKind) {
			bad("device_kind", "must be one of "+strings.Join(DeviceKinds, ", ")+", or left out for the kind requested")
		}
	case KindAgeRange:
		if r.MinAge == nil && r.MaxAge == nil {
			bad("min_age", "give min_age, max_age or both")
		}
		if r.MinAge != nil && (*r.MinAge < 0 || *r.MinAge > 130) {
			bad("min_age", "must be 0 to 130")
		}
		if r.MaxAge != nil && (*r.MaxAge < 0 || *r.MaxAge > 130) {
			bad("max_age", "must be 0 to 130")
		}
		if r.MinAge != nil && r.MaxAge != nil && *r.MinAge > *r.MaxAge {
			bad("max_age", "must not be below min_age")
		}
	case KindPostalArea:
		if len(r.Prefixes) == 0 {
			bad("postal_prefixes", "must list at least one postal code or prefix")
		}
		for i, p := range r.Prefixes {
			if strings.TrimSpace(p) == "" || len([]rune(p)) > 20 {
				bad(fmt.Sprintf("postal_prefixes[%d]", i), "must be 1 to 20 characters")
			}
		}
	case KindNeeds:
		if len(r.Flags) == 0 {
			bad("flags", "must list at least one needs flag")
		}
		for i, f := range r.Flags {
			if !ValidCode(f) {
				bad(fmt.Sprintf("flags[%d]", i), "must be a code of lowercase letters, digits and underscores")
			}
		}
	case KindTraining:
		if r.Hours == nil && len(r.Modules) == 0 {
			bad("hours", "give hours (with months), modules, or both")
		}
		if r.Hours != nil {
			if *r.Hours <= 0 || *r.Hours > 1000 {
				bad("hours", "must be more than 0 and at most 1000")
			}
			months()
		} else if r.Months != 0 {
			bad("months", "goes with hours: the window in which the hours count")
		}
		for i, m := range r.Modules {
			if strings.TrimSpace(m) == "" || len([]rune(m)) > 100 {
				bad(fmt.Sprintf("modules[%d]", i), "must be a module (topic) name of 1 to 100 characters")
			}
		}
	default:
		bad("kind", "must be one of "+joinKinds())
	}
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// ValidCode reports whether s is a program or flag code: lowercase letters,
// digits and underscores, starting with a letter, at most 40 long.
func ValidCode(s string) bool {
	if s == "" || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// DefaultRuleSet is what ships: income at or below 200% of the guideline OR
// enrolled in a qualifying program, proof within 12 months, one open loan
// per kind per client, one hotspot per household, no unresolved loss in 12
// months.
const DefaultRuleSet = `{
  "name": "DeviceBank default",
  "region": "48",
  "rules": {"all_of": [
    {"name": "income_or_program", "any_of": [
      {"kind": "income", "percent": 200},
      {"kind": "programs", "programs": ["snap", "medicaid", "ssi", "public_housing", "veterans_pension", "wic", "tanf", "school_meals", "pell", "lifeline", "tribal"]}
    ]},
    {"kind": "proof_recent", "months": 12},
    {"kind": "max_open_loans", "per": "client", "max": 1},
    {"kind": "max_open_loans", "per": "household", "max": 1, "device_kind": "hotspot"},
    {"kind": "no_recent_loss", "months": 12}
  ]}
}`
