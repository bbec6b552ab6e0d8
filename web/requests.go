package web

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
)

func (s *Server) fileRequest(c *fiber.Ctx) error {
	var in eligibility.RequestInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := s.svc.Eligibility.FileRequest(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/requests/" + strconv.FormatInt(r.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (s *Server) listRequests(c *fiber.Ctx) error {
	p, perr := page(c)
	ids, ierr := queryIDs(c, "client_id")
	f, ferr := eligibility.ParseRequestFilter(c.Query("status"), c.Query("device_kind"))
	if err := apperr.Join(perr, ierr, ferr); err != nil {
		return err
	}
	f.ClientID = ids["client_id"]
	out, total, err := s.svc.Eligibility.Requests(c.UserContext(), actor(c), f, p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}

func (s *Server) getRequest(c *fiber.Ctx) error {
	id, err := pathID(c, "request")
	if err != nil {
		return err
	}
	r, err := s.svc.Eligibility.DeviceRequest(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// requestAction is the handler of a coordinator's decision on a request:
// the body, which may be left out, carries the written justification
// (optional for an approval; the service names it when it is required).
func requestAction(do func(ctx context.Context, actor *accounts.Actor, id int64, justification string) (*eligibility.DeviceRequest, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "request")
		if err != nil {
			return err
		}
		var in struct {
			Justification string `json:"justification"`
		}
		if err := decodeOptional(c, &in); err != nil {
			return err
		}
		r, err := do(c.UserContext(), actor(c), id, in.Justification)
		if err != nil {
			return err
		}
		return c.JSON(r)
	}
}

func (s *Server) cancelRequest(c *fiber.Ctx) error {
	id, err := pathID(c, "request")
	if err != nil {
		return err
	}
	var in struct{}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	r, err := s.svc.Eligibility.Cancel(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) waitlist(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	out, total, err := s.svc.Eligibility.Waitlist(c.UserContext(), actor(c), c.Query("kind"), p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}
