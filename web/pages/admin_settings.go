package pages

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/agency"
	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
)

// The reminder policy is a form of plain fields (day lists typed as
// "3, 1", check boxes, times), read into a notifications.Policy and saved
// by SetPolicy, as PUT /api/v1/notifications/policy; the policy's
// problems, named by path (due_soon_days[1], overdue[0].notify), are put
// next to the field or the overdue step they are about.

// blankSteps is how many empty overdue steps the form offers for adding.
const blankSteps = 2

func policyForm(steps int) *Form {
	f := NewForm("due_soon_days", "Days before the due date", "due_today", "On the due date")
	for i := 0; i < steps; i++ {
		f.Order = append(f.Order, stepField(i))
		f.Labels[stepField(i)] = fmt.Sprintf("Overdue step %d", i+1)
	}
	more := NewForm("data_plan_ending_days", "Days before a data plan ends", "training_day_before", "Training: the day before",
		"training_hours_before", "Training: hours before", "training_cancelled", "Training cancelled", "coordinator_digest", "Coordinators' daily summary",
		"send_at", "Send day reminders at", "quiet_hours.start", "Quiet hours start", "quiet_hours.end", "Quiet hours end",
		"catch_up_days", "Catch-up days")
	f.Order = append(f.Order, more.Order...)
	for k, v := range more.Labels {
		f.Labels[k] = v
	}
	return f
}

func stepField(i int) string { return "overdue_" + strconv.Itoa(i) }

type policyData struct {
	Steps []overdueStep
	Saved bool
}

// overdueStep is one row of the overdue steps: its days field and who it
// notifies.
type overdueStep struct {
	Field, Days, Legend, Error string
	Notify                     checkGroup
}

var audiences = []Option{{"client", "The client"}, {"social_worker", "Their social worker"}, {"coordinators", "The coordinators"}}

func steps(f *Form, rows []notifications.OverdueStep) []overdueStep {
	var out []overdueStep
	for i := 0; i < len(rows)+blankSteps; i++ {
		st := overdueStep{Field: stepField(i), Legend: f.Labels[stepField(i)], Error: f.Errors[stepField(i)]}
		var chosen []notifications.Audience
		if i < len(rows) {
			if rows[i].Days > 0 {
				st.Days = strconv.Itoa(rows[i].Days)
			}
			chosen = rows[i].Notify
		}
		if v, ok := f.Values[st.Field+"_days"]; ok {
			st.Days = v
		}
		st.Notify = checkGroup{Name: st.Field + "_notify", Legend: "Who is told"}
		for _, a := range audiences {
			st.Notify.Options = append(st.Notify.Options, checkOption{Value: a.Value, Label: a.Label, Checked: slices.Contains(chosen, notifications.Audience(a.Value))})
		}
		out = append(out, st)
	}
	return out
}

func days(list []int) string {
	s := make([]string, len(list))
	for i, d := range list {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, ", ")
}

func check(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func (p *Pages) policyPage(c *fiber.Ctx) error {
	pol, err := p.svc.Notifications.Policy(c.UserContext())
	if err != nil {
		return err
	}
	f := policyForm(len(pol.Overdue) + blankSteps)
	f.Values = map[string]string{"due_soon_days": days(pol.DueSoonDays), "due_today": check(pol.DueToday),
		"data_plan_ending_days": days(pol.DataPlanEndingDays), "training_day_before": check(pol.TrainingDayBefore),
		"training_hours_before": strconv.Itoa(pol.TrainingHoursBefore), "training_cancelled": check(pol.TrainingCancelled),
		"coordinator_digest": check(pol.CoordinatorDigest), "send_at": pol.SendAt, "quiet_hours.start": pol.QuietHours.Start,
		"quiet_hours.end": pol.QuietHours.End, "catch_up_days": strconv.Itoa(pol.CatchUpDays)}
	return p.render(c, fiber.StatusOK, "reminders", "Reminder policy", f, policyData{Steps: steps(f, pol.Overdue), Saved: c.Query("saved") == "1"})
}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](.*)$`)

// savePolicy reads the form into a policy and saves it, or shows the form
// again with each problem in place.
func (p *Pages) savePolicy(c *fiber.Ctx) error {
	n := 0
	for n < 50 && c.FormValue(stepField(n)+"_present") != "" {
		n++
	}
	f := policyForm(n)
	var bad apperr.Fields
	list := func(name string) []int {
		v := strings.TrimSpace(c.FormValue(name))
		f.Values[name] = v
		out := []int{}
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			d, err := strconv.Atoi(part)
			if err != nil {
				bad.Add(name, fmt.Sprintf("%q is not a whole number of days: write the days as numbers separated by commas, such as 3, 1", part))
				continue
			}
			out = append(out, d)
		}
		return out
	}
	number := func(name string) int {
		v := strings.TrimSpace(c.FormValue(name))
		f.Values[name] = v
		d, err := strconv.Atoi(v)
		if err != nil {
			bad.Add(name, "must be a whole number")
		}
		return d
	}
	flag := func(name string) bool {
		f.Values[name] = check(c.FormValue(name) == "true")
		return c.FormValue(name) == "true"
	}
	text := func(name string) string {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
		return f.Values[name]
	}
	pol := notifications.Policy{DueSoonDays: list("due_soon_days"), DueToday: flag("due_today"),
		DataPlanEndingDays: list("data_plan_ending_days"), TrainingDayBefore: flag("training_day_before"),
		TrainingHoursBefore: number("training_hours_before"), TrainingCancelled: flag("training_cancelled"),
		CoordinatorDigest: flag("coordinator_digest"), SendAt: text("send_at"),
		QuietHours:  notifications.QuietHours{Start: text("quiet_hours.start"), End: text("quiet_hours.end")},
		CatchUpDays: number("catch_up_days")}
	// The overdue steps: a row with neither days nor anyone to notify is
	// left out (that is how a step is removed); row[i] is the form's row
	// of the policy's step i.
	var rows []notifications.OverdueStep
	var rowOf []int
	var shown []notifications.OverdueStep
	for i := 0; i < n; i++ {
		name := stepField(i)
		v := strings.TrimSpace(c.FormValue(name + "_days"))
		f.Values[name+"_days"] = v
		var who []notifications.Audience
		for _, a := range c.Request().PostArgs().PeekMulti(name + "_notify") {
			who = append(who, notifications.Audience(a))
		}
		shown = append(shown, notifications.OverdueStep{Notify: who})
		if v == "" && len(who) == 0 {
			continue
		}
		d, err := strconv.Atoi(v)
		if err != nil {
			bad.Add(name, "give the days overdue as a whole number")
		}
		rows = append(rows, notifications.OverdueStep{Days: d, Notify: who})
		rowOf = append(rowOf, i)
	}
	pol.Overdue = rows
	show := func(status int) error {
		f.Order = policyForm(n + blankSteps).Order
		f.Labels = policyForm(n + blankSteps).Labels
		return p.render(c, status, "reminders", "Reminder policy", f, policyData{Steps: steps(f, shown)})
	}
	// Every problem at once: the policy's own checks (Validate, which
	// SetPolicy does too), and where a field could not be read, that.
	f.Errors = apperr.Fields{}
	if err := pol.Validate(); err != nil {
		placePolicyProblems(f, err, rowOf)
	}
	for field, msg := range bad {
		f.Errors[field] = msg
	}
	if len(f.Errors) > 0 {
		return show(fiber.StatusUnprocessableEntity)
	}
	if _, err := p.svc.Notifications.SetPolicy(c.UserContext(), Actor(c), pol); err != nil {
		if !placePolicyProblems(f, err, rowOf) {
			return err
		}
		return show(apperr.HTTPStatus(apperr.CodeOf(err)))
	}
	return c.Redirect("/reminders/policy?saved=1", fiber.StatusSeeOther)
}

// placePolicyProblems puts the policy's problems in the form, each at its
// field: a path names it, due_soon_days[1] being the second day of
// due_soon_days and overdue[0].notify the first step the policy has, which
// is the form's row rowOf[0]. It reports whether err was one to show.
func placePolicyProblems(f *Form, err error, rowOf []int) bool {
	if !f.Fail(err) {
		return false
	}
	if f.Errors == nil {
		f.Errors = apperr.Fields{}
	}
	for path, msg := range f.Errors {
		m := indexed.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		delete(f.Errors, path)
		i, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "overdue":
			if i < len(rowOf) {
				what := "days overdue: "
				if strings.HasPrefix(m[3], ".notify") {
					what = "who to notify: "
				}
				f.Errors[stepField(rowOf[i])] = what + msg
			}
		default:
			f.Errors[m[1]] = fmt.Sprintf("day %d: %s", i+1, msg)
		}
	}
	if msg, ok := f.Errors["quiet_hours"]; ok {
		delete(f.Errors, "quiet_hours")
		f.Errors["quiet_hours.start"] = msg
	}
	return true
}

// The agreement terms, one language at a time (?language=es: the code is
// no client's detail), each save a new version (SaveOver, as PUT
// /api/v1/agreement/terms, but only over the version the form was opened
// on, so that the form sent twice saves once), and the agency details
// every agreement prints, which the operator sets (--agency-* flags) and
// an admin may override (admin_agency.go): one form of the page's two, so
// the page's Form holds both forms' fields.

func termsForm() *Form {
	return NewForm("language", "Language", "body", "Terms", "name", "Agency name", "address", "Address", "phone", "Phone",
		"email", "Email", "currency", "Currency", "logo", "Logo")
}

type termsData struct {
	Languages []Option
	Language  string
	Current   *agreements.Terms
	Versions  []agreements.Terms
	Pager     Pager
	Agency    agency.Details
	Currency  string
	Saved     string
	// AgencySaved: the agency's details were just saved.
	AgencySaved bool
	// Version is a version shown on its own page.
	Version *agreements.Terms
}

var termsLanguages = []Option{{"en", "English"}, {"es", "Spanish"}, {"fr", "French"}}

func (p *Pages) termsData(c *fiber.Ctx, lang string) (termsData, error) {
	a, err := p.svc.Agency.Current(c.UserContext())
	if err != nil {
		return termsData{}, err
	}
	d := termsData{Languages: termsLanguages, Language: lang, Agency: a, Currency: a.CurrencyCode()}
	cur, err := p.svc.Agreements.Current(c.UserContext(), lang)
	if err != nil {
		return d, err
	}
	if cur.RequestedLanguage == "" {
		d.Current = cur
	}
	pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	if err != nil {
		return d, err
	}
	versions, total, err := p.svc.Agreements.Versions(c.UserContext(), lang, pg)
	if err != nil {
		return d, err
	}
	d.Versions = versions
	d.Pager = NewPager("/agreement/terms", pg, total)
	d.Pager.Hidden = map[string]string{"language": lang}
	return d, nil
}

// termsLanguage is the language asked for, one of the page's.
func termsLanguage(code string) string {
	for _, l := range termsLanguages {
		if l.Value == code {
			return code
		}
	}
	return "en"
}

func (p *Pages) termsPage(c *fiber.Ctx) error {
	lang := termsLanguage(c.Query("language"))
	d, err := p.termsData(c, lang)
	if err != nil {
		return err
	}
	f := termsForm()
	f.Values["language"] = lang
	if d.Current != nil {
		f.Values["body"] = d.Current.Body
		f.Values["base"] = strconv.Itoa(d.Current.Version)
	} else {
		f.Values["base"] = "0"
	}
	if v := c.Query("saved"); v != "" {
		d.Saved = v
	}
	d.AgencySaved = c.Query("agency") == "saved"
	agencyValues(f, d.Agency)
	return p.render(c, fiber.StatusOK, "terms", "Agreement terms", f, d)
}

func (p *Pages) saveTerms(c *fiber.Ctx) error {
	lang := termsLanguage(c.FormValue("language"))
	f := termsForm()
	f.Values["language"], f.Values["body"], f.Values["base"] = lang, c.FormValue("body"), c.FormValue("base")
	base, err := strconv.Atoi(c.FormValue("base"))
	if err != nil || base < 0 {
		base = 0
	}
	t, err := p.svc.Agreements.SaveOver(c.UserContext(), Actor(c), lang, f.Values["body"], base)
	if err != nil {
		d, derr := p.termsData(c, lang)
		if derr != nil {
			return derr
		}
		agencyValues(f, d.Agency)
		return p.showProblem(c, err, "terms", "Agreement terms", f, d)
	}
	return c.Redirect("/agreement/terms?language="+t.Language+"&saved="+strconv.Itoa(t.Version), fiber.StatusSeeOther)
}

func (p *Pages) termsVersionPage(c *fiber.Ctx) error {
	v, err := strconv.Atoi(c.Params("version"))
	if err != nil || v <= 0 {
		return fiber.ErrNotFound
	}
	t, err := p.svc.Agreements.Version(c.UserContext(), c.Params("language"), v)
	if apperr.Is(err, apperr.Invalid) { // no language: no such page
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "terms-version", fmt.Sprintf("Agreement terms, version %d", t.Version), nil, termsData{Version: t})
}
