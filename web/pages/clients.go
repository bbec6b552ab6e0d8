package pages

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
)

// The social worker's pages: their clients, a client's page, the client
// forms and the device request; and the training pages (training.go). Each
// calls the service the API's route calls, with the page's actor, so that
// a client the API would not show is the 404 page here too.

// socialRoutes are the clients' and the training pages, with the API's
// permissions. /clients/new and /training/new come before the pages of
// one record, whose :id they would otherwise match.
func (p *Pages) socialRoutes() []Route {
	return []Route{
		{"GET", "/clients", accounts.ReadClients, p.clientList},
		{"POST", "/clients", accounts.ReadClients, p.clientList}, // posted: a search names a client
		{"GET", "/clients/new", accounts.WriteClients, p.newClientForm},
		{"POST", "/clients/new", accounts.WriteClients, p.createClient},
		{"GET", "/clients/:id", accounts.ReadClients, p.clientPage},
		{"GET", "/clients/:id/edit", accounts.WriteClients, p.editClientForm},
		{"POST", "/clients/:id/edit", accounts.WriteClients, p.updateClient},
		{"GET", "/clients/:id/request", accounts.FileRequests, p.requestForm},
		{"POST", "/clients/:id/request", accounts.FileRequests, p.fileRequest},

		{"GET", "/training", accounts.ReadTraining, p.trainingList},
		{"GET", "/training/new", accounts.ManageTraining, p.newSessionForm},
		{"POST", "/training/new", accounts.ManageTraining, p.createSession},
		{"GET", "/training/:id", accounts.ReadTraining, p.sessionPage},
		{"GET", "/training/:id/edit", accounts.ManageTraining, p.editSessionForm},
		{"POST", "/training/:id/edit", accounts.ManageTraining, p.updateSession},
		{"POST", "/training/:id/cancel", accounts.ManageTraining, p.cancelSession},
		{"POST", "/training/:id/enrol", accounts.EnrollTraining, p.enrol},
		{"POST", "/training/:id/withdraw", accounts.EnrollTraining, p.withdraw},
		{"POST", "/training/:id/attendance", accounts.ManageTraining, p.recordAttendance},
	}
}

// pageID is the record id in a page's path; anything but a positive
// number is the 404 page, as the API answers.
func pageID(c *fiber.Ctx, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, "%s not found", what)
	}
	return id, nil
}

// formID reads a positive id typed or chosen in a form field; "" is 0.
func formID(bad *apperr.Fields, field, v string) int64 {
	if v == "" {
		return 0
	}
	id, err := strconv.ParseInt(v, 10, 64)
	bad.Check(err != nil || id <= 0, field, "must be a number")
	return id
}

// Checks is the check-box group component's input: a fieldset with its
// legend, hint and error, and its boxes (each may post its own name).
type Checks struct {
	Name, Legend, Hint, Error string
	Boxes                     []Box
}

// Box is one check box of a group.
type Box struct {
	Name, Value, Label string
	Checked            bool
}

// see is the page's status for a form's error: the API's.
func see(err error) int { return apperr.HTTPStatus(apperr.CodeOf(err)) }

// ---- My clients ----

type clientListData struct {
	Clients  []clients.Summary
	Pager    Pager
	CanWrite bool
	Searched string
}

// clientList is the clients the actor may see (a social worker their own),
// by name, a page at a time. The search is posted, with the pages of its
// answer, never put in a query string.
func (p *Pages) clientList(c *fiber.Ctx) error {
	f := NewForm("q", "Name or case number")
	pg := storage.Page{Limit: storage.DefaultPageLimit}
	if c.Method() == fiber.MethodPost {
		f.Values["q"] = strings.TrimSpace(c.FormValue("q"))
		var err error
		if pg, err = storage.ParsePage(c.FormValue("limit"), c.FormValue("offset")); err != nil {
			return err
		}
	}
	var bad apperr.Fields
	bad.MaxLength("q", f.Values["q"], 100)
	if err := bad.Err(); err != nil {
		f.Fail(err)
		return p.render(c, see(err), "clients", "Clients", f, clientListData{CanWrite: Actor(c).Can(accounts.WriteClients)})
	}
	list, total, err := p.svc.Clients.List(c.UserContext(), Actor(c), clients.Filter{Q: f.Values["q"]}, pg)
	if err != nil {
		return err
	}
	pager := NewPager("/clients", pg, total)
	pager.Method, pager.CSRF = fiber.MethodPost, p.csrfToken(c)
	if q := f.Values["q"]; q != "" {
		pager.Hidden = map[string]string{"q": q}
	}
	return p.render(c, fiber.StatusOK, "clients", "Clients", f, clientListData{Clients: list, Pager: pager,
		CanWrite: Actor(c).Can(accounts.WriteClients), Searched: f.Values["q"]})
}

// ---- A client's page ----

type clientPageData struct {
	Client     *clients.Client
	Channel    string
	Programs   string // the codes as people say them
	Needs      string
	Household  string
	Income     string
	CanEdit    bool
	CanRequest bool
	CanErase   bool // an admin: a link to erase the client
	// The eligibility check, for a device of Kind (the page's ?kind=, a
	// device kind, which names no one).
	Kind     string
	Kinds    []Option
	Decision *eligibility.Decision
	Requests []eligibility.DeviceRequest
	// Asked and ReminderTimes are the rows' times in the agency's zone,
	// by position.
	Asked         []string
	ReminderTimes []string
	// RequestsMore and the like count what the page leaves out.
	RequestsMore  int
	Loans         []inventory.Loan
	LoansMore     int
	Training      []placeRow
	TrainingHours float64
	Modules       []string
	CanWithdraw   bool
	Reminders     []notifications.Notification
	RemindersMore int
	ShowTraining  bool
	ShowReminders bool
	ShowRequests  bool
	ShowLoans     bool
}

// placeRow is a session on a client's training record.
type placeRow struct {
	SessionID                int64
	Title, Topic, When       string
	Status, Attendance       string
	Hours                    float64
	ModuleCompleted, CanDrop bool
}

// clientSectionLimit is how many rows of each kind the client's page
// shows; it says how many more there are.
const clientSectionLimit = 20

// clientPage is a client's record with their eligibility, requests,
// loans, training and reminders, each read through the service the API's
// route uses, with the actor: the record through Clients.Get, which
// records the read as GET /api/v1/clients/:id does and answers a client
// the actor may not see as not found.
func (p *Pages) clientPage(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	cl, err := p.svc.Clients.Get(ctx, a, id)
	if err != nil {
		return err
	}
	d := clientPageData{Client: cl, Income: undisclosedDollars(cl.AnnualIncomeCents), CanEdit: a.Can(accounts.WriteClients), CanErase: a.Can(accounts.ManageUsers),
		CanRequest: a.Can(accounts.FileRequests), Kind: "tablet", Kinds: kindOptions("")}
	if k := c.Query("kind"); contains(eligibility.DeviceKinds, k) {
		d.Kind = k
	}
	first := storage.Page{Limit: clientSectionLimit}
	if a.Can(accounts.CheckEligibility) {
		if d.Decision, err = p.svc.Eligibility.Check(ctx, a, id, eligibility.Request{DeviceKind: d.Kind}); err != nil {
			return err
		}
	}
	if d.ShowRequests = a.Can(accounts.ReadRequests); d.ShowRequests {
		var total int
		if d.Requests, total, err = p.svc.Eligibility.Requests(ctx, a, eligibility.RequestFilter{ClientID: id}, first); err != nil {
			return err
		}
		d.RequestsMore = total - len(d.Requests)
		for _, r := range d.Requests {
			d.Asked = append(d.Asked, p.when(r.CreatedAt))
		}
	}
	if d.ShowLoans = a.Can(accounts.ReadLoans); d.ShowLoans {
		var total int
		if d.Loans, total, err = p.svc.Inventory.ListLoans(ctx, a, inventory.LoanFilter{ClientID: id}, first); err != nil {
			return err
		}
		d.LoansMore = total - len(d.Loans)
	}
	if d.ShowTraining = a.Can(accounts.ReadTraining); d.ShowTraining {
		rec, err := p.svc.Training.ClientRecord(ctx, a, id)
		if err != nil {
			return err
		}
		d.CanWithdraw = a.Can(accounts.EnrollTraining)
		for _, s := range rec.Sessions {
			d.Training = append(d.Training, placeRow{SessionID: s.Session.ID, Title: s.Session.Title, Topic: s.Session.Topic,
				When: p.when(s.Session.StartsAt), Status: s.Enrollment.Status, Attendance: s.Enrollment.Attendance,
				Hours: s.Enrollment.Hours, ModuleCompleted: s.Enrollment.ModuleCompleted,
				CanDrop: d.CanWithdraw && (s.Enrollment.Status == "enrolled" || s.Enrollment.Status == "waitlisted")})
		}
		d.TrainingHours, d.Modules = rec.TotalHours, rec.CompletedModules
	}
	if d.ShowReminders = a.Can(accounts.ReadNotifications); d.ShowReminders {
		var total int
		if d.Reminders, total, err = p.svc.Notifications.List(ctx, a, notifications.Filter{ClientID: id}, first); err != nil {
			return err
		}
		d.RemindersMore = total - len(d.Reminders)
		for _, n := range d.Reminders {
			at := "scheduled " + p.when(n.ScheduledAt)
			if n.SentAt != nil {
				at = "sent " + p.when(*n.SentAt)
			}
			d.ReminderTimes = append(d.ReminderTimes, at)
		}
	}
	if cl.HouseholdID != nil {
		d.Household = strconv.FormatInt(*cl.HouseholdID, 10)
	}
	d.Channel = channelLabel(cl.PreferredChannel)
	d.Programs, d.Needs = codesText(cl.Programs), codesText(cl.Needs)
	return p.render(c, fiber.StatusOK, "client", cl.FirstName+" "+cl.LastName, nil, d)
}

// when is a moment as the agency's staff read it: in the agency's zone.
func (p *Pages) when(t time.Time) string {
	return t.In(calendar.Zone(p.svc.Training.Location)).Format("Mon 2 Jan 2006, 15:04")
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// dollars writes cents as an amount, the cents only when there are some.
func dollars(cents int64) string {
	s := strconv.FormatInt(cents/100, 10)
	if r := cents % 100; r != 0 {
		s += "." + strconv.FormatInt(r/10, 10) + strconv.FormatInt(r%10, 10)
	}
	return s
}

// undisclosedDollars is dollars of an amount that may not have been told:
// "" then.
func undisclosedDollars(cents *int64) string {
	if cents == nil {
		return ""
	}
	return dollars(*cents)
}

// parseDollars reads an amount typed in dollars ("32,150.50", "$32150")
// as cents.
func parseDollars(s string) (int64, bool) {
	s = strings.NewReplacer(",", "", "$", "", " ", "").Replace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 12 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return w*100 + f, true
}

// ---- New and edit client ----

func clientForm() *Form {
	return NewForm("case_number", "Case number", "first_name", "First name", "last_name", "Last name",
		"phone", "Phone", "email", "Email", "preferred_channel", "Reminders by", "preferred_language", "Language",
		"sms_opted_out", "Opted out", "household_size", "People in the household", "household_id", "Household",
		"postal_code", "Postal code", "annual_income", "Yearly household income", "programs", "Benefit programs",
		"proof_verified_on", "Proof verified on", "date_of_birth", "Date of birth", "needs", "Needs",
		"caseworker_id", "Caseworker")
}

type clientFormData struct {
	Client      *clients.Client // nil for a new one
	Channels    []Option
	Programs    Checks
	Needs       Checks
	OptOut      Checks
	Caseworkers []Option // for an admin, who names the caseworker
}

var textFields = []string{"case_number", "first_name", "last_name", "phone", "email", "preferred_language", "postal_code",
	"household_size", "household_id", "annual_income", "proof_verified_on", "date_of_birth", "preferred_channel",
	"caseworker_id", "programs_other", "needs_other"}

func (p *Pages) newClientForm(c *fiber.Ctx) error {
	f := clientForm()
	f.Values["preferred_channel"], f.Values["preferred_language"], f.Values["household_size"] = "sms", "en", "1"
	return p.renderClientForm(c, fiber.StatusOK, f, nil)
}

func (p *Pages) editClientForm(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	cl, err := p.svc.Clients.Get(c.UserContext(), Actor(c), id)
	if err != nil {
		return err
	}
	f := clientForm()
	v := f.Values
	v["case_number"], v["first_name"], v["last_name"], v["phone"], v["email"] = cl.CaseNumber, cl.FirstName, cl.LastName, cl.Phone, cl.Email
	v["preferred_language"], v["preferred_channel"], v["postal_code"] = cl.PreferredLanguage, string(cl.PreferredChannel), cl.PostalCode
	v["household_size"], v["annual_income"] = strconv.Itoa(cl.HouseholdSize), undisclosedDollars(cl.AnnualIncomeCents)
	v["caseworker_id"] = strconv.FormatInt(cl.CaseworkerID, 10)
	if cl.HouseholdID != nil {
		v["household_id"] = strconv.FormatInt(*cl.HouseholdID, 10)
	}
	if !cl.ProofVerifiedOn.IsZero() {
		v["proof_verified_on"] = cl.ProofVerifiedOn.String()
	}
	if !cl.DateOfBirth.IsZero() {
		v["date_of_birth"] = cl.DateOfBirth.String()
	}
	v["programs"], v["needs"] = strings.Join(cl.Programs, ","), strings.Join(cl.Needs, ",")
	v["programs_other"], v["needs_other"] = others(cl.Programs, clients.Programs), others(cl.Needs, clients.Needs)
	v["sms_opted_out"], v["email_opted_out"] = onOff(cl.SMSOptedOut), onOff(cl.EmailOptedOut)
	return p.renderClientForm(c, fiber.StatusOK, f, cl)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return ""
}

// others are the codes not among known, as typed in the "other" field.
func others(codes, known []string) string {
	var out []string
	for _, c := range codes {
		if !contains(known, c) {
			out = append(out, c)
		}
	}
	return strings.Join(out, ", ")
}

func (p *Pages) renderClientForm(c *fiber.Ctx, status int, f *Form, cl *clients.Client) error {
	d := clientFormData{Client: cl, Channels: channelOptions}
	d.Programs = codeChecks(f, "programs", "Benefit programs the household takes part in", clients.Programs)
	d.Needs = codeChecks(f, "needs", "Needs", clients.Needs)
	d.OptOut = Checks{Name: "sms_opted_out", Legend: "Opted out of reminders", Error: f.Errors["sms_opted_out"],
		Hint: "A STOP reply opts the client out of text messages; tick to record it by hand, or untick when they opt back in.",
		Boxes: []Box{{Name: "sms_opted_out", Value: "on", Label: "No text messages", Checked: f.Values["sms_opted_out"] != ""},
			{Name: "email_opted_out", Value: "on", Label: "No emails", Checked: f.Values["email_opted_out"] != ""}}}
	if Actor(c).Can(accounts.ManageUsers) {
		users, _, err := p.svc.Accounts.ListUsers(c.UserContext(), storage.Page{Limit: storage.MaxPageLimit})
		if err != nil {
			return err
		}
		d.Caseworkers = []Option{{"", "Choose a caseworker"}}
		for _, u := range users {
			if u.Active && u.Role.Can(accounts.WriteClients) {
				d.Caseworkers = append(d.Caseworkers, Option{strconv.FormatInt(u.ID, 10), u.Name + " (" + roleName(u.Role) + ")"})
			}
		}
	}
	title := "New client"
	if cl != nil {
		title = "Edit " + cl.FirstName + " " + cl.LastName
	}
	return p.render(c, status, "client-form", title, f, d)
}

// codeChecks are the check boxes of a set of codes (programs, needs), the
// form's chosen ones ticked.
func codeChecks(f *Form, name, legend string, known []string) Checks {
	chosen := strings.Split(f.Values[name], ",")
	ch := Checks{Name: name, Legend: legend, Error: f.Errors[name]}
	for _, k := range known {
		ch.Boxes = append(ch.Boxes, Box{Name: name, Value: k, Label: codeLabel(k), Checked: contains(chosen, k)})
	}
	return ch
}

// channelLabel is a reminder channel as people say it.
func channelLabel(ch clients.Channel) string {
	for _, o := range channelOptions {
		if o.Value == string(ch) {
			return o.Label
		}
	}
	return string(ch)
}

var channelOptions = []Option{{"sms", "Text message (SMS)"}, {"email", "Email"}, {"none", "No reminders"}}

// codesText is a set of codes as people say them, or "none recorded".
func codesText(codes []string) string {
	if len(codes) == 0 {
		return "none recorded"
	}
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = codeLabel(c)
	}
	return strings.Join(out, ", ")
}

// codeLabel is a code as people say it: "public_housing" is "Public housing".
func codeLabel(code string) string {
	switch code {
	case "snap", "ssi", "wic", "tanf":
		return strings.ToUpper(code)
	case "age_60_plus":
		return "Aged 60 or more"
	}
	s := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// clientInput reads the posted client form into the API's input, keeping
// what was typed in f. A value the form cannot read as its kind (a date,
// a number) is a field error, reported with the others the form reads.
func (p *Pages) clientInput(c *fiber.Ctx, f *Form, edit bool) (clients.Input, error) {
	for _, name := range textFields {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	v := f.Values
	str := func(name string) *string { s := v[name]; return &s }
	ch := clients.Channel(v["preferred_channel"])
	in := clients.Input{CaseNumber: str("case_number"), FirstName: str("first_name"), LastName: str("last_name"),
		Phone: str("phone"), Email: str("email"), PreferredLanguage: str("preferred_language"), PreferredChannel: &ch,
		PostalCode: str("postal_code")}
	var bad apperr.Fields
	if size, err := strconv.Atoi(v["household_size"]); err != nil {
		bad.Add("household_size", "must be a whole number from 1 to 50")
	} else {
		in.HouseholdSize = &size
	}

	sms, email := c.FormValue("sms_opted_out") != "", c.FormValue("email_opted_out") != ""
	v["sms_opted_out"], v["email_opted_out"] = onOff(sms), onOff(email)
	in.SMSOptedOut, in.EmailOptedOut = &sms, &email

	if id := formID(&bad, "household_id", v["household_id"]); id != 0 {
		in.HouseholdID = optional.Of(id)
	} else if edit && v["household_id"] == "" {
		in.HouseholdID = optional.Field[int64]{Set: true, Null: true} // a household of their own
	}
	in.AnnualIncomeCents = optional.Field[int64]{Set: true, Null: true}
	if s := v["annual_income"]; s != "" {
		cents, ok := parseDollars(s)
		bad.Check(!ok, "annual_income", "must be an amount in dollars, such as 32150 or 32,150.50")
		in.AnnualIncomeCents = optional.Of(cents)
	}
	for _, name := range []string{"proof_verified_on", "date_of_birth"} {
		var d calendar.Date
		if s := v[name]; s != "" {
			var err error
			if d, err = calendar.Parse(s); err != nil {
				bad.Add(name, err.Error())
			}
		}
		if name == "proof_verified_on" {
			in.ProofVerifiedOn = optional.Of(d)
		} else {
			in.DateOfBirth = optional.Of(d)
		}
	}
	in.Programs = optional.Of(postedCodes(c, f, "programs"))
	in.Needs = optional.Of(postedCodes(c, f, "needs"))
	if Actor(c).Can(accounts.ManageUsers) {
		if id := formID(&bad, "caseworker_id", v["caseworker_id"]); id != 0 {
			in.CaseworkerID = &id
		}
	}
	return in, bad.Err()
}

// postedCodes are the ticked codes of a group and those typed in its
// "other" field, separated by commas or spaces.
func postedCodes(c *fiber.Ctx, f *Form, name string) clients.Codes {
	var codes clients.Codes
	for _, b := range c.Request().PostArgs().PeekMulti(name) {
		codes = append(codes, string(b))
	}
	f.Values[name] = strings.Join(codes, ",")
	for _, s := range strings.FieldsFunc(f.Values[name+"_other"], func(r rune) bool { return r == ',' || r == ' ' }) {
		codes = append(codes, strings.ToLower(s))
	}
	return codes
}

// failClient puts a service's error in the client form: the income's
// problems go next to the field typed in dollars.
func failClient(f *Form, err error) bool {
	if !f.Fail(err) {
		return false
	}
	if _, ok := f.Errors["annual_income_cents"]; ok {
		delete(f.Errors, "annual_income_cents")
		f.Errors["annual_income"] = "must be 0 or more, or empty when not disclosed"
	}
	return true
}

func (p *Pages) createClient(c *fiber.Ctx) error {
	f := clientForm()
	in, err := p.clientInput(c, f, false)
	if err == nil {
		var cl *clients.Client
		if cl, err = p.svc.Clients.Create(c.UserContext(), Actor(c), in); err == nil {
			return c.Redirect("/clients/"+strconv.FormatInt(cl.ID, 10), fiber.StatusSeeOther)
		}
	} else {
		err = apperr.Join(err, p.svc.Clients.Validate(in))
	}
	if !failClient(f, err) {
		return err
	}
	return p.renderClientForm(c, see(err), f, nil)
}

func (p *Pages) updateClient(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	f := clientForm()
	in, err := p.clientInput(c, f, true)
	if err == nil {
		if _, err = p.svc.Clients.Update(c.UserContext(), Actor(c), id, in); err == nil {
			return c.Redirect("/clients/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
		}
	} else {
		err = apperr.Join(err, p.svc.Clients.Validate(in))
	}
	if apperr.Is(err, apperr.NotFound) || !failClient(f, err) {
		return err
	}
	// The form's heading names the client as they are stored; a client
	// the actor may not edit is the 404 page, whatever the form held.
	cl, gerr := p.svc.Clients.Get(c.UserContext(), Actor(c), id)
	if gerr != nil {
		return gerr
	}
	return p.renderClientForm(c, see(err), f, cl)
}

// ---- A device request ----

func requestForm() *Form {
	return NewForm("device_kind", "Device", "needs_data_plan", "Data plan", "urgency", "Urgency", "reason", "Reason")
}

type requestData struct {
	Client    *clients.Client
	Kinds     []Option
	Urgencies []Option
	DataPlan  Checks
	// Decision is the eligibility answer to the form's request, shown
	// before the request is filed.
	Decision *eligibility.Decision
}

func (p *Pages) requestForm(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	cl, err := p.svc.Clients.Get(c.UserContext(), Actor(c), id)
	if err != nil {
		return err
	}
	f := requestForm()
	f.Values["device_kind"], f.Values["urgency"] = "tablet", "normal"
	return p.renderRequest(c, fiber.StatusOK, f, requestData{Client: cl})
}

func (p *Pages) renderRequest(c *fiber.Ctx, status int, f *Form, d requestData) error {
	d.Kinds = kindOptions("")
	d.Urgencies = []Option{{"normal", "Normal"}, {"high", "High"}, {"low", "Low"}}
	d.DataPlan = Checks{Name: "needs_data_plan", Legend: "Data plan", Error: f.Errors["needs_data_plan"],
		Boxes: []Box{{Name: "needs_data_plan", Value: "on", Label: "The client needs a data plan with the device", Checked: f.Values["needs_data_plan"] != ""}}}
	return p.render(c, status, "client-request", "Ask for a device for "+d.Client.FirstName+" "+d.Client.LastName, f, d)
}

// fileRequest answers the request form: "check" shows whether the client
// qualifies, with the reasons (Eligibility.Check, as POST
// /api/v1/eligibility/check), and the button that files it; "file" files
// it through Eligibility.FileRequest, as POST /api/v1/requests does. A
// resend files nothing twice: a client holds one open request of a kind
// (a unique index), and the second is refused in place (409).
func (p *Pages) fileRequest(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	f := requestForm()
	for _, name := range []string{"device_kind", "urgency", "reason"} {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	f.Values["needs_data_plan"] = onOff(c.FormValue("needs_data_plan") != "")
	if f.Values["urgency"] == "" {
		f.Values["urgency"] = "normal"
	}
	in := eligibility.RequestInput{ClientID: id, DeviceKind: f.Values["device_kind"], NeedsDataPlan: f.Values["needs_data_plan"] != "",
		Urgency: f.Values["urgency"], Reason: f.Values["reason"]}
	if c.FormValue("step") == "file" {
		if _, err = p.svc.Eligibility.FileRequest(ctx, a, in); err == nil {
			return c.Redirect("/clients/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
		}
	} else {
		var bad apperr.Fields
		bad.Check(!contains(eligibility.DeviceKinds, in.DeviceKind), "device_kind", "must be one of phone, tablet, laptop, hotspot, other")
		bad.Check(!contains(eligibility.Urgencies, in.Urgency), "urgency", "must be low, normal or high")
		bad.MaxLength("reason", in.Reason, 2000)
		if err = bad.Err(); err == nil {
			var d *eligibility.Decision
			if d, err = p.svc.Eligibility.Check(ctx, a, id, eligibility.Request{DeviceKind: in.DeviceKind, NeedsDataPlan: in.NeedsDataPlan}); err == nil {
				cl, err := p.svc.Clients.Get(ctx, a, id)
				if err != nil {
					return err
				}
				return p.renderRequest(c, fiber.StatusOK, f, requestData{Client: cl, Decision: d})
			}
		}
	}
	// A client the actor may not see is the 404 page, as in the API.
	if e, ok := err.(*apperr.Error); ok && e.Fields["client_id"] != "" {
		return apperr.New(apperr.NotFound, "client not found")
	}
	if !f.Fail(err) {
		return err
	}
	cl, gerr := p.svc.Clients.Get(ctx, a, id)
	if gerr != nil {
		return gerr
	}
	return p.renderRequest(c, see(err), f, requestData{Client: cl})
}
