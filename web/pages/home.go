package pages

import (
	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
)

// tasks is what each role does, as the home page tells it.
var tasks = map[accounts.Role][]string{
	accounts.SocialWorker: {
		"Record your clients and keep their details up to date.",
		"Check whether a client qualifies for a device, and ask for one.",
		"Book your clients into digital-literacy training.",
		"Follow your clients' loans and the reminders they were sent.",
	},
	accounts.Coordinator: {
		"Take devices and data plans into the pool, and print their labels.",
		"Decide device requests and keep the waitlist moving.",
		"Issue devices with a signed agreement, take them back, inspect and wipe them.",
		"Schedule training sessions and record attendance.",
	},
	accounts.Admin: {
		"Manage the staff accounts and their roles.",
		"Keep the eligibility rules, the reminder policy and the agreement terms.",
		"Add funding sources and link each funder to theirs.",
		"Everything a coordinator and a social worker do.",
	},
	accounts.Funder: {
		"Read the utilization report of the funding sources linked to you: aggregates only, never who the clients are.",
	},
}

type homeData struct {
	Tasks     []string
	Dashboard bool
}

func (p *Pages) home(c *fiber.Ctx) error {
	if Actor(c) == nil {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	return p.render(c, fiber.StatusOK, "home", "Home", nil, homeData{Tasks: tasks[Actor(c).Role], Dashboard: Actor(c).Can(accounts.ManageLoans)})
}

type usersData struct {
	Users []accounts.User
	Pager Pager
}

// users lists the staff, a page at a time (?offset=, ?limit=: the list's
// filter names no client, so its pages are links).
func (p *Pages) users(c *fiber.Ctx) error {
	pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	if err != nil {
		return err
	}
	users, total, err := p.svc.Accounts.ListUsers(c.UserContext(), pg)
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "users", "Staff", nil, usersData{Users: users, Pager: NewPager("/users", pg, total)})
}
