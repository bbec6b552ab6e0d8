package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
)

// authenticate turns a bearer token into the request's actor.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return apperr.New(apperr.Unauthorized, "send an API token as 'Authorization: Bearer TOKEN'")
	}
	actor, err := s.svc.Accounts.Authenticate(c.UserContext(), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	c.Locals("actor", actor)
	return c.Next()
}

// actor is the signed-in user of the request.
func actor(c *fiber.Ctx) *accounts.Actor {
	a, _ := c.Locals("actor").(*accounts.Actor)
	return a
}

// require refuses the request unless the actor's role holds p.
func require(p accounts.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if p != "" && !actor(c).Can(p) {
			return apperr.New(apperr.Forbidden, "your role (%s) cannot do this", actor(c).Role)
		}
		return c.Next()
	}
}

// list is the shape of every list response.
type list[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func page(c *fiber.Ctx) (storage.Page, error) {
	return storage.ParsePage(c.Query("limit"), c.Query("offset"))
}

func sendList[T any](c *fiber.Ctx, items []T, total int, p storage.Page) error {
	return c.JSON(list[T]{Items: items, Total: total, Limit: p.Limit, Offset: p.Offset})
}

// The account handlers.

func (s *Server) signIn(c *fiber.Ctx) error {
	var in accounts.SignIn
	if err := decode(c, &in); err != nil {
		return err
	}
	token, t, err := s.svc.Accounts.SignIn(c.UserContext(), in, clientAddress(c, s.proxies))
	if err != nil {
		s.metrics.SignInFailed(err)
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store") // it carries a secret
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": token, "id": t.ID, "name": t.Name, "expires_at": t.ExpiresAt})
}

// changePassword replaces the signed-in user's password; their other
// tokens stop working, the one used here goes on.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var in accounts.PasswordChange
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := s.svc.Accounts.ChangePassword(c.UserContext(), actor(c), in, clientAddress(c, s.proxies)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// resetPassword gives a user a new one-time password, shown in this answer
// only. The answer is marked not to be stored, which also keeps it out of
// the Idempotency-Key store.
func (s *Server) resetPassword(c *fiber.Ctx) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	if len(c.Body()) > 0 {
		var none struct{}
		if err := decode(c, &none); err != nil {
			return err
		}
	}
	password, err := s.svc.Accounts.ResetPassword(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"user_id": id, "one_time_password": password})
}

func (s *Server) me(c *fiber.Ctx) error {
	u, err := s.svc.Accounts.User(c.UserContext(), actor(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	tokens, total, err := s.svc.Accounts.ListTokens(c.UserContext(), actor(c).ID, p)
	if err != nil {
		return err
	}
	return sendList(c, tokens, total, p)
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	token, t, err := s.svc.Accounts.CreateToken(c.UserContext(), actor(c), actor(c).ID, in.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": token, "id": t.ID, "name": t.Name, "expires_at": t.ExpiresAt})
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	id, err := pathID(c, "token")
	if err != nil {
		return err
	}
	if err := s.svc.Accounts.RevokeToken(c.UserContext(), actor(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	users, total, err := s.svc.Accounts.ListUsers(c.UserContext(), p)
	if err != nil {
		return err
	}
	return sendList(c, users, total, p)
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var in accounts.NewUser
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.svc.Accounts.CreateUser(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/users/" + strconv.FormatInt(u.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(u)
}

func (s *Server) getUser(c *fiber.Ctx) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	u, err := s.svc.Accounts.User(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) updateUser(c *fiber.Ctx) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	var in accounts.UserPatch
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := s.svc.Accounts.UpdateUser(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(u)
}
