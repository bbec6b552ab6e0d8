package pages

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
)

// View is what every template receives: the layout's needs, and the
// page's own data in Data.
type View struct {
	Title  string
	Actor  *accounts.Actor
	CSRF   string
	Nav    []NavItem
	Path   string
	Status int
	// Form is the form of the page, with the values to show again and the
	// errors of its fields; nil on a page without one.
	Form *Form
	Data any
}

// Form is a form's values (as typed, to show again; never a password) and
// what is wrong with them: Errors by field name, each shown next to its
// field and summed up at the top, and Problem for what belongs to no field.
type Form struct {
	Values  map[string]string
	Errors  apperr.Fields
	Problem string
	// Order is the fields in the order the form shows them, so that the
	// summary at the top lists them in the same order, and Labels their
	// labels, which the summary names.
	Order  []string
	Labels map[string]string
}

// NewForm is an empty form with its fields in order, given as name and
// label pairs: NewForm("email", "Email", "password", "Password").
func NewForm(fields ...string) *Form {
	f := &Form{Values: map[string]string{}, Labels: map[string]string{}}
	for i := 0; i+1 < len(fields); i += 2 {
		f.Order = append(f.Order, fields[i])
		f.Labels[fields[i]] = fields[i+1]
	}
	return f
}

// Fail takes an error from a service into the form: a field's problem goes
// to that field, anything else to the top. It reports whether err was one
// the form can show (a user's mistake, not a server fault).
func (f *Form) Fail(err error) bool {
	e, ok := err.(*apperr.Error)
	if !ok {
		return false
	}
	switch e.Code {
	case apperr.Internal:
		return false
	}
	if len(e.Fields) > 0 {
		if f.Errors == nil {
			f.Errors = apperr.Fields{}
		}
		for k, v := range e.Fields {
			f.Errors[k] = v
		}
		return true
	}
	f.Problem = e.Message
	return true
}

// Summary is the form's problems in the order of its fields, for the
// error summary.
func (f *Form) Summary() []FieldError {
	if f == nil {
		return nil
	}
	var out []FieldError
	seen := map[string]bool{}
	for _, name := range f.Order {
		if msg, ok := f.Errors[name]; ok {
			out = append(out, FieldError{Field: name, Label: f.Labels[name], Message: msg})
			seen[name] = true
		}
	}
	var rest []string // fields the form does not show, in a stable order
	for name := range f.Errors {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		out = append(out, FieldError{Field: name, Label: name, Message: f.Errors[name]})
	}
	return out
}

// FieldError is one line of the error summary.
type FieldError struct{ Field, Label, Message string }

// Field is the form-field component's input: one labelled input with its
// hint and its error.
type Field struct {
	Name, Label, Type, Value, Error, Hint, Autocomplete string
	Required                                            bool
}

// Select is the select component's input: a field with its options.
type Select struct {
	Field
	Options []Option
}

// NavItem is one link of the navigation.
type NavItem struct {
	Path, Label string
	Permission  accounts.Permission
	// About says, on the home page, what the page is for.
	About   string
	Current bool
}

// nav is every page of the navigation; each role sees those its
// permissions open. The role pages add their entries here.
var nav = []NavItem{
	{Path: "/", Label: "Home", About: "what you can do here"},
	{Path: "/dashboard", Label: "Dashboard", Permission: accounts.ManageLoans, About: "what needs doing today: free devices, requests to decide, loans due and overdue, devices to inspect"},
	{Path: "/clients", Label: "Clients", Permission: accounts.ReadClients, About: "your clients: their situation, eligibility, requests, loans, training and reminders"},
	{Path: "/requests", Label: "Requests", Permission: accounts.ReadRequests, About: "device requests: those waiting for a decision, and where each stands"},
	{Path: "/devices", Label: "Devices", Permission: accounts.ReadDevices, About: "the pool of devices: find, add, edit, import from a spreadsheet, print labels"},
	{Path: "/loans", Label: "Loans", Permission: accounts.ReadLoans, About: "loans: who has which device, until when, and their agreements"},
	{Path: "/loans/new", Label: "Issue", Permission: accounts.ManageLoans, About: "issue a device against a ready request, and have the agreement signed"},
	{Path: "/checkin", Label: "Check in", Permission: accounts.ManageLoans, About: "take a device back by scanning its tag, then inspect and wipe it"},
	{Path: "/training", Label: "Training", Permission: accounts.ReadTraining, About: "digital-literacy sessions: booking clients, rosters and attendance"},
	{Path: "/admin", Label: "Admin", Permission: accounts.ManageUsers, About: "staff accounts, funding sources, eligibility rules, reminder policy, agreement terms"},
	{Path: "/reports", Label: "Reports", Permission: accounts.ReadReports, About: "the utilization report: how the devices, data plans and training were used, as aggregates"},
	{Path: "/password", Label: "Password", About: "change your password"},
}

func navFor(a *accounts.Actor, current string) []NavItem {
	if a == nil {
		return nil
	}
	var out []NavItem
	for _, n := range nav {
		if n.Permission == "" || a.Can(n.Permission) {
			n.Current = n.Path == current
			out = append(out, n)
		}
	}
	return out
}

// render writes the page named by the template with data, and status.
func (p *Pages) render(c *fiber.Ctx, status int, name, title string, form *Form, data any) error {
	t, ok := p.pages[name]
	if !ok {
		return apperr.New(apperr.Internal, "no page template %q", name)
	}
	SetHeaders(c)
	path := c.Path()
	v := View{Title: title, Actor: Actor(c), CSRF: p.csrfToken(c), Path: path, Status: status, Form: form, Data: data}
	v.Nav = navFor(v.Actor, path)
	c.Status(status)
	c.Type("html", "utf-8")
	return t.ExecuteTemplate(c.Response().BodyWriter(), "layout", v)
}

func (p *Pages) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": p.assetURL,
		// field builds the form-field component's input from the form:
		// field FORM NAME LABEL TYPE [autocomplete [hint [required]]].
		"field": func(f *Form, name, label, typ string, more ...string) Field {
			fd := Field{Name: name, Label: label, Type: typ, Required: true}
			if f != nil {
				fd.Value, fd.Error = f.Values[name], f.Errors[name]
			}
			if len(more) > 0 {
				fd.Autocomplete = more[0]
			}
			if len(more) > 1 {
				fd.Hint = more[1]
			}
			if len(more) > 2 && more[2] == "optional" {
				fd.Required = false
			}
			if typ == "password" {
				fd.Value = "" // never sent back to the browser
			}
			return fd
		},
		// choice builds a select from the form: choice FORM NAME LABEL
		// OPTIONS [hint]; a select is optional, its first option the
		// default.
		"choice": func(f *Form, name, label string, options []Option, hint ...string) Select {
			sel := Select{Field: Field{Name: name, Label: label}, Options: options}
			if f != nil {
				sel.Value, sel.Error = f.Values[name], f.Errors[name]
			}
			if len(hint) > 0 {
				sel.Hint = hint[0]
			}
			return sel
		},
		// required marks a select that must be answered (no "(optional)").
		"required": func(s Select) Select { s.Required = true; return s },
		"roleName": roleName,
		"words":    func(code any) string { return words(fmt.Sprint(code)) },

		"statusName": statusName, "dollars": dollars, "eventName": eventName, "paperOptions": paperOptions, // devices.go
	}
}

// roleName is a role as people say it.
func roleName(r accounts.Role) string {
	switch r {
	case accounts.SocialWorker:
		return "Social worker"
	case accounts.Coordinator:
		return "Coordinator"
	case accounts.Admin:
		return "Administrator"
	case accounts.Funder:
		return "Funder"
	}
	return string(r)
}

// Pager is the paging component's input: where a list stands, and how to
// reach the pages before and after it. A list whose filter may name a
// client is posted (Method POST, the filter in Hidden), so that nothing of
// the client goes in a URL; other lists are links.
type Pager struct {
	Total, Limit, Offset int
	Path                 string
	Method               string
	Hidden               map[string]string
	CSRF                 string
}

// NewPager is the pager of page p of a list of total items at path.
func NewPager(path string, p storage.Page, total int) Pager {
	if p.Limit <= 0 {
		p.Limit = storage.DefaultPageLimit
	}
	return Pager{Total: total, Limit: p.Limit, Offset: p.Offset, Path: path, Method: fiber.MethodGet}
}

// From and To are the positions, counted from 1, of the first and last
// item shown.
func (g Pager) From() int {
	if g.Total == 0 {
		return 0
	}
	return g.Offset + 1
}
func (g Pager) To() int {
	if g.Offset >= g.Total-g.Limit { // not Offset+Limit, which an offset typed in may overflow
		return g.Total
	}
	return g.Offset + g.Limit
}

// HasPrev and HasNext say whether there are pages before and after.
func (g Pager) HasPrev() bool { return g.Offset > 0 }
func (g Pager) HasNext() bool { return g.Offset < g.Total-g.Limit }

// PrevOffset and NextOffset are the offsets of those pages.
func (g Pager) PrevOffset() int { return max(g.Offset-g.Limit, 0) }
func (g Pager) NextOffset() int { return g.Offset + g.Limit }

// Link is the URL of the page at offset, for a list that is not posted.
func (g Pager) Link(offset int) string {
	q := url.Values{}
	for k, v := range g.Hidden {
		q.Set(k, v)
	}
	if g.Limit != storage.DefaultPageLimit {
		q.Set("limit", strconv.Itoa(g.Limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if len(q) == 0 {
		return g.Path
	}
	return g.Path + "?" + q.Encode()
}

// Posted reports whether the pager's pages are reached by posting.
func (g Pager) Posted() bool { return g.Method == fiber.MethodPost }

// words is a code as words: "needs_review" is "needs review".
func words[T ~string](code T) string { return strings.ReplaceAll(string(code), "_", " ") }
