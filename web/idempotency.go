package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/storage"
)

// A replay says how a resend of a request that succeeded is answered. The
// first answer is not stored (it may hold a secret or a client's record):
// only its status and Location are. A resend is answered by reading the
// record again, through the whole middleware chain as a GET, so the caller's
// rights as they are now apply; the answer keeps the first status (201
// stays 201) and says Idempotent-Replayed: true. A request that only reads
// is simply answered again; an answer that was a secret cannot be shown
// again, and the resend is told so (409).
type replay struct {
	// reread is the path to GET for the answer, "" when there is none.
	reread func(c *fiber.Ctx, first *idempotency.Outcome) string
	// again: the request changes nothing (it reads and records the read),
	// so a resend is carried out afresh.
	again bool
	// secret is what a resend is told when the answer was a secret.
	secret string
	// noBody: the first answer was a status alone, which a resend gets again.
	noBody bool
}

var (
	// atLocation re-reads what a create made: its Location.
	atLocation = replay{reread: func(_ *fiber.Ctx, first *idempotency.Outcome) string { return first.Location }}
	// atPath re-reads what a PATCH or PUT changed: its own path.
	atPath = replay{reread: func(c *fiber.Ctx, _ *idempotency.Outcome) string { return c.Path() }}
	// again answers a request that only reads by carrying it out again.
	again = replay{again: true}
	// noBody answers with the first status alone: the request's answer
	// had no body (204).
	noBody = replay{noBody: true}
)

// at re-reads the record at pattern, whose :parameters are the route's: for
// POST /loans/:id/return, at("/api/v1/loans/:id").
func at(pattern string) replay {
	return replay{reread: func(c *fiber.Ctx, _ *idempotency.Outcome) string {
		segs := strings.Split(pattern, "/")
		for i, s := range segs {
			if name, ok := strings.CutPrefix(s, ":"); ok {
				segs[i] = c.Params(name)
			}
		}
		return strings.Join(segs, "/")
	}}
}

// secret marks a route whose answer is a secret shown only once.
func secret(message string) replay { return replay{secret: message} }

// replays is how each route that takes an Idempotency-Key (every POST, PUT
// and PATCH that needs a token) answers a resend. New refuses to build a
// server with such a route missing here.
var replays = map[string]replay{
	"POST /api/v1/tokens": secret("this request made an API token already, and a token is shown only when it is made; " +
		"if its answer was lost, revoke that token (GET /api/v1/tokens lists yours) and make another"),

	"POST /api/v1/users":      atLocation,
	"PATCH /api/v1/users/:id": atPath,
	"POST /api/v1/users/:id/password-reset": secret("this request reset the password already, and a one-time password is shown only when it is made; " +
		"if its answer was lost, reset the password again with a new Idempotency-Key"),
	// A password change answers nothing but its status (204).
	"POST /api/v1/me/password": noBody,

	"POST /api/v1/devices":                atLocation,
	"PATCH /api/v1/devices/:id":           atPath,
	"POST /api/v1/devices/:id/inspection": at("/api/v1/devices/:id"),
	"POST /api/v1/data-plans":             atLocation,
	"PATCH /api/v1/data-plans/:id":        atPath,

	"POST /api/v1/funding-sources":      atLocation,
	"PATCH /api/v1/funding-sources/:id": atPath,

	"POST /api/v1/clients":      atLocation,
	"PATCH /api/v1/clients/:id": atPath,
	// An erasure answers nothing but its status (204).
	"POST /api/v1/clients/:id/erase": noBody,

	"POST /api/v1/loans":               atLocation,
	"POST /api/v1/loans/:id/return":    at("/api/v1/loans/:id"),
	"POST /api/v1/loans/:id/renew":     at("/api/v1/loans/:id"),
	"POST /api/v1/loans/:id/lost":      at("/api/v1/loans/:id"),
	"POST /api/v1/loans/:id/recovered": at("/api/v1/loans/:id"),
	"POST /api/v1/loans/:id/reminders": atLocation,
	// A resend reads the signing record again; the signed PDF is its own
	// GET.
	"POST /api/v1/loans/:id/agreement/acceptance": atLocation,

	// A check records that the client's record was read, nothing more.
	"POST /api/v1/eligibility/check":      again,
	"PUT /api/v1/eligibility/rules":       atPath,
	"POST /api/v1/eligibility/guidelines": atLocation,

	"POST /api/v1/requests":              atLocation,
	"POST /api/v1/requests/:id/approve":  at("/api/v1/requests/:id"),
	"POST /api/v1/requests/:id/deny":     at("/api/v1/requests/:id"),
	"POST /api/v1/requests/:id/override": at("/api/v1/requests/:id"),
	"POST /api/v1/requests/:id/cancel":   at("/api/v1/requests/:id"),

	"POST /api/v1/training/sessions":                 atLocation,
	"PATCH /api/v1/training/sessions/:id":            atPath,
	"POST /api/v1/training/sessions/:id/cancel":      at("/api/v1/training/sessions/:id"),
	"POST /api/v1/training/sessions/:id/enrollments": atLocation,
	// The client is named in the body, which a resend repeats.
	"POST /api/v1/training/sessions/:id/attendance": {reread: func(c *fiber.Ctx, _ *idempotency.Outcome) string {
		var in struct {
			ClientID int64 `json:"client_id"`
		}
		json.Unmarshal(c.Body(), &in)
		return "/api/v1/training/sessions/" + c.Params("id") + "/enrollments/" + strconv.FormatInt(in.ClientID, 10)
	}},

	"PUT /api/v1/notifications/policy": atPath,
	"PUT /api/v1/retention/policy":     atPath,

	// The version made, at its own path (the language is in the query).
	"PUT /api/v1/agreement/terms": atLocation,
}

// keyed reports whether r takes an Idempotency-Key. Keys are scoped to the
// signed-in user, so only signed-in routes take them; sign-in itself is
// safe to repeat.
func (r Route) keyed() bool {
	return r.Permission != Public && (r.Method == fiber.MethodPost || r.Method == fiber.MethodPatch || r.Method == fiber.MethodPut)
}

// Replays reports whether a resend of a request to r with a used
// Idempotency-Key is answered (with the record read again, or a check made
// again): false for a route that takes no key, or whose answer is a secret
// shown only once.
func (r Route) Replays() bool { return r.keyed() && replayOf(r).secret == "" }

// replayOf is the replay of a route that takes an Idempotency-Key.
func replayOf(r Route) replay {
	rp, ok := replays[r.Method+" "+r.Path]
	if !ok {
		panic(fmt.Sprintf("%s %s takes an Idempotency-Key but has no entry in replays (web/idempotency.go)", r.Method, r.Path))
	}
	return rp
}

// Keys on the request's Locals.
const (
	// replaying marks a request being answered again, on its second pass
	// through the middleware.
	replaying = "idempotent_replay"
	// keyedRoute is the pattern of the route a replay was sent to, for
	// the log.
	keyedRoute = "keyed_route"
)

// outcomeTimeout bounds storing a request's outcome, which is done even
// when the request's own context was cancelled.
const outcomeTimeout = 5 * time.Second

// idempotent honours an Idempotency-Key header on a route that answers a
// resend as rp says: a request is carried out at most once, and a resend is
// told what became of it. Requests without the header pass straight
// through.
func (s *Server) idempotent(rp replay) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(idempotency.Header)
		if key == "" || c.Locals(replaying) != nil {
			return c.Next()
		}
		ctx := c.UserContext()
		// The query is part of the request: the same terms sent for
		// another language are another request.
		reqPath := c.Path()
		if q := c.Request().URI().QueryString(); len(q) > 0 {
			reqPath += "?" + string(q)
		}
		req := idempotency.Request{UserID: actor(c).ID, Key: key, Method: c.Method(), Path: reqPath, Body: c.Body()}
		claim, first, err := s.svc.Idempotency.Begin(ctx, req)
		if err != nil {
			return err
		}
		if first != nil {
			return s.replay(c, rp, first)
		}
		// Every transaction of the request commits only while the claim is
		// still its own.
		c.SetUserContext(storage.WithFence(ctx, claim.Fence))
		// If the handler panics, record that before the panic goes on to
		// the recover middleware: the key is released at once when nothing
		// was committed.
		defer func() {
			if p := recover(); p != nil {
				s.finish(c, claim, idempotency.Outcome{StatusCode: fiber.StatusInternalServerError})
				panic(p)
			}
		}()
		if err := c.Next(); err != nil {
			if herr := s.handleError(c, err); herr != nil {
				return herr
			}
		}
		resp := c.Response()
		out := idempotency.Outcome{StatusCode: resp.StatusCode(), Location: string(resp.Header.Peek(fiber.HeaderLocation))}
		if out.StatusCode >= 400 && out.StatusCode < 500 {
			// The service's own message, never a record.
			out.ErrorBody = resp.Body()
		}
		s.finish(c, claim, out)
		return nil
	}
}

// finish stores a request's outcome, with a context that survives the
// request's, trying twice. Should both fail, a resend is told the request
// was carried out (if it committed anything) rather than running it again.
func (s *Server) finish(c *fiber.Ctx, claim *idempotency.Claim, out idempotency.Outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), outcomeTimeout)
	defer cancel()
	err := s.svc.Idempotency.Finish(ctx, claim, out)
	if err != nil {
		err = s.svc.Idempotency.Finish(ctx, claim, out)
	}
	if err != nil {
		s.log.Error("store the outcome of an idempotent request", "request_id", requestID(c), "error", err.Error())
	}
}

// replay answers a resend of a request with the outcome first.
func (s *Server) replay(c *fiber.Ctx, rp replay, first *idempotency.Outcome) error {
	switch {
	case first.StatusCode >= 400 && first.StatusCode < 500:
		c.Set("Idempotent-Replayed", "true")
		c.Type("json")
		return c.Status(first.StatusCode).Send(first.ErrorBody)
	case rp.secret != "" && first.StatusCode < 400 && first.StatusCode != 0:
		return apperr.New(apperr.Conflict, "%s", rp.secret)
	case rp.noBody && first.StatusCode < 400 && first.StatusCode != 0:
		c.Set("Idempotent-Replayed", "true")
		return c.SendStatus(first.StatusCode)
	}
	// Copies: Fiber's strings share the request's buffers, which the
	// rerouting below rewrites.
	origMethod, origPath := strings.Clone(c.Method()), strings.Clone(c.Path())
	method, target := origMethod, origPath
	if !rp.again {
		method, target = fiber.MethodGet, ""
		if rp.reread != nil && first.StatusCode != 0 && first.StatusCode < 500 {
			target = strings.Clone(rp.reread(c, first))
		}
	}
	if target == "" {
		return apperr.New(apperr.Conflict, "a request with this Idempotency-Key was carried out, but its answer was not kept; "+
			"look up what it did rather than sending it again")
	}
	// Route the request again, as a GET of the record (or as itself), from
	// the top of the middleware chain: the token and the role are checked
	// as they are now, and the handler reads only what the caller may see.
	c.Locals(replaying, true)
	if r := c.Route(); r != nil {
		c.Locals(keyedRoute, r.Path)
	}
	c.Method(method)
	c.Request().Header.SetMethod(method)
	if method == fiber.MethodGet {
		c.Request().URI().SetQueryString("")
	}
	c.Path(target)
	err := c.RestartRouting()
	c.Method(origMethod)
	c.Request().Header.SetMethod(origMethod)
	c.Path(origPath)
	if err != nil {
		// The record is gone, or no longer the caller's to see.
		return err
	}
	if st := c.Response().StatusCode(); st >= 200 && st < 300 {
		c.Status(first.StatusCode)
		if first.Location != "" {
			c.Location(first.Location)
		}
		c.Set("Idempotent-Replayed", "true")
	}
	return nil
}
