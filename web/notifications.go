package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/notifications"
)

// SMSWebhook is how the SMS provider's inbound webhook is checked: the
// auth token that signs its requests and the public URL it calls (behind
// a proxy the URL the server sees differs, and the signature covers it).
type SMSWebhook struct {
	AuthToken string
	URL       string
}

func (s *Server) listNotifications(c *fiber.Ctx) error {
	p, perr := page(c)
	ids, ierr := queryIDs(c, "loan_id", "client_id")
	f := notifications.Filter{Status: notifications.Status(c.Query("status")), Kind: notifications.Kind(c.Query("kind")),
		LoanID: ids["loan_id"], ClientID: ids["client_id"]}
	if err := apperr.Join(perr, ierr, f.Validate()); err != nil {
		return err
	}
	out, total, err := s.svc.Notifications.List(c.UserContext(), actor(c), f, p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}

func (s *Server) remindNow(c *fiber.Ctx) error {
	id, err := pathID(c, "loan")
	if err != nil {
		return err
	}
	var in notifications.RemindInput
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	n, err := s.svc.Notifications.SendNow(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/notifications/" + strconv.FormatInt(n.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(n)
}

func (s *Server) getNotification(c *fiber.Ctx) error {
	id, err := pathID(c, "notification")
	if err != nil {
		return err
	}
	n, err := s.svc.Notifications.Notification(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (s *Server) reminderPolicy(c *fiber.Ctx) error {
	p, err := s.svc.Notifications.Policy(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (s *Server) setReminderPolicy(c *fiber.Ctx) error {
	var in notifications.Policy
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := s.svc.Notifications.SetPolicy(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// smsInbound takes the SMS provider's webhook for replies: STOP opts the
// sender out of SMS, START back in. Requests must carry the provider's
// signature; it answers with empty TwiML, so the provider sends nothing
// back itself. A message seen before (by its MessageSid) is answered the
// same 200, since the provider retries anything else, but changes nothing:
// its signature has no time in it, so a replayed request would otherwise
// undo a client's later START or STOP.
func (s *Server) smsInbound(c *fiber.Ctx) error {
	if s.sms == nil {
		return apperr.New(apperr.NotFound, "SMS is not configured")
	}
	form, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return apperr.New(apperr.Invalid, "the body must be a form (application/x-www-form-urlencoded)")
	}
	if !notifications.VerifySignature(s.sms.AuthToken, s.sms.URL, form, c.Get("X-Twilio-Signature")) {
		return apperr.New(apperr.Forbidden, "the request's signature does not match")
	}
	out, err := s.svc.Notifications.RecordReply(c.UserContext(), notifications.InboundSMS{MessageSID: form.Get("MessageSid"),
		From: form.Get("From"), Body: form.Get("Body")})
	if err != nil {
		return err
	}
	s.log.Info("sms reply", "request_id", requestID(c), "reply", out.Reply.String(), "clients_changed", out.Changed,
		"repeated", out.Repeated)
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	return c.SendString(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
}
