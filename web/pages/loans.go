package pages

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/web/download"
)

// The loan pages: the list of loans, a loan's page with its actions,
// issuing a device against a ready request, signing the agreement, and
// check-in with the inspection that follows. Every handler calls the
// services the API calls, with the session's actor, so a social worker sees
// their own clients' loans only and another worker's loan is the 404 page.

func (p *Pages) loanRoutes() []Route {
	return []Route{
		{"GET", "/loans", accounts.ReadLoans, p.loans},
		// Before /loans/:id, which would take "new" for an id.
		{"GET", "/loans/new", accounts.ManageLoans, p.issueForm},
		{"POST", "/loans/new", accounts.ManageLoans, p.issue},
		{"GET", "/loans/:id", accounts.ReadLoans, p.loan},
		// The API's agreement.pdf takes tokens only; this is the same
		// service for a session, with the same permission.
		{"GET", "/loans/:id/agreement.pdf", accounts.ReadLoans, p.agreementPDF},
		{"GET", "/loans/:id/sign", accounts.ReadLoans, p.signForm},
		{"POST", "/loans/:id/sign", accounts.ReadLoans, p.sign},
		{"POST", "/loans/:id/renew", accounts.ManageLoans, p.loanAction("renew", p.renew)},
		{"POST", "/loans/:id/lost", accounts.ManageLoans, p.loanAction("lost", p.markLost)},
		{"POST", "/loans/:id/recovered", accounts.ManageLoans, p.loanAction("recovered", p.recovered)},
		{"POST", "/loans/:id/reminders", accounts.SendReminders, p.loanAction("remind", p.remind)},
		{"GET", "/checkin", accounts.ManageLoans, p.checkin},
		{"POST", "/checkin", accounts.ManageLoans, p.returnLoan},
		{"GET", "/checkin/:id/inspection", accounts.ManageDevices, p.inspectionForm},
		{"POST", "/checkin/:id/inspection", accounts.ManageDevices, p.inspect},
	}
}

// formValues copies the form's fields, trimmed, from the posted body.
func formValues(c *fiber.Ctx, f *Form) *Form {
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	return f
}

// renamed is err with its fields named as the page names them (the API's
// device_id is the page's asset_tag, say).
func renamed(err error, names map[string]string) error {
	e, ok := err.(*apperr.Error)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = map[string]string{}
	for k, v := range e.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		out.Fields[k] = v
	}
	return &out
}

// status is the HTTP status a form's error is answered with.
func status(err error) int { return apperr.HTTPStatus(apperr.CodeOf(err)) }

// shownInForm reports whether err is one a form shows in place: a user's
// mistake or a conflict, not a record the user may not see (the 404 page,
// as the API's) nor a server fault.
func shownInForm(err error) bool {
	switch apperr.CodeOf(err) {
	case apperr.NotFound, apperr.Forbidden, apperr.Unauthorized, apperr.Internal:
		return false
	}
	_, ok := err.(*apperr.Error)
	return ok
}

func options[T ~string](values []T, first string) []Option {
	var out []Option
	if first != "" {
		out = append(out, Option{"", first})
	}
	for _, v := range values {
		out = append(out, Option{string(v), words(v)})
	}
	return out
}

// deviceNames describes each device of ids as "kind TAG".
func (p *Pages) deviceNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		d, err := p.svc.Inventory.Device(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = string(d.Kind) + " " + d.AssetTag
	}
	return out, nil
}

// --- The list ---

type loanRow struct {
	inventory.Loan
	Device, Client string
}

type loansData struct {
	Loans                      []loanRow
	Pager                      Pager
	Statuses, Agreements, Dues []Option
}

func loansFilter() *Form {
	return NewForm("status", "Status", "agreement", "Agreement", "due", "Due")
}

// loans lists the loans the actor may see with the API's filters (status,
// agreement), a page at a time: the filters name no client, so they and
// the pages are links.
func (p *Pages) loans(c *fiber.Ctx) error {
	f := loansFilter()
	f.Values["status"], f.Values["agreement"], f.Values["due"] = c.Query("status"), c.Query("agreement"), c.Query("due")
	d := loansData{Statuses: options(inventory.LoanStatuses, "Any status"),
		Agreements: []Option{{"", "Signed or not"}, {"unsigned", "Not signed yet (open loans)"}, {"signed", "Signed"}},
		Dues:       []Option{{"", "Any day"}, {inventory.DueWeek, "This week (open loans due in the next seven days)"}}}
	pg, perr := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	st, serr := inventory.ParseLoanStatus(f.Values["status"])
	agr, aerr := inventory.ParseAgreementFilter(f.Values["agreement"])
	due, derr := inventory.ParseDueFilter(f.Values["due"])
	if err := apperr.Join(perr, serr, aerr, derr); err != nil {
		f.Fail(err)
		return p.render(c, status(err), "loans", "Loans", f, d)
	}
	ctx, a := c.UserContext(), Actor(c)
	loans, total, err := p.svc.Inventory.ListLoans(ctx, a, inventory.LoanFilter{Status: st, Agreement: agr, Due: due}, pg)
	if err != nil {
		return err
	}
	var clientIDs, deviceIDs []int64
	for _, l := range loans {
		clientIDs, deviceIDs = append(clientIDs, l.ClientID), append(deviceIDs, l.DeviceID)
	}
	names, err := p.svc.Clients.Names(ctx, a, clientIDs)
	if err != nil {
		return err
	}
	devices, err := p.deviceNames(ctx, deviceIDs)
	if err != nil {
		return err
	}
	for _, l := range loans {
		d.Loans = append(d.Loans, loanRow{Loan: l, Device: devices[l.DeviceID], Client: names[l.ClientID]})
	}
	d.Pager = NewPager("/loans", pg, total)
	d.Pager.Hidden = map[string]string{}
	for _, k := range f.Order {
		if v := f.Values[k]; v != "" {
			d.Pager.Hidden[k] = v
		}
	}
	return p.render(c, fiber.StatusOK, "loans", "Loans", f, d)
}

// --- One loan ---

type loanData struct {
	Loan   *inventory.Loan
	Device *inventory.Device
	Plan   *inventory.DataPlan
	// Client is the client's name; ClientVisible false when the actor may
	// not see the client (a coordinator, a client not referred): then the
	// agreement, which names them, is not theirs to print either.
	Client        string
	ClientVisible bool
	Signed        *agreements.Acceptance
	Reminders     []reminderRow
	// The loan's moments, in the agency's time zone ("" when not yet).
	Issued, Returned, LostAt, RecoveredAt, SignedAt string
	// CanManage and CanRemind offer the actions of the roles that may.
	CanManage, CanRemind, CanReadReminders bool
	Conditions                             []Option
	Renew, Lost, Recovered, Remind         *Form
	Notice                                 string
}

func renewForm() *Form {
	return NewForm("due_on", "New due date", "due_after_plan_ends", "Past the data plan's end")
}
func lostForm() *Form      { return NewForm("notes", "What happened") }
func recoveredForm() *Form { return NewForm("condition", "Condition") }
func remindForm() *Form    { return NewForm("note", "Note for the client") }

var loanNotices = map[string]string{
	"renewed":   "The loan was renewed.",
	"lost":      "The loan was closed as lost.",
	"recovered": "The device's recovery was recorded: it waits for inspection.",
	"reminded":  "A reminder was sent.",
	"signed":    "The agreement was signed. Print the signed copy for the client.",
}

// loanDetails gathers a loan's page: NotFound when the actor may not see
// the loan, as GET /api/v1/loans/:id answers.
func (p *Pages) loanDetails(c *fiber.Ctx, id int64) (*loanData, error) {
	ctx, a := c.UserContext(), Actor(c)
	loan, err := p.svc.Inventory.Loan(ctx, a, id)
	if err != nil {
		return nil, err
	}
	d := &loanData{Loan: loan, CanManage: a.Can(accounts.ManageLoans), CanRemind: a.Can(accounts.SendReminders),
		CanReadReminders: a.Can(accounts.ReadNotifications), Conditions: options(inventory.Conditions, "")}
	if d.Device, err = p.svc.Inventory.Device(ctx, loan.DeviceID); err != nil {
		return nil, err
	}
	if loan.DataPlanID != nil {
		if d.Plan, err = p.svc.Inventory.DataPlan(ctx, *loan.DataPlanID); err != nil {
			return nil, err
		}
	}
	names, err := p.svc.Clients.Names(ctx, a, []int64{loan.ClientID})
	if err != nil {
		return nil, err
	}
	d.Client, d.ClientVisible = names[loan.ClientID]
	if d.ClientVisible {
		d.Signed, err = p.svc.Agreements.Acceptance(ctx, a, id)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
	}
	if d.CanReadReminders {
		sent, _, err := p.svc.Notifications.List(ctx, a, notifications.Filter{LoanID: id}, storage.Page{Limit: 20})
		if err != nil {
			return nil, err
		}
		for _, n := range sent {
			when := p.whenSet(n.SentAt)
			if when == "" {
				when = "scheduled " + p.whenSet(&n.ScheduledAt)
			}
			d.Reminders = append(d.Reminders, reminderRow{Kind: words(n.Kind), Channel: n.Channel,
				Recipient: words(n.Recipient), Status: string(n.Status), When: when})
		}
	}
	d.Issued, d.Returned, d.LostAt, d.RecoveredAt = p.whenSet(&loan.IssuedAt), p.whenSet(loan.ReturnedAt), p.whenSet(loan.LostAt), p.whenSet(loan.RecoveredAt)
	if d.Signed != nil {
		d.SignedAt = p.whenSet(&d.Signed.SignedAt)
	}
	return d, nil
}

// reminderRow is a reminder about the loan as its page lists it.
type reminderRow struct{ Kind, Channel, Recipient, Status, When string }

// when is a moment as a page shows it, in the agency's time zone; "" for
// none.
// whenSet is when for a moment that may not have come: "" if not.
func (p *Pages) whenSet(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return p.when(*t)
}

func (p *Pages) loan(c *fiber.Ctx) error {
	return p.showLoan(c, fiber.StatusOK, "", nil)
}

// showLoan renders a loan's page; failed, when set, is the form named which
// shown again with its errors.
func (p *Pages) showLoan(c *fiber.Ctx, code int, which string, failed *Form) error {
	id, err := pageID(c, "loan")
	if err != nil {
		return err
	}
	d, err := p.loanDetails(c, id)
	if err != nil {
		return err
	}
	d.Renew, d.Lost, d.Recovered, d.Remind = renewForm(), lostForm(), recoveredForm(), remindForm()
	d.Recovered.Values["condition"] = d.Device.Condition
	switch which {
	case "renew":
		d.Renew = failed
	case "lost":
		d.Lost = failed
	case "recovered":
		d.Recovered = failed
	case "remind":
		d.Remind = failed
	}
	if failed == nil {
		d.Notice = loanNotices[c.Query("done")]
	}
	return p.render(c, code, "loans-view", "Loan "+strconv.FormatInt(id, 10), failed, d)
}

// loanAction is the handler of a form on a loan's page: do runs the
// service with the form's values and names the notice to show; its error
// is shown in place, next to the field or at the top, and nothing changes.
func (p *Pages) loanAction(which string, do func(c *fiber.Ctx, a *accounts.Actor, id int64) (*Form, string, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pageID(c, "loan")
		if err != nil {
			return err
		}
		f, done, err := do(c, Actor(c), id)
		if err != nil {
			if !shownInForm(err) {
				return err
			}
			f.Fail(err)
			if e, ok := err.(*apperr.Error); ok && e.RetryAfter > 0 {
				c.Set(fiber.HeaderRetryAfter, e.RetryAfterSeconds())
			}
			return p.showLoan(c, status(err), which, f)
		}
		return c.Redirect("/loans/"+strconv.FormatInt(id, 10)+"?done="+done, fiber.StatusSeeOther)
	}
}

func (p *Pages) renew(c *fiber.Ctx, a *accounts.Actor, id int64) (*Form, string, error) {
	f := formValues(c, renewForm())
	due, err := calendar.Parse(f.Values["due_on"])
	if err != nil {
		return f, "", (apperr.Fields{"due_on": err.Error()}).Err()
	}
	f.Values["due_after_plan_ends"] = map[bool]string{true: "yes"}[f.Values["due_after_plan_ends"] == "yes"]
	_, err = p.svc.Inventory.RenewLoan(c.UserContext(), a, id, inventory.RenewInput{DueOn: due, DueAfterPlanEnds: f.Values["due_after_plan_ends"] == "yes"})
	return f, "renewed", err
}

func (p *Pages) markLost(c *fiber.Ctx, a *accounts.Actor, id int64) (*Form, string, error) {
	f := formValues(c, lostForm())
	_, err := p.svc.Inventory.MarkLost(c.UserContext(), a, id, inventory.LostInput{Notes: f.Values["notes"]})
	return f, "lost", err
}

func (p *Pages) recovered(c *fiber.Ctx, a *accounts.Actor, id int64) (*Form, string, error) {
	f := formValues(c, recoveredForm())
	_, err := p.svc.Inventory.RecordRecovered(c.UserContext(), a, id, inventory.RecoveredInput{Condition: f.Values["condition"]})
	return f, "recovered", err
}

// remind is POST /api/v1/loans/:id/reminders's service: at most one "remind
// now" per loan in its interval, whoever asks; a second is refused in place
// with the wait.
func (p *Pages) remind(c *fiber.Ctx, a *accounts.Actor, id int64) (*Form, string, error) {
	f := formValues(c, remindForm())
	_, err := p.svc.Notifications.SendNow(c.UserContext(), a, id, notifications.RemindInput{Note: f.Values["note"]})
	return f, "reminded", err
}

// agreementPDF is GET /api/v1/loans/:id/agreement.pdf for a session: the
// same service (which decides who may print it and records the download)
// and the same file.
func (p *Pages) agreementPDF(c *fiber.Ctx) error {
	id, err := pageID(c, "loan")
	if err != nil {
		return err
	}
	f, err := p.svc.Agreements.Agreement(c.UserContext(), Actor(c), id, c.Query("language"))
	if err != nil {
		return err
	}
	return download.PDF(c, f.Name(id), f.PDF)
}

// --- Signing ---

func signForm() *Form {
	return NewForm("method", "How the client signs", "signature_png", "Signature", "typed_name", "Name as the client types it",
		"terms_version", "Terms version")
}

// signForm is the page where the client signs, in person: drawn on the
// screen (with JavaScript), their name typed, or in ink on the printed
// copy. The agreement names the client: a loan whose client the actor may
// not see is no such page, as the API's acceptance answers.
func (p *Pages) signForm(c *fiber.Ctx) error {
	return p.showSign(c, fiber.StatusOK, signForm())
}

func (p *Pages) showSign(c *fiber.Ctx, code int, f *Form) error {
	id, err := pageID(c, "loan")
	if err != nil {
		return err
	}
	d, err := p.loanDetails(c, id)
	if err != nil {
		return err
	}
	if !d.ClientVisible {
		return apperr.New(apperr.NotFound, "loan not found")
	}
	// The version of the terms the printed agreement has: the form sends
	// it back, and terms changed in between sign nothing.
	if d.Signed == nil && f.Values["terms_version"] == "" {
		terms, err := p.svc.Agreements.AgreementTerms(c.UserContext(), Actor(c), id, "")
		if err != nil {
			return err
		}
		f.Values["terms_version"] = strconv.Itoa(terms.Version)
	}
	return p.render(c, code, "loans-sign", "Sign the agreement", f, d)
}

// sign records the signing through POST
// /api/v1/loans/:id/agreement/acceptance's service: a form sent twice signs
// once, the second told in place that it is signed already.
func (p *Pages) sign(c *fiber.Ctx) error {
	id, err := pageID(c, "loan")
	if err != nil {
		return err
	}
	f := formValues(c, signForm())
	in := agreements.AcceptanceInput{Method: agreements.Method(f.Values["method"])}
	// The fields of the other methods may hold what was typed or drawn
	// before another method was chosen: only the chosen one's is sent.
	switch in.Method {
	case agreements.Drawn:
		in.SignaturePNG = f.Values["signature_png"]
	case agreements.Typed:
		in.TypedName = f.Values["typed_name"]
	}
	f.Values["signature_png"] = "" // drawn again, not sent back
	if v := f.Values["terms_version"]; v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			err = apperr.New(apperr.Invalid, "the form did not say which version of the terms the client read: reload the page")
			f.Values["terms_version"] = ""
		}
		in.TermsVersion = &n
	}
	if err == nil {
		_, err = p.svc.Agreements.Accept(c.UserContext(), Actor(c), id, in)
	}
	if err != nil {
		if !shownInForm(err) {
			return err
		}
		f.Fail(err)
		if apperr.Is(err, apperr.Conflict) {
			f.Values["terms_version"] = "" // the terms as they are now, printed again
		}
		return p.showSign(c, status(err), f)
	}
	return c.Redirect("/loans/"+strconv.FormatInt(id, 10)+"?done=signed", fiber.StatusSeeOther)
}

// --- Issuing ---

func issueForm() *Form {
	return NewForm("request_id", "Ready request", "asset_tag", "Asset tag", "data_plan_id", "Data plan", "due_on", "Due date", "notes", "Notes")
}

type readyRequest struct {
	ID                     int64
	Client, Kind, HeldTag  string
	NeedsPlan, ClientKnown bool
}

type issueData struct {
	Requests []readyRequest
	Plans    []Option
	Days     int
}

func (p *Pages) issueForm(c *fiber.Ctx) error {
	f := issueForm()
	f.Values["request_id"] = c.Query("request")
	f.Values["due_on"] = p.svc.Inventory.DefaultDueOn().String()
	return p.showIssue(c, fiber.StatusOK, f)
}

// showIssue renders the issue form with the ready requests (those a loan
// may be issued against, as POST /api/v1/loans requires) and the data
// plans free to lend.
func (p *Pages) showIssue(c *fiber.Ctx, code int, f *Form) error {
	ctx, a := c.UserContext(), Actor(c)
	d := issueData{Days: inventory.DefaultLoanDays}
	requests, _, err := p.svc.Eligibility.Requests(ctx, a, eligibility.RequestFilter{Status: eligibility.Ready}, storage.Page{Limit: 100})
	if err != nil {
		return err
	}
	var clientIDs []int64
	for _, r := range requests {
		clientIDs = append(clientIDs, r.ClientID)
	}
	names, err := p.svc.Clients.Names(ctx, a, clientIDs)
	if err != nil {
		return err
	}
	for _, r := range requests {
		rr := readyRequest{ID: r.ID, Kind: r.DeviceKind, NeedsPlan: r.NeedsDataPlan}
		rr.Client, rr.ClientKnown = names[r.ClientID]
		if r.ReservedDeviceID != nil {
			dev, err := p.svc.Inventory.Device(ctx, *r.ReservedDeviceID)
			if err != nil {
				return err
			}
			rr.HeldTag = dev.AssetTag
		}
		d.Requests = append(d.Requests, rr)
	}
	free := true
	plans, _, err := p.svc.Inventory.ListDataPlans(ctx, inventory.DataPlanFilter{Free: &free}, storage.Page{Limit: 100})
	if err != nil {
		return err
	}
	d.Plans = []Option{{"", "No data plan"}}
	for _, pl := range plans {
		label := pl.Carrier + " " + pl.LineNumber
		if !pl.EndsOn.IsZero() {
			label += " (ends " + pl.EndsOn.String() + ")"
		}
		d.Plans = append(d.Plans, Option{strconv.FormatInt(pl.ID, 10), strings.TrimSpace(label)})
	}
	return p.render(c, code, "loans-issue", "Issue a device", f, d)
}

// issue lends the scanned device against the chosen ready request through
// POST /api/v1/loans's service. Its conditional updates make the form
// sent twice, or the same device issued from two browsers at once, one
// loan: the other is told in place that the device is no longer available.
func (p *Pages) issue(c *fiber.Ctx) error {
	ctx, a := c.UserContext(), Actor(c)
	f := formValues(c, issueForm())
	v := f.Values
	var bad apperr.Fields
	in := inventory.IssueInput{Notes: v["notes"]}
	if id, err := strconv.ParseInt(v["request_id"], 10, 64); err != nil || id <= 0 {
		bad.Add("request_id", "choose the ready request the device is lent against")
	} else if r, err := p.svc.Eligibility.DeviceRequest(ctx, a, id); apperr.Is(err, apperr.NotFound) {
		bad.Add("request_id", "no ready request you can see has this id")
	} else if err != nil {
		return err
	} else {
		in.RequestID, in.ClientID = &r.ID, r.ClientID
	}
	if v["asset_tag"] == "" {
		bad.Add("asset_tag", "scan or type the asset tag on the device's label")
	} else if dev, err := p.svc.Inventory.DeviceByTag(ctx, v["asset_tag"]); apperr.Is(err, apperr.NotFound) {
		bad.Add("asset_tag", "no device has this asset tag")
	} else if err != nil {
		return err
	} else {
		in.DeviceID = dev.ID
	}
	if v["data_plan_id"] != "" {
		if id, err := strconv.ParseInt(v["data_plan_id"], 10, 64); err != nil || id <= 0 {
			bad.Add("data_plan_id", "choose a data plan from the list")
		} else {
			in.DataPlanID = &id
		}
	}
	if due, err := calendar.Parse(v["due_on"]); err != nil {
		bad.Add("due_on", err.Error())
	} else {
		in.DueOn = due
	}
	err := bad.Err()
	var loan *inventory.Loan
	if err == nil {
		loan, err = p.svc.Inventory.IssueLoan(ctx, a, in)
	}
	if err != nil {
		err = renamed(err, map[string]string{"device_id": "asset_tag", "client_id": "request_id", "walk_in_justification": "request_id"})
		if !shownInForm(err) {
			return err
		}
		f.Fail(err)
		return p.showIssue(c, status(err), f)
	}
	return c.Redirect("/loans/"+strconv.FormatInt(loan.ID, 10)+"/sign", fiber.StatusSeeOther)
}

// --- Check-in ---

func scanForm() *Form   { return NewForm("asset_tag", "Asset tag") }
func returnForm() *Form { return NewForm("condition", "Condition", "notes", "Notes") }

type checkinData struct {
	Scan, Return *Form
	Device       *inventory.Device
	Loan         *inventory.Loan
	Client       string
	Conditions   []Option
	Inspected    *inventory.Device
}

// checkin finds the open loan of the device whose tag was scanned (a GET:
// a tag names no client) and offers its return.
func (p *Pages) checkin(c *fiber.Ctx) error {
	d := &checkinData{Scan: scanForm(), Return: returnForm()}
	if id, err := strconv.ParseInt(c.Query("inspected"), 10, 64); err == nil {
		if d.Inspected, err = p.svc.Inventory.Device(c.UserContext(), id); err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	d.Scan.Values["asset_tag"] = strings.TrimSpace(c.Query("asset_tag"))
	return p.showCheckin(c, fiber.StatusOK, d, nil)
}

// showCheckin renders the check-in page for the tag in d.Scan; failed is
// the form whose errors it shows.
func (p *Pages) showCheckin(c *fiber.Ctx, code int, d *checkinData, failed *Form) error {
	ctx, a := c.UserContext(), Actor(c)
	d.Conditions = options(inventory.Conditions, "")
	if tag := d.Scan.Values["asset_tag"]; tag != "" {
		dev, err := p.svc.Inventory.DeviceByTag(ctx, tag)
		switch {
		case apperr.Is(err, apperr.NotFound):
			d.Scan.Errors = apperr.Fields{"asset_tag": "no device has this asset tag"}
			if failed == nil {
				failed, code = d.Scan, fiber.StatusUnprocessableEntity
			}
		case err != nil:
			return err
		default:
			d.Device = dev
			open, _, err := p.svc.Inventory.ListLoans(ctx, a, inventory.LoanFilter{DeviceID: dev.ID, Status: inventory.LoanOpen}, storage.Page{Limit: 1})
			if err != nil {
				return err
			}
			if len(open) == 1 {
				d.Loan = &open[0]
				names, err := p.svc.Clients.Names(ctx, a, []int64{d.Loan.ClientID})
				if err != nil {
					return err
				}
				d.Client = names[d.Loan.ClientID]
				if d.Return.Values["condition"] == "" {
					d.Return.Values["condition"] = dev.Condition
				}
			}
		}
	}
	return p.render(c, code, "loans-checkin", "Check in a device", failed, d)
}

// returnLoan closes the loan through POST /api/v1/loans/:id/return's
// service and goes on to the device's inspection. Sent twice, the second
// is told in place that the loan is returned already.
func (p *Pages) returnLoan(c *fiber.Ctx) error {
	d := &checkinData{Scan: scanForm(), Return: formValues(c, returnForm())}
	d.Scan.Values["asset_tag"] = strings.TrimSpace(c.FormValue("asset_tag"))
	id, err := strconv.ParseInt(c.FormValue("loan_id"), 10, 64)
	if err != nil || id <= 0 {
		d.Return.Problem = "Scan the device's tag first: the form names no loan."
		return p.showCheckin(c, fiber.StatusUnprocessableEntity, d, d.Return)
	}
	loan, err := p.svc.Inventory.ReturnLoan(c.UserContext(), Actor(c), id,
		inventory.ReturnInput{Condition: d.Return.Values["condition"], Notes: d.Return.Values["notes"]})
	if err != nil {
		if !shownInForm(err) {
			return err
		}
		d.Return.Fail(err)
		return p.showCheckin(c, status(err), d, d.Return)
	}
	return c.Redirect("/checkin/"+strconv.FormatInt(loan.DeviceID, 10)+"/inspection", fiber.StatusSeeOther)
}

func inspectionForm() *Form {
	return NewForm("outcome", "Outcome", "wiped", "Data wiped", "condition", "Condition", "notes", "Notes")
}

type inspectionData struct {
	Device               *inventory.Device
	Outcomes, Conditions []Option
}

func (p *Pages) inspectionForm(c *fiber.Ctx) error {
	f := inspectionForm()
	f.Values["outcome"] = string(inventory.Ready)
	return p.showInspection(c, fiber.StatusOK, f)
}

func (p *Pages) showInspection(c *fiber.Ctx, code int, f *Form) error {
	id, err := pageID(c, "device")
	if err != nil {
		return err
	}
	dev, err := p.svc.Inventory.Device(c.UserContext(), id)
	if err != nil {
		return err
	}
	if f.Values["condition"] == "" {
		f.Values["condition"] = dev.Condition
	}
	d := inspectionData{Device: dev, Conditions: options(inventory.Conditions, ""),
		Outcomes: []Option{{"ready", "Ready: back into the pool"}, {"repair", "Needs repair"}, {"retire", "Retire it"}}}
	return p.render(c, code, "loans-inspection", "Inspect "+dev.AssetTag, f, d)
}

// inspect records the inspection through POST
// /api/v1/devices/:id/inspection's service: a device goes back into the
// pool only with the data-wipe confirmed.
func (p *Pages) inspect(c *fiber.Ctx) error {
	id, err := pageID(c, "device")
	if err != nil {
		return err
	}
	f := formValues(c, inspectionForm())
	wiped := f.Values["wiped"] == "yes"
	_, err = p.svc.Inventory.InspectDevice(c.UserContext(), Actor(c), id, inventory.InspectionInput{Wiped: &wiped,
		Outcome: inventory.Outcome(f.Values["outcome"]), Condition: f.Values["condition"], Notes: f.Values["notes"]})
	if err != nil {
		if !shownInForm(err) {
			return err
		}
		f.Fail(err)
		return p.showInspection(c, status(err), f)
	}
	return c.Redirect("/checkin?inspected="+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
}
