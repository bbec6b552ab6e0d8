package web

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/training"
	"github.com/devicebank/devicebank/web/download"
)

func (s *Server) createSession(c *fiber.Ctx) error {
	var in training.SessionInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ss, err := s.svc.Training.CreateSession(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/training/sessions/" + strconv.FormatInt(ss.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(ss)
}

func (s *Server) listSessions(c *fiber.Ctx) error {
	p, perr := page(c)
	f := training.SessionFilter{Topic: c.Query("topic"), Language: c.Query("language")}
	var bad apperr.Fields
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			bad.Check(err != nil, name, "must be a time written RFC 3339, such as 2026-04-01T00:00:00Z")
			*dst = t
		}
	}
	if v := c.Query("include_cancelled"); v != "" {
		b, err := strconv.ParseBool(v)
		bad.Check(err != nil, "include_cancelled", "must be true or false")
		f.Cancelled = b
	}
	if err := apperr.Join(perr, bad.Err()); err != nil {
		return err
	}
	out, total, err := s.svc.Training.Sessions(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}

func (s *Server) getSession(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	ss, err := s.svc.Training.Session(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(ss)
}

func (s *Server) updateSession(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	var in training.SessionInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ss, err := s.svc.Training.UpdateSession(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(ss)
}

func (s *Server) cancelSession(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	var in struct{}
	if err := decodeOptional(c, &in); err != nil {
		return err
	}
	ss, err := s.svc.Training.CancelSession(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(ss)
}

func (s *Server) listEnrollments(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	out, total, err := s.svc.Training.Enrollments(c.UserContext(), id, p)
	if err != nil {
		return err
	}
	return sendList(c, out, total, p)
}

func (s *Server) enroll(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	var in struct {
		ClientID int64 `json:"client_id"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	e, err := s.svc.Training.Enroll(c.UserContext(), actor(c), id, in.ClientID)
	if err != nil {
		return err
	}
	c.Location(placePath(e.SessionID, e.ClientID))
	return c.Status(fiber.StatusCreated).JSON(e)
}

// placePath is where a client's place in a session is read.
func placePath(sessionID, clientID int64) string {
	return "/api/v1/training/sessions/" + strconv.FormatInt(sessionID, 10) + "/enrollments/" + strconv.FormatInt(clientID, 10)
}

// placeIDs reads a place's path, /training/sessions/:id/enrollments/:client_id.
func placeIDs(c *fiber.Ctx) (sessionID, clientID int64, err error) {
	if sessionID, err = pathID(c, "session"); err != nil {
		return 0, 0, err
	}
	clientID, err = strconv.ParseInt(c.Params("client_id"), 10, 64)
	if err != nil || clientID <= 0 {
		return 0, 0, apperr.New(apperr.NotFound, "enrollment not found")
	}
	return sessionID, clientID, nil
}

func (s *Server) getPlace(c *fiber.Ctx) error {
	id, clientID, err := placeIDs(c)
	if err != nil {
		return err
	}
	e, err := s.svc.Training.Place(c.UserContext(), actor(c), id, clientID)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (s *Server) withdraw(c *fiber.Ctx) error {
	id, clientID, err := placeIDs(c)
	if err != nil {
		return err
	}
	e, err := s.svc.Training.Withdraw(c.UserContext(), actor(c), id, clientID)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (s *Server) recordAttendance(c *fiber.Ctx) error {
	id, err := pathID(c, "session")
	if err != nil {
		return err
	}
	var in training.AttendanceInput
	if err := decode(c, &in); err != nil {
		return err
	}
	e, err := s.svc.Training.RecordAttendance(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (s *Server) clientTraining(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	rec, err := s.svc.Training.ClientRecord(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

func (s *Server) certificate(c *fiber.Ctx) error {
	id, err := pathID(c, "client")
	if err != nil {
		return err
	}
	module := c.Params("module")
	pdf, err := s.svc.Training.CertificateFor(c.UserContext(), actor(c), id, module)
	if err != nil {
		return err
	}
	return download.PDF(c, "certificate-"+module, pdf)
}
