package eligibility

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/calendar"
)

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func cents(dollars int64) *int64 { c := dollars * 100; return &c }

func defaultRules(t testing.TB) *RuleSet {
	rs, err := ParseRuleSet([]byte(DefaultRuleSet))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func shippedGuidelines(t testing.TB) Guidelines {
	gs, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// eligibleBase is a client who qualifies by income under the default rules.
func eligibleBase() Input {
	return Input{
		Situation: Situation{HouseholdSize: 3, AnnualIncomeCents: cents(30000), ProofVerifiedOn: date("2026-01-15"),
			PostalCode: "60623"},
		Request: Request{DeviceKind: "laptop"},
		On:      date("2026-06-01"),
		Version: 1,
	}
}

func result(d Decision, rule string) *RuleResult {
	for i := range d.Rules {
		if d.Rules[i].Rule == rule {
			return &d.Rules[i]
		}
	}
	return nil
}

func TestDefaultRulesAtTheirBoundaries(t *testing.T) {
	rules, guides := defaultRules(t), shippedGuidelines(t)
	limit3 := int64(2732000 * 2) // 200% of the 2026 guideline for 3 people, in cents
	cases := []struct {
		name   string
		change func(in *Input)
		want   Outcome
		rule   string // a rule whose reason is checked
		reason string
	}{
		{"income well below", func(in *Input) {}, Eligible, "income_at_most_200_percent",
			"household income $30,000 is at or below 200% of the 2026 guideline for 3 people ($54,640)"},
		{"income exactly at the threshold", func(in *Input) { in.Situation.AnnualIncomeCents = &limit3 }, Eligible,
			"income_at_most_200_percent", "household income $54,640 is at or below 200%"},
		{"income one dollar over", func(in *Input) { c := limit3 + 100; in.Situation.AnnualIncomeCents = &c }, Ineligible,
			"income_at_most_200_percent", "household income $54,641 is above 200% of the 2026 guideline for 3 people ($54,640)"},
		{"one dollar over but on SNAP", func(in *Input) {
			c := limit3 + 100
			in.Situation.AnnualIncomeCents = &c
			in.Situation.Programs = []string{"snap"}
		}, Eligible, "income_or_program", "met: programs passed"},
		{"household of 9 uses the per-person increment", func(in *Input) {
			in.Situation.HouseholdSize = 9
			in.Situation.AnnualIncomeCents = cents((55720 + 5680) * 2) // exactly 200% for 9
		}, Eligible, "income_at_most_200_percent", "200% of the 2026 guideline for 9 people ($122,800)"},
		{"household of 9, one dollar over", func(in *Input) {
			in.Situation.HouseholdSize = 9
			in.Situation.AnnualIncomeCents = cents((55720+5680)*2 + 1)
		}, Ineligible, "income_at_most_200_percent", "is above"},
		{"income not disclosed", func(in *Input) { in.Situation.AnnualIncomeCents = nil }, NeedsReview,
			"income_at_most_200_percent", "household income was not disclosed"},
		{"income not disclosed but on Medicaid", func(in *Input) {
			in.Situation.AnnualIncomeCents = nil
			in.Situation.Programs = []string{"medicaid"}
		}, Eligible, "programs", "the household takes part in Medicaid"},
		{"proof exactly 12 months old", func(in *Input) { in.Situation.ProofVerifiedOn = date("2025-06-01") }, Eligible,
			"proof_recent", "within 12 months"},
		{"proof 12 months and one day old", func(in *Input) { in.Situation.ProofVerifiedOn = date("2025-05-31") }, Ineligible,
			"proof_recent", "proof was last verified on 2025-05-31, more than 12 months ago"},
		{"no proof on record", func(in *Input) { in.Situation.ProofVerifiedOn = calendar.Date{} }, NeedsReview,
			"proof_recent", "no proof"},
		{"already has a laptop", func(in *Input) { in.History.OpenLoans = map[string]int{"laptop": 1} }, Ineligible,
			"max_open_same_kind_per_client", "the client has 1 laptop on loan already; the limit is 1"},
		{"has a phone, asks for a laptop", func(in *Input) { in.History.OpenLoans = map[string]int{"phone": 1} }, Eligible,
			"max_open_same_kind_per_client", "the client has 0 laptops on loan"},
		{"household already has a hotspot", func(in *Input) {
			in.Request.DeviceKind = "hotspot"
			in.History.HouseholdOpenLoans = map[string]int{"hotspot": 1}
		}, Ineligible, "max_open_hotspot_per_household", "the household has 1 hotspot on loan already"},
		{"household hotspot does not limit laptops", func(in *Input) {
			in.History.HouseholdOpenLoans = map[string]int{"hotspot": 1}
		}, Eligible, "max_open_hotspot_per_household", "applies only to hotspot requests"},
		{"lost a device 11 months ago", func(in *Input) { in.History.UnresolvedLosses = []calendar.Date{date("2025-07-01")} }, Ineligible,
			"no_recent_loss", "reported lost on 2025-07-01"},
		{"lost a device 13 months ago", func(in *Input) { in.History.UnresolvedLosses = []calendar.Date{date("2025-05-01")} }, Eligible,
			"no_recent_loss", "no unrecovered lost device in the last 12 months"},
		{"a 2025 decision uses the 2025 table", func(in *Input) {
			in.On = date("2025-06-01")
			in.Situation.ProofVerifiedOn = date("2025-05-01")
			in.Situation.AnnualIncomeCents = cents(26650 * 2)
		}, Eligible, "income_at_most_200_percent", "200% of the 2025 guideline for 3 people ($53,300)"},
		{"the same income a dollar over in 2025", func(in *Input) {
			in.On = date("2025-06-01")
			in.Situation.ProofVerifiedOn = date("2025-05-01")
			in.Situation.AnnualIncomeCents = cents(26650*2 + 1)
		}, Ineligible, "income_at_most_200_percent", "is above 200% of the 2025 guideline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := eligibleBase()
			in.RuleSet, in.Guidelines = rules, guides
			c.change(&in)
			d := Evaluate(in)
			if d.Outcome != c.want {
				b, _ := json.MarshalIndent(d, "", "  ")
				t.Fatalf("outcome %s, want %s\n%s", d.Outcome, c.want, b)
			}
			r := result(d, c.rule)
			if r == nil {
				t.Fatalf("no result for rule %s in %+v", c.rule, d.Rules)
			}
			if !strings.Contains(r.Reason, c.reason) {
				t.Fatalf("reason for %s = %q, want it to contain %q", c.rule, r.Reason, c.reason)
			}
			if d.RuleSetVersion != 1 || d.DecidedOn != in.On {
				t.Fatalf("decision does not record its version and date: %+v", d)
			}
		})
	}
}

func TestOptionalRuleKinds(t *testing.T) {
	rs, err := ParseRuleSet([]byte(`{"name": "youth pilot", "region": "48", "rules": {"all_of": [
		{"kind": "age_range", "min_age": 16, "max_age": 24},
		{"kind": "postal_area", "postal_prefixes": ["606", "H2X"]},
		{"kind": "needs", "flags": ["leaving_care", "fleeing_violence"]},
		{"kind": "waiting_period", "months": 6}
	]}}`))
	if err != nil {
		t.Fatal(err)
	}
	base := Input{RuleSet: rs, Guidelines: shippedGuidelines(t), On: date("2026-06-01"), Request: Request{DeviceKind: "phone"},
		Situation: Situation{HouseholdSize: 1, DateOfBirth: date("2008-06-01"), PostalCode: "h2x 1y4", Needs: []string{"leaving_care"}},
		History:   History{LastLoanEndedOn: date("2025-12-01")}}
	if d := Evaluate(base); d.Outcome != Eligible {
		t.Fatalf("want eligible: %+v", d)
	}
	for name, change := range map[string]func(in *Input){
		"15 years old":         func(in *Input) { in.Situation.DateOfBirth = date("2010-06-02") },
		"25 years old":         func(in *Input) { in.Situation.DateOfBirth = date("2001-06-01") },
		"outside the area":     func(in *Input) { in.Situation.PostalCode = "10001" },
		"no qualifying need":   func(in *Input) { in.Situation.Needs = []string{"disability"} },
		"last loan too recent": func(in *Input) { in.History.LastLoanEndedOn = date("2025-12-02") },
	} {
		in := base
		change(&in)
		if d := Evaluate(in); d.Outcome != Ineligible {
			t.Errorf("%s: outcome %s, want ineligible: %+v", name, d.Outcome, d.Rules)
		}
	}
	in := base
	in.Situation.DateOfBirth = calendar.Date{}
	if d := Evaluate(in); d.Outcome != NeedsReview {
		t.Errorf("no date of birth: %s, want needs_review", d.Outcome)
	}
}

func TestParseRuleSetNamesEveryBadPath(t *testing.T) {
	_, err := ParseRuleSet([]byte(`{"name": "", "region": "48", "rules": {"all_of": [
		{"kind": "income", "percent": 0},
		{"any_of": []},
		{"kind": "max_open_loans", "per": "street", "max": 0, "device_kind": "fridge"},
		{"kind": "teleport"},
		{"kind": "programs", "programs": ["SNAP!"], "all_of": [{"kind": "income", "percent": 100}]}
	]}}`))
	if err == nil {
		t.Fatal("a bad rule set was accepted")
	}
	problems := err.(*ValidationError).Problems
	for _, path := range []string{"name", "rules.all_of[0].percent", "rules.all_of[1].any_of", "rules.all_of[2].per",
		"rules.all_of[2].max", "rules.all_of[2].device_kind", "rules.all_of[3].kind", "rules.all_of[4]"} {
		if problems[path] == "" {
			t.Errorf("no problem reported at %s: %v", path, problems)
		}
	}
	if _, err := ParseRuleSet([]byte(`{"name": "x", "region": "48", "rules": {"kind": "income", "percent": 100}, "extra": 1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// FuzzEvaluateNeverPanics feeds the evaluator any rule set that validates
// and any situation.
func FuzzEvaluateNeverPanics(f *testing.F) {
	f.Add([]byte(DefaultRuleSet), int64(4100000), 3, "2026-06-01", "2025-06-01", "laptop", "snap", 1, 0)
	f.Add([]byte(`{"name":"a","region":"48","rules":{"any_of":[{"kind":"age_range","max_age":0},{"kind":"needs","flags":["x"]}]}}`),
		int64(-5), 0, "1990-01-01", "", "", "", -3, 99)
	guides := shippedGuidelines(f)
	f.Fuzz(func(t *testing.T, rules []byte, income int64, size int, on, proof, kind, program string, open, household int) {
		rs, err := ParseRuleSet(rules)
		if err != nil {
			return
		}
		onDate, _ := calendar.Parse(on)
		proofDate, _ := calendar.Parse(proof)
		in := Input{RuleSet: rs, Guidelines: guides, On: onDate, Request: Request{DeviceKind: kind},
			Situation: Situation{HouseholdSize: size, AnnualIncomeCents: &income, ProofVerifiedOn: proofDate,
				Programs: []string{program}, DateOfBirth: proofDate},
			History: History{OpenLoans: map[string]int{kind: open}, HouseholdOpenLoans: map[string]int{kind: household},
				UnresolvedLosses: []calendar.Date{proofDate}, LastLoanEndedOn: onDate}}
		d := Evaluate(in)
		switch d.Outcome {
		case Eligible, Ineligible, NeedsReview:
		default:
			t.Fatalf("outcome %q", d.Outcome)
		}
		if len(d.Rules) == 0 {
			t.Fatal("a decision without rule results")
		}
	})
}

// BenchmarkEvaluate is one decision under the default rules.
func BenchmarkEvaluate(b *testing.B) {
	in := eligibleBase()
	in.RuleSet, in.Guidelines = defaultRules(b), shippedGuidelines(b)
	in.History = History{OpenLoans: map[string]int{"phone": 1}, HouseholdOpenLoans: map[string]int{"hotspot": 1}}
	b.ReportAllocs()
	for b.Loop() {
		if Evaluate(in).Outcome != Eligible {
			b.Fatal("not eligible")
		}
	}
}

func TestTrainingRule(t *testing.T) {
	rs, err := ParseRuleSet([]byte(`{"name": "training first", "region": "48", "rules": {"all_of": [
		{"kind": "training", "hours": 6, "months": 12},
		{"kind": "training", "modules": ["device_basics", "internet_safety"]}
	]}}`))
	if err != nil {
		t.Fatal(err)
	}
	on := date("2026-06-01")
	credit := func(day string, minutes int, module string, done bool) TrainingCredit {
		return TrainingCredit{On: date(day), Minutes: minutes, Module: module, Completed: done}
	}
	cases := []struct {
		name     string
		training []TrainingCredit
		want     Outcome
		reason   string
	}{
		{"none", nil, Ineligible, "0 of 6 required hours completed in the last 12 months"},
		{"two hours", []TrainingCredit{credit("2026-05-01", 120, "device_basics", true)}, Ineligible, "2 of 6 required hours"},
		{"exactly six, both modules", []TrainingCredit{credit("2026-05-01", 240, "device_basics", true), credit("2025-06-01", 120, "internet_safety", true)},
			Eligible, "6 of 6 required hours"},
		{"six, but two of them 12 months and a day ago", []TrainingCredit{credit("2026-05-01", 240, "device_basics", true), credit("2025-05-31", 120, "internet_safety", true)},
			Ineligible, "4 of 6 required hours"},
		{"hours but a module missing", []TrainingCredit{credit("2026-05-01", 400, "device_basics", true), credit("2026-05-02", 60, "internet_safety", false)},
			Ineligible, "modules still to complete: internet_safety"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Evaluate(Input{RuleSet: rs, On: on, Request: Request{DeviceKind: "laptop"}, History: History{Training: c.training}})
			if d.Outcome != c.want {
				t.Fatalf("outcome %s, want %s: %+v", d.Outcome, c.want, d.Rules)
			}
			found := false
			for _, r := range d.Rules {
				found = found || strings.Contains(r.Reason, c.reason)
			}
			if !found {
				t.Fatalf("no reason contains %q: %+v", c.reason, d.Rules)
			}
		})
	}
	if _, err := ParseRuleSet([]byte(`{"name": "x", "region": "48", "rules": {"kind": "training", "months": 6}}`)); err == nil {
		t.Fatal("a training rule with neither hours nor modules was accepted")
	}
}
