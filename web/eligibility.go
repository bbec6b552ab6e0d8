package web

import (
	"encoding/json"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
)

func (s *Server) checkEligibility(c *fiber.Ctx) error {
	var in struct {
		ClientID      int64  `json:"client_id"`
		DeviceKind    string `json:"device_kind"`
		NeedsDataPlan bool   `json:"needs_data_plan"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Eligibility.Check(c.UserContext(), actor(c), in.ClientID,
		eligibility.Request{DeviceKind: in.DeviceKind, NeedsDataPlan: in.NeedsDataPlan})
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) currentRules(c *fiber.Ctx) error {
	r, err := s.svc.Eligibility.CurrentRuleSet(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) replaceRules(c *fiber.Ctx) error {
	var raw map[string]json.RawMessage
	if err := decode(c, &raw); err != nil {
		return err
	}
	r, err := s.svc.Eligibility.ReplaceRuleSet(c.UserContext(), actor(c), c.Body())
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) ruleVersions(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	versions, total, err := s.svc.Eligibility.RuleSetVersions(c.UserContext(), p)
	if err != nil {
		return err
	}
	return sendList(c, versions, total, p)
}

func (s *Server) listGuidelines(c *fiber.Ctx) error {
	gs, err := s.svc.Eligibility.Guidelines(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": gs})
}

func (s *Server) loadGuideline(c *fiber.Ctx) error {
	var g eligibility.Guideline
	if err := decode(c, &g); err != nil {
		return err
	}
	out, err := s.svc.Eligibility.LoadGuideline(c.UserContext(), actor(c), g)
	if err != nil {
		return err
	}
	c.Location("/api/v1/eligibility/guidelines/" + url.PathEscape(out.ID))
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) getGuideline(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "guideline table not found")
	}
	g, err := s.svc.Eligibility.Guideline(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(g)
}
