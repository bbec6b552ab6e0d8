package pages

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/retention"
)

// The retention policy and a client's erasure, for admins: the pages of
// GET and PUT /api/v1/retention/policy and POST /api/v1/clients/{id}/erase,
// through the same services.

// retentionFields are the policy's settings, each a whole number of days
// or years, in the order the page shows them.
var retentionFields = []struct {
	name, label, hint string
	value             func(*retention.Settings) *int
}{
	{"notification_texts_days", "Reminder texts (days)", "A reminder's text, address and note are erased this many days after it was sent, failed or was cancelled: 1 to 3650.",
		func(s *retention.Settings) *int { return &s.NotificationTextsDays }},
	{"sms_replies_days", "Records of SMS replies (days)", "The record that a client's reply was received (not its words, which are never kept) is deleted after this many days: 1 to 3650.",
		func(s *retention.Settings) *int { return &s.SMSRepliesDays }},
	{"ended_sessions_days", "Ended sign-in sessions (days)", "A staff member's browser session is deleted this many days after it ended: 1 to 365.",
		func(s *retention.Settings) *int { return &s.EndedSessionsDays }},
	{"inactive_client_years", "Inactive clients (years)", "A client with no open loan or request and no activity for this many years is anonymised: 1 to 50.",
		func(s *retention.Settings) *int { return &s.InactiveClientYears }},
}

func retentionForm() *Form {
	f := NewForm()
	for _, r := range retentionFields {
		f.Order = append(f.Order, r.name)
		f.Labels[r.name] = r.label
	}
	return f
}

// retentionField is one setting as the page shows it.
type retentionField struct {
	Name, Label, Hint string
	Default           int
}

type retentionData struct {
	Fields []retentionField
	// Due is what a run of the policy in force would erase now, by kind.
	Due   []retention.Category
	Saved bool
}

// retentionPage shows the policy in force, its defaults, and what its next
// run would erase now (a dry run, which changes nothing).
func (p *Pages) retentionPage(c *fiber.Ctx) error {
	pol, err := retention.Current(c.UserContext(), p.svc.DB)
	if err != nil {
		return err
	}
	f := retentionForm()
	s := retention.SettingsOf(pol)
	for _, r := range retentionFields {
		f.Values[r.name] = strconv.Itoa(*r.value(&s))
	}
	return p.showRetention(c, fiber.StatusOK, f, c.Query("saved") == "1")
}

func (p *Pages) showRetention(c *fiber.Ctx, status int, f *Form, saved bool) error {
	ctx := c.UserContext()
	pol, err := retention.Current(ctx, p.svc.DB)
	if err != nil {
		return err
	}
	due, err := retention.Run(ctx, p.svc.DB, p.svc.Clients, p.svc.Clients.Now(), pol, true)
	if err != nil {
		return err
	}
	defaults := retention.SettingsOf(retention.DefaultPolicy)
	d := retentionData{Due: due, Saved: saved}
	for _, r := range retentionFields {
		d.Fields = append(d.Fields, retentionField{Name: r.name, Label: r.label, Hint: r.hint, Default: *r.value(&defaults)})
	}
	return p.render(c, status, "retention", "Retention policy", f, d)
}

// saveRetention reads the form into the policy's settings and saves them
// (retention.Set, as PUT /api/v1/retention/policy), or shows the form again
// with each problem at its field.
func (p *Pages) saveRetention(c *fiber.Ctx) error {
	f := retentionForm()
	var in retention.Settings
	var bad apperr.Fields
	for _, r := range retentionFields {
		v := strings.TrimSpace(c.FormValue(r.name))
		f.Values[r.name] = v
		n, err := strconv.Atoi(v)
		if err != nil {
			bad.Add(r.name, "must be a whole number")
			continue
		}
		*r.value(&in) = n
	}
	if err := bad.Err(); err != nil {
		// The service's bounds too, so that every problem shows at once.
		f.Fail(err)
		if verr := in.Validate(); verr != nil {
			if e, ok := verr.(*apperr.Error); ok {
				for k, v := range e.Fields {
					if _, taken := f.Errors[k]; !taken {
						f.Errors[k] = v
					}
				}
			}
		}
		return p.showRetention(c, fiber.StatusUnprocessableEntity, f, false)
	}
	if _, err := retention.Set(c.UserContext(), p.svc.DB, Actor(c), p.svc.Clients.Now(), in); err != nil {
		if !f.Fail(err) {
			return err
		}
		return p.showRetention(c, see(err), f, false)
	}
	return c.Redirect("/retention/policy?saved=1", fiber.StatusSeeOther)
}

// ---- Erasing a client ----

type eraseData struct {
	Client *clients.Client
	// Erased is set once the client is erased: the page says so, and
	// names nobody.
	Erased bool
}

func eraseForm() *Form {
	return NewForm("reason", "Why", "confirm", "Confirm")
}

// eraseClientForm asks an admin to confirm a client's erasure, and why.
func (p *Pages) eraseClientForm(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	cl, err := p.svc.Clients.Get(c.UserContext(), Actor(c), id)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "client-erase", "Erase "+cl.FirstName+" "+cl.LastName, eraseForm(), eraseData{Client: cl})
}

// eraseClient erases the client (clients.Service.Erase, as POST
// /api/v1/clients/{id}/erase) once the admin has ticked the confirmation;
// a refusal (a device still out, a request open) shows the form again
// with the reason.
func (p *Pages) eraseClient(c *fiber.Ctx) error {
	id, err := pageID(c, "client")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	f := eraseForm()
	f.Values["reason"] = strings.TrimSpace(c.FormValue("reason"))
	f.Values["confirm"] = check(c.FormValue("confirm") == "true")
	if f.Values["confirm"] == "" {
		// Every problem at once: the reason's too.
		var bad apperr.Fields
		clients.CheckEraseReason(&bad, f.Values["reason"])
		bad.Add("confirm", "tick the box to confirm: an erasure cannot be undone")
		err = bad.Err()
	} else {
		err = p.svc.Clients.Erase(ctx, a, id, f.Values["reason"])
	}
	if err == nil {
		return p.render(c, fiber.StatusOK, "client-erase", "Client erased", nil, eraseData{Erased: true})
	}
	if !f.Fail(err) || apperr.CodeOf(err) == apperr.NotFound {
		return err
	}
	cl, gerr := p.svc.Clients.Get(ctx, a, id)
	if gerr != nil {
		return gerr
	}
	return p.render(c, see(err), "client-erase", "Erase "+cl.FirstName+" "+cl.LastName, f, eraseData{Client: cl})
}
