package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/reports"
)

// utilizationReport answers the utilization report of ?from= to ?to=, as
// JSON (the default), CSV or PDF (?format=).
func (s *Server) utilizationReport(c *fiber.Ctx) error {
	p, err := reports.ParseParams(c.Query("from"), c.Query("to"), c.Query("funding_source_id"), c.Query("kind"), c.Query("postal_prefix"))
	format := c.Query("format", "json")
	if format != "json" {
		err = apperr.Join(err, apperr.Fields{"format": "must be json"}.Err())
	}
	if err != nil {
		return err
	}
	r, err := s.svc.Reports.Utilization(c.UserContext(), actor(c), p)
	if err != nil {
		return err
	}
	return c.JSON(r)
}
