package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/clients"
)

func (s *Server) listClients(c *fiber.Ctx) error {
	p, perr := page(c)
	ids, ierr := queryIDs(c, "caseworker_id")
	if err := apperr.Join(perr, ierr); err != nil {
		return err
	}
	f := clients.Filter{Q: c.Query("q"), CaseworkerID: ids["caseworker_id"]}
	out, total, err := s.svc.Clients.List(c.UserContext(), actor(c), f, p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}

func (s *Server) createClient(c *fiber.Ctx) error {
	var in clients.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	cl, err := s.svc.Clients.Create(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/clients/" + strconv.FormatInt(cl.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(cl)
}

func (s *Server) getClient(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	cl, err := s.svc.Clients.Get(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(cl)
}

func (s *Server) updateClient(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	var in clients.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	cl, err := s.svc.Clients.Update(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(cl)
}

func (s *Server) clientHistory(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	events, total, err := s.svc.Clients.History(c.UserContext(), actor(c), id, p)
	if err != nil {
		return err
	}
	return sendList(c, events, total, p)
}

// exportClient answers an access request: everything held about a client,
// for their caseworker or an admin, as one JSON document to keep.
func (s *Server) exportClient(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	out, err := s.svc.ExportClient(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="client-`+strconv.FormatInt(id, 10)+`.json"`)
	return c.JSON(out)
}

// eraseClient erases a client at an admin's request (the client asked):
// 204, and the client is seen by no one since.
func (s *Server) eraseClient(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.svc.Clients.Erase(c.UserContext(), actor(c), id, in.Reason); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
