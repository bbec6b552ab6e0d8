package pages

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
)

// The admin's pages: staff accounts, funding sources, eligibility rules,
// the reminder policy, the agreement terms and the agency details. Each
// calls the service its API route calls, with the actor, so the same checks
// decide; a form with a mistake is shown again with nothing saved.

func (p *Pages) adminRoutes() []Route {
	return []Route{
		{"GET", "/admin", accounts.ManageUsers, p.adminIndex},
		{"GET", "/users/new", accounts.ManageUsers, p.newUserForm},
		{"POST", "/users", accounts.ManageUsers, p.createUser},
		{"GET", "/users/:id", accounts.ManageUsers, p.userPage},
		{"POST", "/users/:id", accounts.ManageUsers, p.updateUser},
		{"POST", "/users/:id/password-reset", accounts.ManageUsers, p.resetPassword},
		{"GET", "/funding-sources", accounts.ManageFunding, p.fundingSources},
		{"GET", "/funding-sources/new", accounts.ManageFunding, p.newFundingSourceForm},
		{"POST", "/funding-sources", accounts.ManageFunding, p.createFundingSource},
		{"GET", "/funding-sources/:id", accounts.ManageFunding, p.fundingSourcePage},
		{"POST", "/funding-sources/:id", accounts.ManageFunding, p.updateFundingSource},
		{"GET", "/eligibility/rules", accounts.ManageEligibility, p.rulesPage},
		{"POST", "/eligibility/rules", accounts.ManageEligibility, p.saveRules},
		{"GET", "/reminders/policy", accounts.ManageReminders, p.policyPage},
		{"POST", "/reminders/policy", accounts.ManageReminders, p.savePolicy},
		{"GET", "/agreement/terms", accounts.ManageAgreements, p.termsPage},
		{"POST", "/agreement/terms", accounts.ManageAgreements, p.saveTerms},
		{"GET", "/agreement/terms/:language/:version", accounts.ManageAgreements, p.termsVersionPage},
		{"POST", "/agreement/agency", accounts.ManageAgreements, p.saveAgency},
		{"GET", "/retention/policy", accounts.ManageUsers, p.retentionPage},
		{"POST", "/retention/policy", accounts.ManageUsers, p.saveRetention},
		{"GET", "/clients/:id/erase", accounts.ManageUsers, p.eraseClientForm},
		{"POST", "/clients/:id/erase", accounts.ManageUsers, p.eraseClient},
	}
}

// adminPages are the admin index's entries, each shown to a role with its
// permission.
var adminPages = []NavItem{
	{Path: "/users", Label: "Staff", Permission: accounts.ManageUsers, About: "staff accounts, their roles, a funder's funding sources, password resets"},
	{Path: "/funding-sources", Label: "Funding sources", Permission: accounts.ManageFunding, About: "the grants and donors devices are bought with"},
	{Path: "/eligibility/rules", Label: "Eligibility rules", Permission: accounts.ManageEligibility, About: "who qualifies for a device, and how the waitlist is ordered"},
	{Path: "/reminders/policy", Label: "Reminder policy", Permission: accounts.ManageReminders, About: "which reminders go out, to whom and when"},
	{Path: "/agreement/terms", Label: "Agreement terms and agency details", Permission: accounts.ManageAgreements, About: "the loan agreement's terms in each language, and what it prints of the agency"},
	{Path: "/retention/policy", Label: "Retention policy", Permission: accounts.ManageUsers, About: "how long reminder texts, sign-in sessions and inactive clients' details are kept, and what the next run erases (a client is erased from their own page)"},
}

func (p *Pages) adminIndex(c *fiber.Ctx) error {
	var items []NavItem
	for _, n := range adminPages {
		if Actor(c).Can(n.Permission) {
			items = append(items, n)
		}
	}
	return p.render(c, fiber.StatusOK, "admin", "Administration", nil, items)
}

// showProblem renders page with the form's problems, with the status of
// err; an error that is no user's mistake goes to the error page.
func (p *Pages) showProblem(c *fiber.Ctx, err error, name, title string, f *Form, data any) error {
	if !f.Fail(err) {
		return err
	}
	return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), name, title, f, data)
}

// Staff accounts.

func roleOptions() []Option {
	out := make([]Option, len(accounts.Roles))
	for i, r := range accounts.Roles {
		out[i] = Option{string(r), roleName(r)}
	}
	return out
}

func newUserForm() *Form {
	return NewForm("email", "Email", "name", "Name", "role", "Role")
}

type newUserData struct {
	Roles []Option
	// Created and Password: the account made and its one-time password,
	// shown on the answer to the form and never again.
	Created  *accounts.User
	Password string
}

func (p *Pages) newUserForm(c *fiber.Ctx) error {
	f := newUserForm()
	f.Values["role"] = string(accounts.SocialWorker)
	return p.render(c, fiber.StatusOK, "user-new", "New staff account", f, newUserData{Roles: roleOptions()})
}

// createUser makes the account with a one-time password, which this answer
// shows once (it is not kept, and the answer is not stored: no-store); the
// user chooses their own at first sign-in. The form sent again finds the
// email taken and says so.
func (p *Pages) createUser(c *fiber.Ctx) error {
	f := newUserForm()
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	d := newUserData{Roles: roleOptions(), Password: accounts.RandomPassword()}
	u, err := p.svc.Accounts.CreateUser(c.UserContext(), Actor(c), accounts.NewUser{Email: f.Values["email"], Name: f.Values["name"],
		Role: accounts.Role(f.Values["role"]), Password: d.Password, MustChangePassword: true})
	if err != nil {
		d.Password = ""
		return p.showProblem(c, err, "user-new", "New staff account", f, d)
	}
	d.Created = u
	c.Set(fiber.HeaderCacheControl, "no-store")
	return p.render(c, fiber.StatusCreated, "user-new", "Staff account created", nil, d)
}

func userForm() *Form {
	return NewForm("name", "Name", "role", "Role", "active", "Account", "funding_source_ids", "Funding sources")
}

type userData struct {
	User    *accounts.User
	Roles   []Option
	Sources checkGroup
	// Stamp is the password's stamp the reset form carries.
	Stamp string
	// Saved says the changes were saved (after the redirect).
	Saved bool
	// Password is a one-time password just made, shown on the answer to
	// the reset form only.
	Password string
	// Self is the admin's own account: no role change, no deactivation.
	Self bool
}

// checkGroup is a group of check boxes of one name, with the group's
// error.
type checkGroup struct {
	Name, Legend, Hint, Error string
	Options                   []checkOption
}

// checkOption is one check box of a group.
type checkOption struct {
	Value, Label string
	Checked      bool
}

func (p *Pages) userData(c *fiber.Ctx, id int64) (*accounts.User, userData, error) {
	u, err := p.svc.Accounts.User(c.UserContext(), id)
	if err != nil {
		return nil, userData{}, err
	}
	d := userData{User: u, Roles: roleOptions(), Stamp: accounts.PasswordStamp(u), Self: Actor(c).ID == u.ID}
	if u.Role == accounts.Funder {
		sources, _, err := p.svc.Funding.List(c.UserContext(), Actor(c), storage.Page{Limit: storage.MaxPageLimit})
		if err != nil {
			return nil, d, err
		}
		d.Sources = checkGroup{Name: "funding_source_ids", Legend: "Funding sources whose reports they read"}
		for _, s := range sources {
			d.Sources.Options = append(d.Sources.Options, checkOption{Value: strconv.FormatInt(s.ID, 10), Label: s.Name,
				Checked: u.FundingSourceIDs != nil && slices.Contains(*u.FundingSourceIDs, s.ID)})
		}
	}
	return u, d, nil
}

func userValues(f *Form, u *accounts.User) {
	f.Values["name"], f.Values["role"] = u.Name, string(u.Role)
	if u.Active {
		f.Values["active"] = "true"
	}
}

func (p *Pages) userPage(c *fiber.Ctx) error {
	id, err := pageID(c, "user")
	if err != nil {
		return err
	}
	u, d, err := p.userData(c, id)
	if err != nil {
		return err
	}
	f := userForm()
	userValues(f, u)
	d.Saved = c.Query("saved") == "1"
	return p.render(c, fiber.StatusOK, "user", u.Name, f, d)
}

// updateUser is PATCH /api/v1/users/:id's UpdateUser: name, role, active
// and, for a funder, the funding sources, in one change or none. A change
// of role or a deactivation ends the user's sessions and tokens (the
// service does).
func (p *Pages) updateUser(c *fiber.Ctx) error {
	id, err := pageID(c, "user")
	if err != nil {
		return err
	}
	u, d, err := p.userData(c, id)
	if err != nil {
		return err
	}
	f := userForm()
	name, role, active := strings.TrimSpace(c.FormValue("name")), accounts.Role(c.FormValue("role")), c.FormValue("active") == "true"
	f.Values["name"], f.Values["role"] = name, string(role)
	if active {
		f.Values["active"] = "true"
	}
	patch := accounts.UserPatch{Name: &name, Role: &role, Active: &active}
	if d.Self { // the fields the page does not offer are left as they are
		patch.Role, patch.Active = nil, nil
	}
	// The check boxes are on the page only for a funder; they count when
	// the user stays one.
	if u.Role == accounts.Funder && role == accounts.Funder {
		ids := []int64{}
		var chosen []string
		for _, v := range c.Request().PostArgs().PeekMulti("funding_source_ids") {
			chosen = append(chosen, string(v))
		}
		for _, s := range chosen {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return p.showProblem(c, apperr.Fields{"funding_source_ids": "must be funding sources of the list"}.Err(), "user", u.Name, f, d)
			}
			ids = append(ids, id)
		}
		patch.FundingSourceIDs = &ids
		for i, o := range d.Sources.Options {
			d.Sources.Options[i].Checked = slices.Contains(chosen, o.Value)
		}
	}
	if _, err := p.svc.Accounts.UpdateUser(c.UserContext(), Actor(c), id, patch); err != nil {
		if !f.Fail(err) {
			return err
		}
		d.Sources.Error = f.Errors["funding_source_ids"]
		return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "user", u.Name, f, d)
	}
	return c.Redirect("/users/"+strconv.FormatInt(id, 10)+"?saved=1", fiber.StatusSeeOther)
}

// resetPassword is POST /api/v1/users/:id/password-reset's, done only if
// the password is still the one the page was opened with (its stamp), so
// that the form sent twice resets once. The new one-time password is on
// this answer only, which is not stored (no-store); no address shows it
// again.
func (p *Pages) resetPassword(c *fiber.Ctx) error {
	id, err := pageID(c, "user")
	if err != nil {
		return err
	}
	u, d, err := p.userData(c, id)
	if err != nil {
		return err
	}
	f := userForm()
	userValues(f, u)
	password, err := p.svc.Accounts.ResetPasswordIf(c.UserContext(), Actor(c), id, c.FormValue("stamp"))
	if err != nil {
		return p.showProblem(c, err, "user", u.Name, f, d)
	}
	d.Password = password
	if _, d, err = p.userData(c, id); err != nil {
		return err
	}
	d.Password = password
	c.Set(fiber.HeaderCacheControl, "no-store")
	return p.render(c, fiber.StatusOK, "user", u.Name, f, d)
}

// Funding sources.

func fundingForm() *Form {
	return NewForm("name", "Name", "funder_organization", "Funder", "grant_reference", "Grant reference",
		"grant_starts_on", "Grant starts on", "grant_ends_on", "Grant ends on", "notes", "Notes")
}

type fundingListData struct {
	Sources []funding.Source
	Pager   Pager
}

func (p *Pages) fundingSources(c *fiber.Ctx) error {
	pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	if err != nil {
		return err
	}
	sources, total, err := p.svc.Funding.List(c.UserContext(), Actor(c), pg)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "funding-sources", "Funding sources", nil,
		fundingListData{Sources: sources, Pager: NewPager("/funding-sources", pg, total)})
}

type fundingData struct {
	Source *funding.Source // nil for a new one
	Saved  bool
}

func (p *Pages) newFundingSourceForm(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "funding-source", "New funding source", fundingForm(), fundingData{})
}

func (p *Pages) fundingSourcePage(c *fiber.Ctx) error {
	id, err := pageID(c, "funding source")
	if err != nil {
		return err
	}
	src, err := p.svc.Funding.Get(c.UserContext(), Actor(c), id)
	if err != nil {
		return err
	}
	f := fundingForm()
	f.Values = map[string]string{"name": src.Name, "funder_organization": src.FunderOrganization, "grant_reference": src.GrantReference,
		"notes": src.Notes}
	if !src.GrantStartsOn.IsZero() {
		f.Values["grant_starts_on"] = src.GrantStartsOn.String()
	}
	if !src.GrantEndsOn.IsZero() {
		f.Values["grant_ends_on"] = src.GrantEndsOn.String()
	}
	return p.render(c, fiber.StatusOK, "funding-source", src.Name, f, fundingData{Source: src, Saved: c.Query("saved") == "1"})
}

// fundingInput reads the form as the API's funding.Input: every field
// given (an empty date is no date), a date as the API reads it.
func fundingInput(c *fiber.Ctx, f *Form) funding.Input {
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	v := f.Values
	date := func(s string) optional.Field[calendar.Date] {
		var d calendar.Date
		if s != "" {
			b, _ := json.Marshal(s)
			json.Unmarshal(b, &d) // a bad date is kept as a problem the service reports
		}
		return optional.Of(d)
	}
	name, org, ref, notes := v["name"], v["funder_organization"], v["grant_reference"], v["notes"]
	return funding.Input{Name: &name, FunderOrganization: &org, GrantReference: &ref, Notes: &notes,
		GrantStartsOn: date(v["grant_starts_on"]), GrantEndsOn: date(v["grant_ends_on"])}
}

func (p *Pages) createFundingSource(c *fiber.Ctx) error {
	f := fundingForm()
	src, err := p.svc.Funding.Create(c.UserContext(), Actor(c), fundingInput(c, f))
	if err != nil {
		return p.showProblem(c, err, "funding-source", "New funding source", f, fundingData{})
	}
	return c.Redirect("/funding-sources/"+strconv.FormatInt(src.ID, 10)+"?saved=1", fiber.StatusSeeOther)
}

func (p *Pages) updateFundingSource(c *fiber.Ctx) error {
	id, err := pageID(c, "funding source")
	if err != nil {
		return err
	}
	src, err := p.svc.Funding.Get(c.UserContext(), Actor(c), id)
	if err != nil {
		return err
	}
	f := fundingForm()
	if _, err := p.svc.Funding.Update(c.UserContext(), Actor(c), id, fundingInput(c, f)); err != nil {
		return p.showProblem(c, err, "funding-source", src.Name, f, fundingData{Source: src})
	}
	return c.Redirect("/funding-sources/"+strconv.FormatInt(id, 10)+"?saved=1", fiber.StatusSeeOther)
}
