package eligibility

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/devicebank/devicebank/calendar"
)

// Outcome is what a decision says.
type Outcome string

const (
	Eligible    Outcome = "eligible"
	Ineligible  Outcome = "ineligible"
	NeedsReview Outcome = "needs_review"
)

// Situation is what the agency knows of a client and their household.
type Situation struct {
	HouseholdSize int
	// AnnualIncomeCents is the household's yearly income; nil when the
	// client did not disclose it.
	AnnualIncomeCents *int64
	Programs          []string
	ProofVerifiedOn   calendar.Date // zero: never verified
	DateOfBirth       calendar.Date // zero: unknown
	PostalCode        string
	Needs             []string
}

// Request is what is asked for.
type Request struct {
	DeviceKind    string
	NeedsDataPlan bool
}

// History is the client's and household's record with the lending program.
type History struct {
	// OpenLoans counts the client's open loans by device kind.
	OpenLoans map[string]int
	// HouseholdOpenLoans counts the household's open loans (the client's
	// included) by device kind.
	HouseholdOpenLoans map[string]int
	// UnresolvedLosses are the dates of loans marked lost whose device was
	// never recovered.
	UnresolvedLosses []calendar.Date
	// LastLoanEndedOn is when the client's last loan was returned or lost;
	// zero if none ended.
	LastLoanEndedOn calendar.Date
	// Training is the client's attended training, one entry per session.
	Training []TrainingCredit
}

// TrainingCredit is one session a client attended.
type TrainingCredit struct {
	On        calendar.Date // the day of the session
	Minutes   int           // credited time
	Module    string        // the session's topic
	Completed bool          // the module was completed there
}

// Decision is the evaluator's answer with one result per rule.
type Decision struct {
	Outcome        Outcome       `json:"outcome"`
	RuleSetVersion int           `json:"rule_set_version"`
	DecidedOn      calendar.Date `json:"decided_on"`
	Rules          []RuleResult  `json:"rules"`
}

// RuleResult is one rule's verdict, with a reason a social worker can read
// aloud to the client.
type RuleResult struct {
	Rule   string `json:"rule"`
	Passed bool   `json:"passed"`
	// Unknown is set when the rule could not be decided for lack of
	// information (income not disclosed, no date of birth).
	Unknown bool   `json:"unknown,omitempty"`
	Reason  string `json:"reason"`
}

// verdict is three-valued: a rule passes, fails, or cannot be decided.
type verdict int

const (
	fail verdict = iota
	unknown
	pass
)

// Input is everything one decision depends on.
type Input struct {
	Situation  Situation
	Request    Request
	History    History
	RuleSet    *RuleSet
	Version    int
	Guidelines Guidelines
	On         calendar.Date // the decision date: it picks the guideline year
}

// Evaluate decides. It is a pure function of its input: the same input
// gives the same decision, whatever the date or database. It never panics
// on a rule set that passed Validate, nor on any situation.
func Evaluate(in Input) Decision {
	e := evaluator{in: in, results: make([]RuleResult, 0, 8)}
	v := e.eval(&in.RuleSet.Rules)
	out := Decision{RuleSetVersion: in.Version, DecidedOn: in.On, Rules: e.results}
	switch v {
	case pass:
		out.Outcome = Eligible
	case fail:
		out.Outcome = Ineligible
	default:
		out.Outcome = NeedsReview
	}
	return out
}

type evaluator struct {
	in      Input
	results []RuleResult
}

func (e *evaluator) eval(r *Rule) verdict {
	switch {
	case r.AllOf != nil:
		return e.group(r, r.AllOf, true)
	case r.AnyOf != nil:
		return e.group(r, r.AnyOf, false)
	}
	v, reason := e.check(r)
	e.results = append(e.results, RuleResult{Rule: ruleName(r), Passed: v == pass, Unknown: v == unknown, Reason: reason})
	return v
}

// group combines its rules: all_of fails if any fails, any_of passes if
// any passes; otherwise an undecided rule leaves the group undecided. A
// named group, and every any_of, reports its own result too, so that a
// failed rule that did not matter is explained.
func (e *evaluator) group(r *Rule, rules []Rule, all bool) verdict {
	sawUnknown, sawPass, sawFail := false, false, false
	var passed, failed []string
	for i := range rules {
		switch e.eval(&rules[i]) {
		case pass:
			sawPass = true
			passed = append(passed, ruleName(&rules[i]))
		case fail:
			sawFail = true
			failed = append(failed, ruleName(&rules[i]))
		default:
			sawUnknown = true
		}
	}
	var v verdict
	switch {
	case all && sawFail, !all && !sawPass && !sawUnknown:
		v = fail
	case all && !sawUnknown, !all && sawPass:
		v = pass
	default:
		v = unknown
	}
	if !all || r.Name != "" {
		var reason string
		switch {
		case !all && v == pass:
			reason = "met: " + strings.Join(passed, ", ") + " passed, and one is enough"
		case !all && v == fail:
			reason = "none of " + strings.Join(failed, ", ") + " passed; one is needed"
		case all && v == pass:
			reason = "all of its rules passed"
		case all && v == fail:
			reason = "not met: " + strings.Join(failed, ", ") + " did not pass"
		default:
			reason = "cannot be decided until the missing information is recorded"
		}
		e.results = append(e.results, RuleResult{Rule: ruleName(r), Passed: v == pass, Unknown: v == unknown, Reason: reason})
	}
	return v
}

// ruleName is the rule's given name, or one made from what it checks.
func ruleName(r *Rule) string {
	if r.Name != "" {
		return r.Name
	}
	switch {
	case r.AllOf != nil:
		return "all_of"
	case r.AnyOf != nil:
		return "any_of"
	}
	switch r.Kind {
	case KindIncome:
		return "income_at_most_" + strconv.Itoa(r.Percent) + "_percent"
	case KindMaxOpenLoans:
		kind := r.DeviceKind
		if kind == "" {
			kind = "same_kind"
		}
		return "max_open_" + kind + "_per_" + r.Per
	}
	return string(r.Kind)
}

// check runs one rule.
func (e *evaluator) check(r *Rule) (verdict, string) {
	s, h, on := &e.in.Situation, &e.in.History, e.in.On
	switch r.Kind {
	case KindIncome:
		size := s.HouseholdSize
		if size < 1 {
			return unknown, "household size is not recorded"
		}
		g, exact := e.in.Guidelines.For(e.in.RuleSet.Region, on.Year)
		if g == nil {
			return unknown, fmt.Sprintf("no poverty guideline table for region %s in %d is loaded", e.in.RuleSet.Region, on.Year)
		}
		if s.AnnualIncomeCents == nil {
			return unknown, "household income was not disclosed"
		}
		limit := g.Threshold(size, r.Percent)
		income := *s.AnnualIncomeCents
		year := strconv.Itoa(g.Year)
		if !exact {
			year += " (the latest table loaded)"
		}
		compare := "is at or below"
		v := pass
		if income > limit {
			compare, v = "is above", fail
		}
		return v, fmt.Sprintf("household income %s %s %d%% of the %s guideline for %s (%s)",
			money(income, g.Currency), compare, r.Percent, year, people(size), money(limit, g.Currency))

	case KindPrograms:
		for _, p := range s.Programs {
			if contains(r.Programs, p) {
				return pass, "the household takes part in " + programName(p)
			}
		}
		return fail, "the household takes part in none of the qualifying programs (" + strings.Join(r.Programs, ", ") + ")"

	case KindProofRecent:
		if s.ProofVerifiedOn.IsZero() {
			return unknown, "no proof of income or programs has been verified yet"
		}
		oldest := on.AddMonths(-r.Months)
		if s.ProofVerifiedOn.Before(oldest) {
			return fail, fmt.Sprintf("proof was last verified on %s, more than %s ago; it must be verified again", s.ProofVerifiedOn, months(r.Months))
		}
		return pass, fmt.Sprintf("proof was verified on %s, within %s", s.ProofVerifiedOn, months(r.Months))

	case KindMaxOpenLoans:
		kind := r.DeviceKind
		if kind == "" {
			kind = e.in.Request.DeviceKind
		} else if kind != e.in.Request.DeviceKind {
			return pass, "applies only to " + kind + " requests"
		}
		counts, who := h.OpenLoans, "the client has"
		if r.Per == "household" {
			counts, who = h.HouseholdOpenLoans, "the household has"
		}
		n := counts[kind]
		if n >= *r.Max {
			return fail, fmt.Sprintf("%s %s on loan already; the limit is %d", who, plural(n, kind), *r.Max)
		}
		return pass, fmt.Sprintf("%s %s on loan; the limit is %d", who, plural(n, kind), *r.Max)

	case KindNoRecentLoss:
		since := on.AddMonths(-r.Months)
		for _, d := range h.UnresolvedLosses {
			if !d.Before(since) {
				return fail, fmt.Sprintf("a device lent to the client was reported lost on %s and not recovered (within %s)", d, months(r.Months))
			}
		}
		return pass, fmt.Sprintf("no unrecovered lost device in the last %s", months(r.Months))

	case KindWaitingPeriod:
		if h.LastLoanEndedOn.IsZero() {
			return pass, "no earlier loan has ended"
		}
		until := h.LastLoanEndedOn.AddMonths(r.Months)
		if on.Before(until) {
			return fail, fmt.Sprintf("the last loan ended on %s; a new one can start from %s", h.LastLoanEndedOn, until)
		}
		return pass, fmt.Sprintf("the last loan ended on %s, more than %s ago", h.LastLoanEndedOn, months(r.Months))

	case KindAgeRange:
		if s.DateOfBirth.IsZero() {
			return unknown, "date of birth is not recorded"
		}
		age := s.DateOfBirth.YearsSince(on)
		if r.MinAge != nil && age < *r.MinAge {
			return fail, fmt.Sprintf("the client is %d; the minimum age is %d", age, *r.MinAge)
		}
		if r.MaxAge != nil && age > *r.MaxAge {
			return fail, fmt.Sprintf("the client is %d; the maximum age is %d", age, *r.MaxAge)
		}
		return pass, fmt.Sprintf("the client is %d, within the age range", age)

	case KindPostalArea:
		code := strings.ToUpper(strings.ReplaceAll(s.PostalCode, " ", ""))
		if code == "" {
			return unknown, "postal code is not recorded"
		}
		for _, p := range r.Prefixes {
			if strings.HasPrefix(code, strings.ToUpper(strings.ReplaceAll(p, " ", ""))) {
				return pass, "postal code " + s.PostalCode + " is in the service area"
			}
		}
		return fail, "postal code " + s.PostalCode + " is outside the service area"

	case KindTraining:
		var notes []string
		v := pass
		if r.Hours != nil {
			since := on.AddMonths(-r.Months)
			minutes := 0
			for _, c := range h.Training {
				if !c.On.Before(since) && !c.On.After(on) {
					minutes += c.Minutes
				}
			}
			got := float64(minutes) / 60
			notes = append(notes, fmt.Sprintf("%s of %s required hours completed in the last %s", FormatHours(got), FormatHours(*r.Hours), months(r.Months)))
			if got+1e-9 < *r.Hours {
				v = fail
			}
		}
		if len(r.Modules) > 0 {
			done := map[string]bool{}
			for _, c := range h.Training {
				if c.Completed {
					done[c.Module] = true
				}
			}
			var missing []string
			for _, m := range r.Modules {
				if !done[m] {
					missing = append(missing, m)
				}
			}
			if len(missing) > 0 {
				v = fail
				notes = append(notes, "modules still to complete: "+strings.Join(missing, ", "))
			} else {
				notes = append(notes, "completed the modules "+strings.Join(r.Modules, ", "))
			}
		}
		return v, strings.Join(notes, "; ")

	case KindNeeds:
		for _, f := range s.Needs {
			if contains(r.Flags, f) {
				return pass, "the client has the need " + strings.ReplaceAll(f, "_", " ")
			}
		}
		return fail, "the client has none of the needs " + strings.Join(r.Flags, ", ")
	}
	return unknown, "unknown rule kind " + string(r.Kind)
}

func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return strconv.Itoa(n) + " people"
}

func months(n int) string {
	if n%12 == 0 {
		if n == 12 {
			return "12 months"
		}
		return strconv.Itoa(n/12) + " years"
	}
	if n == 1 {
		return "1 month"
	}
	return strconv.Itoa(n) + " months"
}

func plural(n int, kind string) string {
	if n == 1 {
		return "1 " + kind
	}
	return strconv.Itoa(n) + " " + kind + "s"
}

var programNames = map[string]string{
	"snap": "SNAP", "medicaid": "Medicaid", "ssi": "SSI", "public_housing": "public housing (Section 8)",
	"veterans_pension": "the Veterans Pension", "wic": "WIC", "tanf": "TANF",
	"school_meals": "free or reduced-price school meals", "pell": "a Pell Grant", "lifeline": "Lifeline",
	"tribal": "a Tribal program",
}

func programName(code string) string {
	if n, ok := programNames[code]; ok {
		return n
	}
	return strings.ReplaceAll(code, "_", " ")
}

// money writes cents as "$41,000" or "$41,000.50".
func money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	symbol := "$"
	if currency != "" && currency != "USD" && currency != "CAD" {
		symbol = currency + " "
	}
	s := sign + symbol + b.String()
	if rest := cents % 100; rest != 0 {
		s += fmt.Sprintf(".%02d", rest)
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Score is a request's waitlist priority under the rule set's weights,
// with the reasons that make it up ("high urgency: +30").
func Score(rs *RuleSet, urgency string, needs []string) (int, []string) {
	p := DefaultPriority
	if rs != nil && rs.Priority != nil {
		p = *rs.Priority
	}
	score := p.Urgency[urgency]
	reasons := []string{fmt.Sprintf("%s urgency: +%d", urgency, score)}
	for _, f := range needs {
		if w, ok := p.Needs[f]; ok && w > 0 {
			score += w
			reasons = append(reasons, fmt.Sprintf("%s: +%d", strings.ReplaceAll(f, "_", " "), w))
		}
	}
	return score, reasons
}

// hours writes a number of hours without trailing zeros: 2, 2.5, 1.25.
// FormatHours writes a number of hours for people: at most two decimals
// (1.5, 0.83), never 0.8333333333333334.
func FormatHours(h float64) string {
	return strconv.FormatFloat(math.Round(h*100)/100, 'f', -1, 64)
}
