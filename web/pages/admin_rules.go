package pages

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
)

// The eligibility rules are a tree of groups and checks. The page shows
// the tree in words, one item per rule, and edits it as JSON in a text
// area (beside a name and a region field): a rule set that is wrong is
// shown again as typed, with the tree in words below it carrying each
// problem under the rule at fault, and every problem summed up at the top,
// named by the rule's place ("Rule 2 › rule 1: months"). Nothing is saved
// until the whole set is valid: ReplaceRuleSet, as PUT
// /api/v1/eligibility/rules, stores it as the next version.

func rulesForm() *Form {
	return NewForm("name", "Name", "region", "Guideline region", "rules", "Rules", "priority", "Waitlist priority")
}

type rulesData struct {
	Version *eligibility.StoredRuleSet
	// Tree is the rules in words: the current ones, or those sent with
	// their problems.
	Tree  *ruleNode
	Saved bool
	Kinds []kindHelp
}

// ruleNode is one rule of the tree in words.
type ruleNode struct {
	// ID is the rule's path in the set ("rules.all_of[1]").
	ID       string
	Place    string
	Text     string
	Problems []FieldError
	Children []*ruleNode
}

type kindHelp struct{ Kind, Fields, About string }

var kindHelps = []kindHelp{
	{"income", `"percent"`, "household income at or below this % of the federal poverty guideline"},
	{"programs", `"programs": ["snap", …]`, "enrolled in any of these benefit programs"},
	{"proof_recent", `"months"`, "income or program proof checked within this many months"},
	{"max_open_loans", `"max", "per": "client" or "household", "device_kind" (optional)`, "fewer than max open loans"},
	{"no_recent_loss", `"months"`, "no unresolved lost device in this many months"},
	{"waiting_period", `"months"`, "this many months since the last loan ended"},
	{"age_range", `"min_age", "max_age"`, "age within the range"},
	{"postal_area", `"postal_prefixes": ["M4", …]`, "postal code starts with one of these"},
	{"needs", `"flags": [ … ]`, "has any of these needs flags"},
	{"training", `"hours" and "months", and/or "modules": [ … ]`, "training completed"},
}

func indentJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func (p *Pages) rulesPage(c *fiber.Ctx) error {
	cur, err := p.svc.Eligibility.CurrentRuleSet(c.UserContext())
	if err != nil {
		return err
	}
	rs := cur.RuleSet
	f := rulesForm()
	f.Values["name"], f.Values["region"], f.Values["rules"] = rs.Name, rs.Region, indentJSON(rs.Rules)
	if rs.Priority != nil {
		f.Values["priority"] = indentJSON(rs.Priority)
	}
	d := rulesData{Version: cur, Tree: ruleTree("rules", &rs.Rules, nil), Saved: c.Query("saved") == "1", Kinds: kindHelps}
	return p.render(c, fiber.StatusOK, "rules", "Eligibility rules", f, d)
}

// saveRules checks the form and stores the rule set as the next version,
// or shows it again with its problems; nothing is saved then.
func (p *Pages) saveRules(c *fiber.Ctx) error {
	cur, err := p.svc.Eligibility.CurrentRuleSet(c.UserContext())
	if err != nil {
		return err
	}
	f := rulesForm()
	for _, name := range f.Order {
		f.Values[name] = c.FormValue(name)
	}
	f.Values["name"], f.Values["region"] = strings.TrimSpace(f.Values["name"]), strings.TrimSpace(f.Values["region"])
	d := rulesData{Version: cur, Kinds: kindHelps}
	fail := func(err error) error {
		if !f.Fail(err) {
			return err
		}
		p.placeRuleProblems(f, &d)
		return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "rules", "Eligibility rules", f, d)
	}

	// The text areas must be JSON before the set can be checked; where
	// they are not is told by line and column.
	body := map[string]any{"name": f.Values["name"], "region": f.Values["region"]}
	var bad apperr.Fields
	for _, name := range []string{"rules", "priority"} {
		text := strings.TrimSpace(f.Values[name])
		if text == "" {
			bad.Check(name == "rules", name, "is required: the rules, written as JSON")
			continue
		}
		if problem := jsonProblem(text); problem != "" {
			bad.Add(name, problem)
			continue
		}
		body[name] = json.RawMessage(text)
	}
	if err := bad.Err(); err != nil {
		// The name and the region are checked all the same, as the
		// service would, with a rule that holds in place of the text.
		body["rules"] = json.RawMessage(`{"kind": "income", "percent": 100}`)
		delete(body, "priority")
		data, _ := json.Marshal(body)
		if _, err := eligibility.ParseRuleSet(data); err != nil {
			if ve, ok := err.(*eligibility.ValidationError); ok {
				for _, field := range []string{"name", "region"} {
					if msg, ok := ve.Problems[field]; ok {
						bad.Add(field, msg)
					}
				}
			}
		}
		return fail(bad.Err())
	}
	data, _ := json.Marshal(body)
	if _, err := p.svc.Eligibility.ReplaceRuleSet(c.UserContext(), Actor(c), data); err != nil {
		return fail(err)
	}
	return c.Redirect("/eligibility/rules?saved=1", fiber.StatusSeeOther)
}

// jsonProblem says where text is not JSON, by line and column ("" if it is).
func jsonProblem(text string) string {
	var v any
	dec := json.NewDecoder(strings.NewReader(text))
	err := dec.Decode(&v)
	if err == nil {
		if dec.More() {
			return "holds more than one JSON value: remove what follows the closing bracket"
		}
		return ""
	}
	offset := int(dec.InputOffset())
	if se, ok := err.(*json.SyntaxError); ok {
		offset = int(se.Offset)
	}
	offset = min(offset, len(text))
	line := strings.Count(text[:offset], "\n") + 1
	col := offset - strings.LastIndex(text[:offset], "\n")
	return fmt.Sprintf("is not valid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(err.Error(), "json: "))
}

// placeRuleProblems moves the problems of single rules (rules.all_of[1].
// months) from the form's fields to the tree of the rules sent, under the
// rule at fault, names each by its place for the summary, and says on the
// rules field how many there are.
func (p *Pages) placeRuleProblems(f *Form, d *rulesData) {
	if msg, ok := f.Errors["body"]; ok { // the set as a whole: an unknown field, say
		delete(f.Errors, "body")
		f.Errors["rules"] = strings.TrimPrefix(msg, "not a rule set: ")
	}
	problems := map[string]string{}
	for path, msg := range f.Errors {
		switch {
		case strings.HasPrefix(path, "rules.") || strings.HasPrefix(path, "rules["):
			// Under an id of plain characters (the summary links to it),
			// named by the rule's place, in the order of the paths.
			problems[path] = msg
			delete(f.Errors, path)
			f.Errors[ruleID(path)] = msg
			f.Labels[ruleID(path)] = rulePlace(path)
		case strings.HasPrefix(path, "priority."):
			f.Errors["priority"] = strings.TrimPrefix(path, "priority.") + ": " + msg
			delete(f.Errors, path)
		}
	}
	paths := make([]string, 0, len(problems))
	for path := range problems {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f.Order = append(f.Order, ruleID(path))
	}
	var root eligibility.Rule
	if len(problems) > 0 && json.Unmarshal([]byte(f.Values["rules"]), &root) == nil {
		d.Tree = ruleTree("rules", &root, problems)
		if _, ok := f.Errors["rules"]; !ok {
			f.Errors["rules"] = plural(len(problems), "problem") + " in the rules: each is shown under its rule, in “The rules in words” below"
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

var pathStep = regexp.MustCompile(`\.(all_of|any_of)\[(\d+)\]`)

// ruleID is the id of a problem of the rule set at path, as the page
// writes it: "rules.all_of[1].months" is "rules-all_of-1-months".
func ruleID(path string) string {
	return strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(path)
}

var itemIndex = regexp.MustCompile(`\[(\d+)\]`)

// rulePlace names the rule a path is in as the page numbers it, and the
// field: "rules.all_of[1].any_of[0].months" is "Rule 2 › rule 1: months".
func rulePlace(path string) string {
	rest := strings.TrimPrefix(path, "rules")
	var steps []string
	for {
		m := pathStep.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			break
		}
		n, _ := strconv.Atoi(rest[m[4]:m[5]])
		steps = append(steps, "rule "+strconv.Itoa(n+1))
		rest = rest[m[1]:]
	}
	place := "The rules"
	if len(steps) > 0 {
		place = strings.Join(steps, " › ")
		place = strings.ToUpper(place[:1]) + place[1:]
	}
	if field := strings.Trim(rest, "."); field != "" {
		field = itemIndex.ReplaceAllStringFunc(field, func(m string) string {
			n, _ := strconv.Atoi(m[1 : len(m)-1])
			return " (item " + strconv.Itoa(n+1) + ")"
		})
		place += ": " + strings.ReplaceAll(field, "_", " ")
	}
	return place
}

// ruleTree is r, at path, in words, with the problems of each rule under
// it (those of a path of its own fields, not of the rules inside it).
func ruleTree(path string, r *eligibility.Rule, problems map[string]string) *ruleNode {
	n := &ruleNode{ID: ruleID(path), Place: rulePlace(path), Text: describeRule(r)}
	var keys []string
	for k := range problems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != path && !strings.HasPrefix(k, path+".") && !strings.HasPrefix(k, path+"[") {
			continue
		}
		rest := strings.TrimPrefix(k, path)
		if m := pathStep.FindStringIndex(rest); m != nil && m[0] == 0 {
			continue // a rule inside this one
		}
		n.Problems = append(n.Problems, FieldError{Field: ruleID(k), Label: rulePlace(k), Message: problems[k]})
	}
	for name, list := range map[string][]eligibility.Rule{"all_of": r.AllOf, "any_of": r.AnyOf} {
		for i := range list {
			n.Children = append(n.Children, ruleTree(fmt.Sprintf("%s.%s[%d]", path, name, i), &list[i], problems))
		}
	}
	return n
}

// describeRule says what one rule checks, in words.
func describeRule(r *eligibility.Rule) string {
	var s string
	num := func(p *int) string {
		if p == nil {
			return "?"
		}
		return strconv.Itoa(*p)
	}
	switch {
	case r.AllOf != nil:
		s = "All of these:"
	case r.AnyOf != nil:
		s = "Any one of these:"
	default:
		switch r.Kind {
		case eligibility.KindIncome:
			s = fmt.Sprintf("Household income at or below %d%% of the poverty guideline", r.Percent)
		case eligibility.KindPrograms:
			s = "Enrolled in any of these programs: " + strings.Join(r.Programs, ", ")
		case eligibility.KindProofRecent:
			s = fmt.Sprintf("Proof of income or program checked within %d months", r.Months)
		case eligibility.KindMaxOpenLoans:
			kind := r.DeviceKind
			if kind == "" {
				kind = "the kind asked for"
			}
			s = fmt.Sprintf("Fewer than %s open loans of %s per %s", num(r.Max), kind, r.Per)
		case eligibility.KindNoRecentLoss:
			s = fmt.Sprintf("No unresolved lost device in the last %d months", r.Months)
		case eligibility.KindWaitingPeriod:
			s = fmt.Sprintf("At least %d months since the last loan ended", r.Months)
		case eligibility.KindAgeRange:
			s = fmt.Sprintf("Age from %s to %s", num(r.MinAge), num(r.MaxAge))
		case eligibility.KindPostalArea:
			s = "Postal code starts with " + strings.Join(r.Prefixes, ", ")
		case eligibility.KindNeeds:
			s = "Has any of these needs: " + strings.ReplaceAll(strings.Join(r.Flags, ", "), "_", " ")
		case eligibility.KindTraining:
			var parts []string
			if r.Hours != nil {
				parts = append(parts, fmt.Sprintf("%g hours of training within %d months", *r.Hours, r.Months))
			}
			if len(r.Modules) > 0 {
				parts = append(parts, "the modules "+strings.Join(r.Modules, ", "))
			}
			s = "Completed " + strings.Join(parts, " and ")
		default:
			s = fmt.Sprintf("A rule of kind %q", r.Kind)
		}
	}
	if r.Name != "" {
		s = r.Name + ": " + s
	}
	return s
}
