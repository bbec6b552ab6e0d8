package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/idempotency"
)

// idempotent honours an Idempotency-Key header: a resent request gets the
// first answer again instead of acting twice. Requests without the header
// pass straight through.
func (s *Server) idempotent(c *fiber.Ctx) error {
	key := c.Get(idempotency.Header)
	if key == "" {
		return c.Next()
	}
	ctx := c.UserContext()
	req := idempotency.Request{UserID: actor(c).ID, Key: key, Method: c.Method(), Path: c.Path(), Body: c.Body()}
	prev, err := s.svc.Idempotency.Begin(ctx, req)
	if err != nil {
		return err
	}
	if prev == nil {
		// If the handler panics, release the key before the panic goes on
		// to the recover middleware, so that the client can retry at once.
		defer func() {
			if p := recover(); p != nil {
				s.svc.Idempotency.Abandon(context.Background(), req)
				panic(p)
			}
		}()
	}
	if prev != nil {
		c.Set("Idempotent-Replayed", "true")
		if prev.Location != "" {
			c.Location(prev.Location)
		}
		c.Type("json")
		return c.Status(prev.StatusCode).Send(prev.Body)
	}
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	resp := c.Response()
	if resp.StatusCode() >= 500 {
		if err := s.svc.Idempotency.Abandon(ctx, req); err != nil {
			s.log.Error("release idempotency key", "request_id", requestID(c), "error", err.Error())
		}
		return nil
	}
	if err := s.svc.Idempotency.Finish(ctx, req, idempotency.Response{StatusCode: resp.StatusCode(), Body: resp.Body(),
		Location: string(resp.Header.Peek(fiber.HeaderLocation))}); err != nil {
		s.log.Error("store idempotent response", "request_id", requestID(c), "error", err.Error())
	}
	return nil
}
