package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/funding"
)

func (s *Server) listFundingSources(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	sources, total, err := s.svc.Funding.List(c.UserContext(), actor(c), p)
	if err != nil {
		return err
	}
	return sendList(c, sources, total, p)
}

func (s *Server) createFundingSource(c *fiber.Ctx) error {
	var in funding.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	src, err := s.svc.Funding.Create(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/funding-sources/" + strconv.FormatInt(src.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(src)
}

func (s *Server) getFundingSource(c *fiber.Ctx) error {
	id, err := pathID(c, "funding source")
	if err != nil {
		return err
	}
	src, err := s.svc.Funding.Get(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(src)
}

func (s *Server) updateFundingSource(c *fiber.Ctx) error {
	id, err := pathID(c, "funding source")
	if err != nil {
		return err
	}
	var in funding.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	src, err := s.svc.Funding.Update(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(src)
}
