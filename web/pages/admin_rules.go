package pages

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
)

// The eligibility rules are a tree: groups ("all of these", "any one of
// these") and checks (income, programs, months since…). The page is a
// form of that tree, one box per rule with the fields of its kind, so an
// admin edits numbers and lists, not JSON. Each box has a Remove button,
// each group an Add button with the kind of rule to add: these post the
// whole form back and show it changed, saving nothing; "Save" checks the
// whole set with ReplaceRuleSet, as PUT /api/v1/eligibility/rules, and
// stores it as the next version, or shows every problem next to the field
// at fault (and at the top, named by the rule's place, "Rule 2 › rule 1:
// months"), with nothing saved.
//
// A rule's fields are named by its place in the set, made of plain
// characters ("rules-all_of-1-months" for rules.all_of[1].months), which
// is also the id its problem links to.

func rulesForm() *Form {
	return NewForm("name", "Name", "region", "Guideline region")
}

type rulesData struct {
	Version *eligibility.StoredRuleSet
	Tree    *ruleNode
	// Urgency and Needs are the waitlist's weights.
	Urgency []Field
	Needs   []needRow
	Saved   bool
	// Changed says the form was changed (a rule added or removed) but
	// not saved.
	Changed string
}

// ruleNode is one rule of the form.
type ruleNode struct {
	ID, Parent string
	Place      string
	Group      bool
	// Kind is the check's kind, or the group's ("all_of", "any_of").
	Kind      string
	KindLabel string
	Name      Field
	GroupOf   Select
	Fields    []Field
	Selects   []Select
	Problems  []FieldError
	Children  []*ruleNode
	AddKinds  []Option
	Root      bool
}

type needRow struct {
	Flag, Points Field
}

// kindLabels name the kinds of rule as the page offers them.
var kindLabels = []Option{
	{"income", "Income at most a % of the poverty guideline"},
	{"programs", "Enrolled in a benefit program"},
	{"proof_recent", "Proof checked recently"},
	{"max_open_loans", "At most so many open loans"},
	{"no_recent_loss", "No recent lost device"},
	{"waiting_period", "Time since the last loan"},
	{"age_range", "Age range"},
	{"postal_area", "Lives in a postal area"},
	{"needs", "Has a needs flag"},
	{"training", "Training completed"},
}

var groupLabels = []Option{{"all_of", "All of these"}, {"any_of", "Any one of these"}}

func kindLabel(kind string) string {
	for _, o := range append(slices.Clone(kindLabels), groupLabels...) {
		if o.Value == kind {
			return o.Label
		}
	}
	return kind
}

// ruleField is one input of a kind of rule.
type ruleField struct {
	name, label, typ, hint string
}

var ruleFields = map[string][]ruleField{
	"income":         {{"percent", "Percent of the guideline", "number", "Household income at or below this percentage, such as 200."}},
	"programs":       {{"programs", "Programs", "text", "Codes separated by commas: " + strings.Join(clients.Programs, ", ") + "."}},
	"proof_recent":   {{"months", "Months", "number", "Proof of income or of a program checked within this many months."}},
	"max_open_loans": {{"max", "Most open loans", "number", "Fewer than this many open loans."}, {"per", "Counted per", "", ""}, {"device_kind", "Device kind", "", ""}},
	"no_recent_loss": {{"months", "Months", "number", "No unresolved lost device in this many months."}},
	"waiting_period": {{"months", "Months", "number", "At least this many months since the last loan ended."}},
	"age_range":      {{"min_age", "Youngest age", "number", "Empty: no lower limit."}, {"max_age", "Oldest age", "number", "Empty: no upper limit."}},
	"postal_area":    {{"postal_prefixes", "Postal codes", "text", "Codes or their beginnings, separated by commas, such as M4, M5A."}},
	"needs":          {{"flags", "Needs flags", "text", "Any of these, separated by commas: " + strings.Join(clients.Needs, ", ") + "."}},
	"training":       {{"hours", "Hours of training", "number", "Empty: no hours needed."}, {"months", "Within months", "number", "The hours count within this many months."}, {"modules", "Modules completed", "text", "Module names separated by commas. Empty: none needed."}},
}

func (p *Pages) rulesPage(c *fiber.Ctx) error {
	cur, err := p.svc.Eligibility.CurrentRuleSet(c.UserContext())
	if err != nil {
		return err
	}
	rs := cur.RuleSet
	f := rulesForm()
	f.Values["name"], f.Values["region"] = rs.Name, rs.Region
	d := rulesData{Version: cur, Saved: c.Query("saved") == "1"}
	d.Tree = ruleForm("rules", "", &rs.Rules, f, nil)
	d.Urgency, d.Needs = priorityForm(rs.Priority, f)
	return p.render(c, fiber.StatusOK, "rules", "Eligibility rules", f, d)
}

// saveRules reads the form's tree; Add and Remove show it changed, Save
// stores it as the next version or shows its problems.
func (p *Pages) saveRules(c *fiber.Ctx) error {
	cur, err := p.svc.Eligibility.CurrentRuleSet(c.UserContext())
	if err != nil {
		return err
	}
	f := rulesForm()
	f.Values["name"], f.Values["region"] = strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("region"))
	var bad apperr.Fields
	root, raw := readRuleTree(c, &bad)
	priority := readPriority(c, f, &bad)
	d := rulesData{Version: cur}

	action, target, _ := strings.Cut(c.FormValue("action"), ":")
	switch action {
	case "add", "remove":
		keep := raw // adding at the end of a group moves no rule: what was typed stays
		if action == "add" {
			d.Changed = addRule(root, "rules", target, c.FormValue(target+"-add"))
		} else {
			d.Changed, keep = removeRule(root, "rules", target), nil
		}
		d.Tree = ruleForm("rules", "", root, f, keep)
		d.Urgency, d.Needs = priorityForm(priority, f)
		return p.render(c, fiber.StatusOK, "rules", "Eligibility rules", f, d)
	}

	fail := func(err error) error {
		if !f.Fail(err) {
			return err
		}
		problems := placeRuleProblems(f)
		d.Tree = ruleForm("rules", "", root, f, raw)
		d.Tree.Problems = append(problems[""], d.Tree.Problems...)
		d.Urgency, d.Needs = priorityForm(priority, f)
		return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "rules", "Eligibility rules", f, d)
	}
	set := eligibility.RuleSet{Name: f.Values["name"], Region: f.Values["region"], Rules: *root, Priority: priority}
	data, _ := json.Marshal(set)
	if len(bad) > 0 {
		// What could be read is checked too, so that every problem shows.
		if _, err := eligibility.ParseRuleSet(data); err != nil {
			if ve, ok := err.(*eligibility.ValidationError); ok {
				for path, msg := range ve.Problems {
					if _, ok := bad[ruleID(path)]; !ok {
						bad.Add(path, msg)
					}
				}
			}
		}
		return fail(bad.Err())
	}
	if _, err := p.svc.Eligibility.ReplaceRuleSet(c.UserContext(), Actor(c), data); err != nil {
		return fail(err)
	}
	return c.Redirect("/eligibility/rules?saved=1", fiber.StatusSeeOther)
}

// readRuleTree builds the rule tree from the form: each rule's box posts
// its id ("node") and its parent's, its kind and its fields. A number
// that is not one is a problem under its id. raw are the values as typed,
// by field name, to show again.
func readRuleTree(c *fiber.Ctx, bad *apperr.Fields) (*eligibility.Rule, map[string]string) {
	raw := map[string]string{}
	nodes := map[string]*eligibility.Rule{}
	children := map[string][]string{}
	var order []string
	for _, v := range c.Request().PostArgs().PeekMulti("node") {
		id := string(v)
		if _, dup := nodes[id]; dup || len(order) > 500 {
			continue
		}
		order = append(order, id)
		parent := c.FormValue(id + "-parent")
		children[parent] = append(children[parent], id)
		r := &eligibility.Rule{}
		nodes[id] = r
		val := func(field string) string {
			v := strings.TrimSpace(c.FormValue(id + "-" + field))
			raw[id+"-"+field] = v
			return v
		}
		r.Name = val("name")
		kind := val("kind")
		if kind == "all_of" || kind == "any_of" {
			continue
		}
		r.Kind = eligibility.Kind(kind)
		whole := func(field string) *int {
			v := val(field)
			if v == "" {
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				bad.Add(id+"-"+field, "must be a whole number")
				return nil
			}
			return &n
		}
		list := func(field string) []string {
			var out []string
			for _, s := range strings.Split(val(field), ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		for _, fd := range ruleFields[kind] {
			switch fd.name {
			case "percent":
				if n := whole("percent"); n != nil {
					r.Percent = *n
				}
			case "months":
				if n := whole("months"); n != nil {
					r.Months = *n
				}
			case "max":
				r.Max = whole("max")
			case "min_age":
				r.MinAge = whole("min_age")
			case "max_age":
				r.MaxAge = whole("max_age")
			case "hours":
				if v := val("hours"); v != "" {
					h, err := strconv.ParseFloat(v, 64)
					if err != nil {
						bad.Add(id+"-hours", "must be a number, such as 4 or 2.5")
					} else {
						r.Hours = &h
					}
				}
			case "per":
				r.Per = val("per")
			case "device_kind":
				r.DeviceKind = val("device_kind")
			case "programs":
				r.Programs = list("programs")
			case "postal_prefixes":
				r.Prefixes = list("postal_prefixes")
			case "flags":
				r.Flags = list("flags")
			case "modules":
				r.Modules = list("modules")
			}
		}
	}
	// Groups get their rules, in the order of the form. Each rule is
	// placed once: a form whose parents go round in a circle (a group
	// its own parent) would otherwise be built for ever.
	placed := map[string]bool{}
	var build func(id string) eligibility.Rule
	build = func(id string) eligibility.Rule {
		if placed[id] {
			bad.Add(id, "this rule is inside itself: reload the page")
			return eligibility.Rule{}
		}
		placed[id] = true
		r := *nodes[id]
		kind := strings.TrimSpace(c.FormValue(id + "-kind"))
		if kind == "all_of" || kind == "any_of" {
			list := []eligibility.Rule{}
			for _, child := range children[id] {
				list = append(list, build(child))
			}
			if len(list) == 0 { // which JSON would leave out, and the service call "no rule at all"
				bad.Add(id, "this group has no rules: add one to it, or remove the group")
			}
			if kind == "all_of" {
				r.AllOf = list
			} else {
				r.AnyOf = list
			}
		}
		return r
	}
	root := &eligibility.Rule{AllOf: []eligibility.Rule{}}
	if _, ok := nodes["rules"]; ok {
		r := build("rules")
		root = &r
	}
	return root, raw
}

// addRule adds a rule of kind (or a group) at the end of the group at
// target (an id), and says what it did.
func addRule(r *eligibility.Rule, path, target, kind string) string {
	if ruleID(path) == target {
		var add eligibility.Rule
		switch {
		case kind == "all_of":
			add.AllOf = []eligibility.Rule{}
		case kind == "any_of":
			add.AnyOf = []eligibility.Rule{}
		case slices.ContainsFunc(kindLabels, func(o Option) bool { return o.Value == kind }):
			add.Kind = eligibility.Kind(kind)
		default:
			return ""
		}
		switch {
		case r.AllOf != nil:
			r.AllOf = append(r.AllOf, add)
		case r.AnyOf != nil:
			r.AnyOf = append(r.AnyOf, add)
		default:
			return ""
		}
		return "A rule (“" + kindLabel(kind) + "”) was added at the end of " + strings.ToLower(rulePlace(path)) + ". Fill it in, then save: nothing is saved yet."
	}
	for name, list := range map[string][]eligibility.Rule{"all_of": r.AllOf, "any_of": r.AnyOf} {
		for i := range list {
			if done := addRule(&list[i], fmt.Sprintf("%s.%s[%d]", path, name, i), target, kind); done != "" {
				return done
			}
		}
	}
	return ""
}

// removeRule removes the rule at target (an id) and says what it did.
func removeRule(r *eligibility.Rule, path, target string) string {
	for _, g := range []*[]eligibility.Rule{&r.AllOf, &r.AnyOf} {
		name := "all_of"
		if g == &r.AnyOf {
			name = "any_of"
		}
		for i := range *g {
			sub := fmt.Sprintf("%s.%s[%d]", path, name, i)
			if ruleID(sub) == target {
				*g = slices.Delete(*g, i, i+1)
				return rulePlace(sub) + " was removed. Save to make this a new version: nothing is saved yet."
			}
			if done := removeRule(&(*g)[i], sub, target); done != "" {
				return done
			}
		}
	}
	return ""
}

// ruleForm is the form of rule r at path, its fields' values from r, or
// as typed (raw) after a save that failed, and their problems from f.
func ruleForm(path, parent string, r *eligibility.Rule, f *Form, raw map[string]string) *ruleNode {
	id := ruleID(path)
	n := &ruleNode{ID: id, Parent: parent, Place: rulePlace(path), Root: path == "rules"}
	value := func(field, fromRule string) string {
		if v, ok := raw[id+"-"+field]; ok {
			return v
		}
		return fromRule
	}
	input := func(field, label, typ, hint, v string, required bool) Field {
		fd := Field{Name: id + "-" + field, Label: label, Type: typ, Hint: hint, Value: value(field, v), Required: required, Autocomplete: "off"}
		fd.Error = f.Errors[fd.Name]
		return fd
	}
	n.Name = input("name", "Label in decisions", "text", "", r.Name, false)
	n.Name.Hint = "How a decision names this rule. Empty: one is made."
	switch {
	case r.AllOf != nil || r.AnyOf != nil:
		n.Group, n.Kind = true, "all_of"
		list := r.AllOf
		if r.AnyOf != nil {
			n.Kind, list = "any_of", r.AnyOf
		}
		n.GroupOf = Select{Field: Field{Name: id + "-kind", Label: "This group holds when", Value: n.Kind, Error: f.Errors[id+"-kind"], Required: true}, Options: groupLabels}
		for i := range list {
			n.Children = append(n.Children, ruleForm(fmt.Sprintf("%s.%s[%d]", path, n.Kind, i), id, &list[i], f, raw))
		}
		n.AddKinds = append(slices.Clone(kindLabels), Option{"all_of", "A group: all of…"}, Option{"any_of", "A group: any one of…"})
	default:
		n.Kind = string(r.Kind)
		num := func(p *int) string {
			if p == nil {
				return ""
			}
			return strconv.Itoa(*p)
		}
		zero := func(v int) string {
			if v == 0 {
				return ""
			}
			return strconv.Itoa(v)
		}
		for _, fd := range ruleFields[n.Kind] {
			var v string
			switch fd.name {
			case "percent":
				v = zero(r.Percent)
			case "months":
				v = zero(r.Months)
			case "max":
				v = num(r.Max)
			case "min_age":
				v = num(r.MinAge)
			case "max_age":
				v = num(r.MaxAge)
			case "hours":
				if r.Hours != nil {
					v = strconv.FormatFloat(*r.Hours, 'f', -1, 64)
				}
			case "programs":
				v = strings.Join(r.Programs, ", ")
			case "postal_prefixes":
				v = strings.Join(r.Prefixes, ", ")
			case "flags":
				v = strings.Join(r.Flags, ", ")
			case "modules":
				v = strings.Join(r.Modules, ", ")
			case "per":
				n.Selects = append(n.Selects, Select{Field: input("per", fd.label, "", "", r.Per, true),
					Options: []Option{{"client", "Client"}, {"household", "Household"}}})
				continue
			case "device_kind":
				opts := []Option{{"", "The kind asked for"}}
				for _, k := range eligibility.DeviceKinds {
					opts = append(opts, Option{k, strings.ToUpper(k[:1]) + k[1:]})
				}
				n.Selects = append(n.Selects, Select{Field: input("device_kind", fd.label, "", "", r.DeviceKind, false), Options: opts})
				continue
			}
			optional := fd.name == "min_age" || fd.name == "max_age" || fd.name == "hours" || fd.name == "modules" || n.Kind == "training" && fd.name == "months"
			n.Fields = append(n.Fields, input(fd.name, fd.label, fd.typ, fd.hint, v, !optional))
		}
	}
	n.KindLabel = kindLabel(n.Kind)
	// The rule's own problems: of no field the form shows.
	shown := map[string]bool{n.Name.Name: true, n.GroupOf.Name: true}
	for _, fd := range n.Fields {
		shown[fd.Name] = true
	}
	for _, s := range n.Selects {
		shown[s.Name] = true
	}
	for key, msg := range f.Errors {
		if shown[key] {
			continue
		}
		rest, ok := strings.CutPrefix(key, id+"-")
		if key == id || ok && !strings.Contains(rest, "_of-") { // not a rule inside this one
			n.Problems = append(n.Problems, FieldError{Field: key, Label: f.Labels[key], Message: msg})
		}
	}
	sort.Slice(n.Problems, func(i, j int) bool { return n.Problems[i].Field < n.Problems[j].Field })
	// The summary lists the problems in the order of the page.
	for _, p := range n.Problems {
		f.Order = append(f.Order, p.Field)
	}
	for _, fd := range append(slices.Clone(n.Fields), n.Name) {
		if fd.Error != "" {
			f.Order = append(f.Order, fd.Name)
		}
	}
	for _, s := range n.Selects {
		if s.Error != "" {
			f.Order = append(f.Order, s.Name)
		}
	}
	return n
}

// priorityForm is the waitlist's weights as fields: points for each
// urgency, and a row per needs flag with two empty rows to add one.
func priorityForm(pr *eligibility.Priority, f *Form) ([]Field, []needRow) {
	if pr == nil {
		pr = &eligibility.DefaultPriority
	}
	var urgency []Field
	for _, u := range eligibility.Urgencies {
		name := "priority-urgency-" + u
		v, ok := f.Values[name]
		if !ok {
			v = strconv.Itoa(pr.Urgency[u])
		}
		f.Labels[name] = "Points for urgency " + u
		f.Order = append(f.Order, name)
		urgency = append(urgency, Field{Name: name, Label: "Urgency " + u, Type: "number", Value: v, Error: f.Errors[name], Required: true})
	}
	flags := make([]string, 0, len(pr.Needs))
	for k := range pr.Needs {
		flags = append(flags, k)
	}
	sort.Strings(flags)
	if n, err := strconv.Atoi(f.Values["priority-needs-rows"]); err == nil && n <= 100 {
		flags = flags[:0]
		for i := 0; i < n; i++ {
			flags = append(flags, "")
		}
	}
	var rows []needRow
	for i := 0; i < len(flags)+2; i++ {
		flag, points := "", ""
		if i < len(flags) {
			flag = flags[i]
			if flag != "" {
				points = strconv.Itoa(pr.Needs[flag])
			}
		}
		fn, pn := fmt.Sprintf("priority-need-%d", i), fmt.Sprintf("priority-points-%d", i)
		if v, ok := f.Values[fn]; ok {
			flag = v
		}
		if v, ok := f.Values[pn]; ok {
			points = v
		}
		f.Labels[fn], f.Labels[pn] = fmt.Sprintf("Needs flag %d", i+1), fmt.Sprintf("Points for needs flag %d", i+1)
		f.Order = append(f.Order, fn, pn)
		rows = append(rows, needRow{
			Flag:   Field{Name: fn, Label: fmt.Sprintf("Needs flag %d", i+1), Type: "text", Value: flag, Error: f.Errors[fn], Autocomplete: "off"},
			Points: Field{Name: pn, Label: fmt.Sprintf("Points for needs flag %d", i+1), Type: "number", Value: points, Error: f.Errors[pn]},
		})
	}
	return urgency, rows
}

// readPriority reads the weights; a row of the needs with no flag is left
// out. The values typed stay in f, for the form shown again.
func readPriority(c *fiber.Ctx, f *Form, bad *apperr.Fields) *eligibility.Priority {
	pr := &eligibility.Priority{Urgency: map[string]int{}, Needs: map[string]int{}}
	number := func(name string) (int, bool) {
		v := strings.TrimSpace(c.FormValue(name))
		f.Values[name] = v
		n, err := strconv.Atoi(v)
		if err != nil {
			bad.Add(name, "must be a whole number of points")
		}
		return n, err == nil
	}
	for _, u := range eligibility.Urgencies {
		if n, ok := number("priority-urgency-" + u); ok {
			pr.Urgency[u] = n
		}
	}
	rows := 0
	for i := 0; i < 100 && c.Request().PostArgs().Has(fmt.Sprintf("priority-points-%d", i)); i++ {
		rows++
		fn := fmt.Sprintf("priority-need-%d", i)
		flag := strings.TrimSpace(c.FormValue(fn))
		f.Values[fn] = flag
		if flag == "" {
			f.Values[fmt.Sprintf("priority-points-%d", i)] = strings.TrimSpace(c.FormValue(fmt.Sprintf("priority-points-%d", i)))
			continue
		}
		if n, ok := number(fmt.Sprintf("priority-points-%d", i)); ok {
			if _, dup := pr.Needs[flag]; dup {
				bad.Add(fn, "is listed twice")
			}
			pr.Needs[flag] = n
		}
	}
	f.Values["priority-needs-rows"] = strconv.Itoa(max(rows-2, 0))
	return pr
}

// placeRuleProblems names each problem of the rule set by the id of its
// field on the page ("rules.all_of[1].months" as "rules-all_of-1-months",
// an item of a list as its list: "programs[0]" as "programs"), and by
// its place for the summary, in the order of the rules. It returns the
// problems of no rule (the set as a whole) under "".
func placeRuleProblems(f *Form) map[string][]FieldError {
	out := map[string][]FieldError{}
	if f.Errors == nil {
		return out
	}
	if msg, ok := f.Errors["body"]; ok {
		delete(f.Errors, "body")
		out[""] = append(out[""], FieldError{Field: "rules", Label: "The rules", Message: msg})
	}
	var paths []string
	for path := range f.Errors {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		msg := f.Errors[path]
		switch {
		case strings.HasPrefix(path, "rules.") || strings.HasPrefix(path, "rules-") || path == "rules":
			delete(f.Errors, path)
			label := rulePlace(strings.ReplaceAll(path, "-", "."))
			if m := lastIndex.FindStringSubmatchIndex(path); m != nil && strings.HasPrefix(path, "rules.") &&
				!strings.HasSuffix(path[:m[0]], "_of") { // an item of a list, not a rule of a group
				n, _ := strconv.Atoi(path[m[2]:m[3]])
				msg = "item " + strconv.Itoa(n+1) + ": " + msg
				path = path[:m[0]]
				label = rulePlace(path)
			}
			id := ruleID(path)
			if prev, ok := f.Errors[id]; ok {
				msg = prev + "; " + msg
			}
			f.Errors[id] = msg
			f.Labels[id] = label
		case strings.HasPrefix(path, "priority."):
			delete(f.Errors, path)
			key := ruleID(path)
			if strings.HasPrefix(path, "priority.needs.") {
				flag := strings.TrimPrefix(path, "priority.needs.")
				for name, v := range f.Values {
					if strings.HasPrefix(name, "priority-need-") && v == flag {
						key = name
					}
				}
			}
			f.Errors[key] = msg
		}
	}
	return out
}

var pathStep = regexp.MustCompile(`\.(all_of|any_of)\[(\d+)\]`)

// ruleID is the id of a place in the rule set, as the page writes it:
// "rules.all_of[1].months" is "rules-all_of-1-months".
func ruleID(path string) string {
	return strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(path)
}

var (
	itemIndex = regexp.MustCompile(`\[(\d+)\]`)
	lastIndex = regexp.MustCompile(`\[(\d+)\]$`)
)

// rulePlace names the rule a path is in as the page numbers it, and the
// field: "rules.all_of[1].any_of[0].months" is "Rule 2 › rule 1: months".
// It reads ids too ("rules.all_of.1.months", from "rules-all_of-1-months").
func rulePlace(path string) string {
	path = regexp.MustCompile(`\.(all_of|any_of)\.(\d+)`).ReplaceAllString(path, ".$1[$2]")
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
