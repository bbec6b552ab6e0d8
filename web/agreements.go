package web

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/web/download"
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

func (s *Server) loanAgreementPDF(c *fiber.Ctx) error {
	id, err := pathID(c, "loan")
	if err != nil {
		return err
	}
	f, err := s.svc.Agreements.Agreement(c.UserContext(), actor(c), id, c.Query("language"))
	if err != nil {
		return err
	}
	return download.PDF(c, f.Name(id), f.PDF)
}

func (s *Server) loanAgreement(c *fiber.Ctx) error {
	id, err := pathID(c, "loan")
	if err != nil {
		return err
	}
	a, err := s.svc.Agreements.Acceptance(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) acceptAgreement(c *fiber.Ctx) error {
	id, err := pathID(c, "loan")
	if err != nil {
		return err
	}
	var in agreements.AcceptanceInput
	if err := decode(c, &in); err != nil {
		return err
	}
	a, err := s.svc.Agreements.Accept(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/loans/" + strconv.FormatInt(id, 10) + "/agreement")
	return c.Status(fiber.StatusCreated).JSON(a)
}
