package pages

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
)

// The device requests: the list a coordinator decides from, and one
// request with its eligibility answer and the decisions open to the actor.
func (p *Pages) requestRoutes() []Route {
	return []Route{
		{"GET", "/requests", accounts.ReadRequests, p.requestList},
		{"GET", "/requests/:id", accounts.ReadRequests, p.requestPage},
		{"POST", "/requests/:id/approve", accounts.DecideRequests, p.requestAction("approved", p.svc.Eligibility.Approve)},
		{"POST", "/requests/:id/deny", accounts.DecideRequests, p.requestAction("denied", p.svc.Eligibility.Deny)},
		{"POST", "/requests/:id/override", accounts.DecideRequests, p.requestAction("overridden", p.svc.Eligibility.Override)},
		{"POST", "/requests/:id/cancel", accounts.CancelRequests, p.requestAction("cancelled",
			func(ctx context.Context, a *accounts.Actor, id int64, _ string) (*eligibility.DeviceRequest, error) {
				return p.svc.Eligibility.Cancel(ctx, a, id)
			})},
	}
}

type requestRow struct {
	eligibility.DeviceRequest
	Client string // "" when the actor may not read the client
	Asked  string
}

type requestsData struct {
	Requests []requestRow
	Statuses []Option
	Kinds    []Option
	Pager    Pager
}

func requestsFilter() *Form { return NewForm("status", "Status", "device_kind", "Device") }

// requestList lists the requests the actor may see, by status and kind
// (the filter names no client, so it is a link). A coordinator starts
// with those waiting for a decision.
func (p *Pages) requestList(c *fiber.Ctx) error {
	f := requestsFilter()
	f.Values["status"], f.Values["device_kind"] = c.Query("status"), c.Query("device_kind")
	if len(c.Request().URI().QueryString()) == 0 && Actor(c).Can(accounts.DecideRequests) {
		f.Values["status"] = string(eligibility.NeedsReviewed)
	}
	d := requestsData{Statuses: options(eligibility.RequestStatuses, "Any status"), Kinds: options(eligibility.DeviceKinds, "Any device")}
	pg, perr := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	filter, ferr := eligibility.ParseRequestFilter(f.Values["status"], f.Values["device_kind"])
	if err := apperr.Join(perr, ferr); err != nil {
		f.Fail(err)
		return p.render(c, status(err), "requests", "Device requests", f, d)
	}
	ctx, a := c.UserContext(), Actor(c)
	requests, total, err := p.svc.Eligibility.Requests(ctx, a, filter, pg)
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
		d.Requests = append(d.Requests, requestRow{DeviceRequest: r, Client: names[r.ClientID], Asked: p.when(r.CreatedAt)})
	}
	d.Pager = NewPager("/requests", pg, total)
	d.Pager.Hidden = map[string]string{"status": f.Values["status"], "device_kind": f.Values["device_kind"]}
	return p.render(c, fiber.StatusOK, "requests", "Device requests", f, d)
}

type requestPageData struct {
	Request requestRow
	Notice  string
	// The decisions open to the actor for the request as it stands.
	CanApprove, CanDeny, CanOverride, CanCancel bool
	// Which form the problems of Form belong to.
	Action string
}

var requestNotices = map[string]string{
	"approved": "The request is approved: it is ready for a device, or on the waitlist.",
	"denied":   "The request is denied.", "overridden": "The request is approved against the rules, with your justification.",
	"cancelled": "The request is cancelled.",
}

func (p *Pages) requestPage(c *fiber.Ctx) error {
	return p.showRequest(c, fiber.StatusOK, "", nil)
}

// showRequest renders a request's page, with a form's problems when an
// action failed.
func (p *Pages) showRequest(c *fiber.Ctx, code int, action string, f *Form) error {
	id, err := pageID(c, "request")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	r, err := p.svc.Eligibility.DeviceRequest(ctx, a, id)
	if err != nil {
		return err
	}
	names, err := p.svc.Clients.Names(ctx, a, []int64{r.ClientID})
	if err != nil {
		return err
	}
	d := requestPageData{Request: requestRow{DeviceRequest: *r, Client: names[r.ClientID], Asked: p.when(r.CreatedAt)}, Action: action}
	if action == "" {
		d.Notice = requestNotices[c.Query("done")]
	}
	decide := a.Can(accounts.DecideRequests)
	switch r.Status {
	case eligibility.NeedsReviewed:
		d.CanApprove, d.CanDeny = decide, decide
	case eligibility.Approved, eligibility.Waitlisted, eligibility.Ready:
		d.CanDeny = decide
	case eligibility.Denied:
		d.CanOverride = decide
	}
	switch r.Status {
	case eligibility.Submitted, eligibility.Approved, eligibility.NeedsReviewed, eligibility.Waitlisted, eligibility.Ready, eligibility.Denied:
		d.CanCancel = a.Can(accounts.CancelRequests)
	}
	if f == nil {
		f = justificationForm()
	}
	return p.render(c, code, "request", "Request "+strconv.FormatInt(id, 10), f, d)
}

func justificationForm() *Form { return NewForm("justification", "Justification") }

// requestAction runs one decision on the request and shows its page
// again: with the decision's notice, or its problems next to its form.
func (p *Pages) requestAction(done string, do func(ctx context.Context, a *accounts.Actor, id int64, justification string) (*eligibility.DeviceRequest, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pageID(c, "request")
		if err != nil {
			return err
		}
		f := formValues(c, justificationForm())
		if _, err := do(c.UserContext(), Actor(c), id, f.Values["justification"]); err != nil {
			if !shownInForm(err) {
				return err
			}
			f.Fail(err)
			return p.showRequest(c, status(err), done, f)
		}
		return c.Redirect("/requests/"+strconv.FormatInt(id, 10)+"?done="+done, fiber.StatusSeeOther)
	}
}
