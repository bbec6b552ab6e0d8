package pages

import (
	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
)

// The outbox as staff read it: what was sent, what is waiting, what
// failed and why. Like the API's list it never shows an address, and a
// message's text only to those who may see its client.
func (p *Pages) notificationRoutes() []Route {
	return []Route{{"GET", "/notifications", accounts.ReadNotifications, p.notificationList}}
}

type notificationRow struct {
	notifications.Notification
	Kind, Recipient, Scheduled, Sent string
}

type notificationsData struct {
	Notifications   []notificationRow
	Statuses, Kinds []Option
	Pager           Pager
}

func notificationsFilter() *Form { return NewForm("status", "Status", "kind", "Kind") }

// notificationList lists the notifications by status and kind (a filter
// that names no client, so a link), newest first.
func (p *Pages) notificationList(c *fiber.Ctx) error {
	f := notificationsFilter()
	f.Values["status"], f.Values["kind"] = c.Query("status"), c.Query("kind")
	d := notificationsData{Statuses: options(notifications.Statuses, "Any status"), Kinds: options(notifications.Kinds, "Any kind")}
	pg, perr := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	filter := notifications.Filter{Status: notifications.Status(f.Values["status"]), Kind: notifications.Kind(f.Values["kind"])}
	if err := apperr.Join(perr, filter.Validate()); err != nil {
		f.Fail(err)
		return p.render(c, status(err), "notifications", "Notifications", f, d)
	}
	list, total, err := p.svc.Notifications.List(c.UserContext(), Actor(c), filter, pg)
	if err != nil {
		return err
	}
	for _, n := range list {
		row := notificationRow{Notification: n, Kind: words(n.Kind), Recipient: words(n.Recipient), Scheduled: p.when(n.ScheduledAt)}
		if n.SentAt != nil {
			row.Sent = p.when(*n.SentAt)
		}
		d.Notifications = append(d.Notifications, row)
	}
	d.Pager = NewPager("/notifications", pg, total)
	d.Pager.Hidden = map[string]string{"status": f.Values["status"], "kind": f.Values["kind"]}
	return p.render(c, fiber.StatusOK, "notifications", "Notifications", f, d)
}
