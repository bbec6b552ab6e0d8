package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/metrics"
)

// observeRequests records each request's method, route pattern, status and
// time in the metrics. It reads only what routing left on the context: no
// query, no allocation for a route seen before.
func (s *Server) observeRequests(c *fiber.Ctx) error {
	if c.Locals(replaying) != nil { // a replay's second pass: counted once, as sent
		return c.Next()
	}
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// logRequests answers every error itself; one that gets here is
		// the error handler's own failure, which Fiber answers with a 500.
		status = fiber.StatusInternalServerError
	}
	s.metrics.Request(metrics.Method(c.Method()), s.metricsRoute(c), status, time.Since(start))
	return err
}

// metricsRoute is the pattern of the route that answered, or
// metrics.Unmatched when only the middleware did (no route matched): a
// path is never a label.
func (s *Server) metricsRoute(c *fiber.Ctx) string {
	if p, ok := c.Locals(keyedRoute).(string); ok {
		return p
	}
	if r := c.Route(); len(r.Handlers) > 0 && !s.middlewareRoutes[r] {
		return r.Path
	}
	return metrics.Unmatched
}
