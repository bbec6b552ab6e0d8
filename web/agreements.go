package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/apperr"
)

func (s *Server) currentTerms(c *fiber.Ctx) error {
	t, err := s.svc.Agreements.Current(c.UserContext(), c.Query("language"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Server) termsVersion(c *fiber.Ctx) error {
	lang, err := url.PathUnescape(c.Params("language"))
	v, verr := strconv.Atoi(c.Params("version"))
	if err != nil || verr != nil || v <= 0 {
		return apperr.New(apperr.NotFound, "agreement terms version not found")
	}
	t, err := s.svc.Agreements.Version(c.UserContext(), lang, v)
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Server) saveTerms(c *fiber.Ctx) error {
	var in agreements.TermsInput
	if err := decode(c, &in); err != nil {
		return err
	}
	t, err := s.svc.Agreements.Save(c.UserContext(), actor(c), c.Query("language"), in.Body)
	if err != nil {
		return err
	}
	c.Location("/api/v1/agreement/terms/versions/" + t.Language + "/" + strconv.Itoa(t.Version))
	return c.Status(fiber.StatusCreated).JSON(t)
}
