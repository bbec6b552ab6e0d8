package web

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
)

// codeOfStatus classifies Fiber's own errors (no route, body too large).
func codeOfStatus(status int) apperr.Code {
	switch status {
	case fiber.StatusBadRequest:
		return apperr.Malformed
	case fiber.StatusUnauthorized:
		return apperr.Unauthorized
	case fiber.StatusForbidden:
		return apperr.Forbidden
	case fiber.StatusNotFound:
		return apperr.NotFound
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return apperr.TooLarge
	case fiber.StatusUnsupportedMediaType:
		return apperr.UnsupportedMediaType
	case fiber.StatusTooManyRequests:
		return apperr.RateLimited
	}
	if status >= 500 {
		return apperr.Internal
	}
	return apperr.Invalid
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    apperr.Code       `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// handleError is the one place errors become responses: JSON for the API,
// a small HTML page for a browser elsewhere. Only internal errors are logged
// with their detail, and never with request bodies.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	secureHeaders(c)
	var (
		status int
		detail errorDetail
		fe     *fiber.Error
		ae     *apperr.Error
	)
	switch {
	case errors.As(err, &ae):
		status = apperr.HTTPStatus(ae.Code)
		detail = errorDetail{Code: ae.Code, Message: ae.Message, Fields: ae.Fields}
	case errors.As(err, &fe):
		status = fe.Code
		detail = errorDetail{Code: codeOfStatus(fe.Code), Message: fe.Message}
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			detail.Message = "the request body is larger than the limit"
		}
	default:
		status = fiber.StatusInternalServerError
		detail = errorDetail{Code: apperr.Internal}
	}
	// A busy server (503 unavailable) is not a fault: it says so itself.
	if status >= 500 && detail.Code != apperr.Unavailable {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Method(),
			"route", routePattern(c), "error", err.Error())
		detail.Message = "something went wrong on our side; the error was logged (request " + requestID(c) + ")"
		detail.Fields = nil
	}
	if ae != nil && ae.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, ae.RetryAfterSeconds())
	}
	c.Status(status)
	// Outside the API, a browser (or any client of a page) gets a page: the
	// sign-in form in place of a page that needs a session, or an error
	// page in the layout.
	if s.pages != nil && !strings.HasPrefix(c.Path(), "/api/") &&
		(strings.Contains(c.Get(fiber.HeaderAccept), "text/html") || s.pages.IsPage(c.Method(), c.Route().Path)) {
		c.Response().ResetBody()
		return s.pages.Error(c, status, detail.Message)
	}
	if status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="devicebank"`)
	}
	return c.JSON(errorBody{detail})
}

// logRequests logs one line per request: no query string and no body, since
// either may carry client details.
func (s *Server) logRequests(c *fiber.Ctx) error {
	if c.Locals(replaying) != nil { // a replay's second pass: logged once, as sent
		return c.Next()
	}
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	s.log.LogAttrs(c.UserContext(), levelFor(c.Response().StatusCode()), "request",
		slog.String("request_id", requestID(c)), slog.String("method", c.Method()),
		slog.String("route", routePattern(c)), slog.Int("status", c.Response().StatusCode()))
	return nil
}

func levelFor(status int) slog.Level {
	switch {
	case status == fiber.StatusServiceUnavailable:
		return slog.LevelWarn
	case status >= 500:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// routePattern is the matched route ("/api/v1/clients/:id"), not the path,
// so logs never carry ids or search text.
func routePattern(c *fiber.Ctx) string {
	if p, ok := c.Locals(keyedRoute).(string); ok {
		return p
	}
	if r := c.Route(); r != nil && r.Path != "" && r.Path != "/" {
		return r.Path
	}
	return "(unmatched)"
}
