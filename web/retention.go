package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/retention"
)

// retentionPolicy is the retention policy in force, in days and years.
func (s *Server) retentionPolicy(c *fiber.Ctx) error {
	p, err := retention.Current(c.UserContext(), s.svc.DB)
	if err != nil {
		return err
	}
	return c.JSON(retention.SettingsOf(p))
}

// setRetentionPolicy replaces the retention policy: every setting is given.
func (s *Server) setRetentionPolicy(c *fiber.Ctx) error {
	var in retention.Settings
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := retention.Set(c.UserContext(), s.svc.DB, actor(c), s.svc.Clients.Now(), in)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
