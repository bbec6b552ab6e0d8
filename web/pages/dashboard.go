package pages

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
)

// Tile is one figure of the dashboard: a count, and the list it counts.
type Tile struct {
	Label, About string
	Count        int
	Link         string
}

type dashboardData struct {
	Free  []Tile
	To    []Tile
	Total int // free devices in all
}

// dashboard is what needs doing at the desk, each a count with a link to
// the list it counts. Counts only: every figure is one COUNT, read by the
// services that list the same rows for the actor (so a figure never counts
// what the list would not show), and its link's filter is the API's.
func (p *Pages) dashboard(c *fiber.Ctx) error {
	ctx, a := c.UserContext(), Actor(c)
	inv := p.svc.Inventory
	var d dashboardData
	free, err := inv.AvailableByKind(ctx)
	if err != nil {
		return err
	}
	for _, k := range inventory.Kinds {
		d.Free = append(d.Free, Tile{Label: capitalized(string(k)), Count: free[k],
			Link: "/devices?" + url.Values{"status": {"available"}, "kind": {string(k)}}.Encode()})
		d.Total += free[k]
	}
	type count struct {
		perm  accounts.Permission
		tile  Tile
		count func() (int, error)
	}
	counts := []count{
		{accounts.DecideRequests, Tile{Label: "Requests to decide", About: "need a coordinator’s review", Link: "/requests?status=needs_review"},
			func() (int, error) { return p.svc.Eligibility.CountRequests(ctx, a, eligibility.NeedsReviewed) }},
		{accounts.DecideRequests, Tile{Label: "Ready to issue", About: "the heads of the waitlist: a device is held for each", Link: "/requests?status=ready"},
			func() (int, error) { return p.svc.Eligibility.CountRequests(ctx, a, eligibility.Ready) }},
		{accounts.ReadLoans, Tile{Label: "Due this week", About: "open loans due today or in the next six days", Link: "/loans?due=week"},
			func() (int, error) { return inv.CountLoans(ctx, a, inventory.LoanFilter{Due: inventory.DueWeek}) }},
		{accounts.ReadLoans, Tile{Label: "Overdue", About: "open loans past their due date", Link: "/loans?status=overdue"},
			func() (int, error) {
				return inv.CountLoans(ctx, a, inventory.LoanFilter{Status: inventory.LoanOverdue})
			}},
		{accounts.ReadDevices, Tile{Label: "Waiting for inspection", About: "returned devices to check and wipe", Link: "/devices?status=inspection"},
			func() (int, error) {
				return inv.CountDevices(ctx, inventory.DeviceFilter{Status: inventory.Inspection})
			}},
		{accounts.ReadLoans, Tile{Label: "Unsigned agreements", About: "open loans whose agreement is not signed yet", Link: "/loans?agreement=unsigned"},
			func() (int, error) { return inv.CountLoans(ctx, a, inventory.LoanFilter{Agreement: "unsigned"}) }},
		{accounts.SendReminders, Tile{Label: "Failed notifications", About: "reminders that could not be sent", Link: "/notifications?status=failed"},
			func() (int, error) {
				return p.svc.Notifications.Count(ctx, a, notifications.Filter{Status: notifications.Failed})
			}},
	}
	for _, ct := range counts {
		if !a.Can(ct.perm) {
			continue
		}
		n, err := ct.count()
		if err != nil {
			return err
		}
		ct.tile.Count = n
		d.To = append(d.To, ct.tile)
	}
	return p.render(c, fiber.StatusOK, "dashboard", "Dashboard", nil, d)
}
