package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/web"
)

// The authorization matrix: every route of Server.Routes() against every
// role, no token and a revoked token. A route missing from the matrix fails
// the test, so a new route cannot ship without its row.

// outcome is the class of answer a cell of the matrix expects.
type outcome int

const (
	// allow: the request reaches its handler and succeeds (2xx).
	allow outcome = iota
	// clash: the role may do this and the request is valid, but the state
	// of the record refuses it (409 "conflict"). No cell needs it today,
	// because every cell gets fresh fixtures; a row that cannot have them
	// must say so with clash rather than loosen allow.
	clash
	// deny: the role may not use the route: exactly 403 "forbidden".
	deny
	// unauth: no usable credentials: 401 "unauthorized" with a
	// WWW-Authenticate challenge.
	unauth
)

func (o outcome) String() string {
	return [...]string{"2xx", "409 conflict", "403 forbidden", "401 unauthorized"}[o]
}

// The matrix's columns, in the order of a row.
var matrixColumns = [...]string{"admin", "coordinator", "social_worker", "funder", "no token", "revoked token"}

// row is the expected outcome per column, in matrixColumns order.
type row [len(matrixColumns)]outcome

// caller is who sends the request of one cell.
type caller struct {
	column string
	id     int64 // the user; 0 for no token and the revoked token
	token  string
}

// request is one cell's request, built on fresh fixtures.
type request struct {
	path string
	body any
	// headers are sent with the request, in name, value pairs.
	headers []string
	// via, when set, is the server the request goes to (one set up
	// otherwise, on the same services), in place of the matrix's.
	via *env
	// unchanged, when set, is run after a refused request (403 or 401) and
	// describes anything the refused request changed, or returns "".
	unchanged func() string
}

// routeCase is one row of the matrix.
type routeCase struct {
	method, path string // exactly as in Server.Routes()
	want         row
	// prepare builds the fixtures for one cell and the request c sends.
	prepare func(f *roleFixtures, c caller) request
}

const v1 = "/api/v1"

// Short names for the rows below.
var (
	everyone   = row{allow, allow, allow, allow, allow, allow}   // public
	signedIn   = row{allow, allow, allow, allow, unauth, unauth} // any role
	adminOnly  = row{allow, deny, deny, deny, unauth, unauth}    // users:manage, eligibility:manage, notifications:manage, agreements:manage
	staffRead  = row{allow, allow, allow, deny, unauth, unauth}  // devices:read, loans:read, clients:read, eligibility:check, training:read, training:enroll, notifications:read
	managers   = row{allow, allow, deny, deny, unauth, unauth}   // devices:manage, loans:manage, training:manage
	caseWriter = row{allow, deny, allow, deny, unauth, unauth}   // clients:write, requests:file
	caseRead   = row{allow, allow, allow, deny, unauth, unauth}  // requests:read, requests:cancel
	deciders   = row{allow, allow, deny, deny, unauth, unauth}   // requests:decide
	senders    = row{allow, allow, deny, deny, unauth, unauth}   // notifications:send
	reporters  = row{allow, allow, deny, allow, unauth, unauth}  // reports:read
	fundRead   = row{allow, allow, deny, allow, unauth, unauth}  // funding:read (a funder: the sources linked to them)
)

var matrix = []routeCase{
	{"GET", v1 + "/openapi.json", everyone, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/openapi.json"}
	}},
	{"POST", v1 + "/auth/token", everyone, func(f *roleFixtures, c caller) request {
		// A password sign-in needs no token: whoever sends it (with or
		// without a header) signs in as themselves, or as worker A.
		who := c.id
		if who == 0 {
			who = f.workerAID
		}
		return request{path: v1 + "/auth/token", body: map[string]any{
			"email": f.email(who), "password": testPassword, "token_name": "matrix"}}
	}},
	{"GET", v1 + "/me", signedIn, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/me"}
	}},
	// Each caller changes their own password (keeping the token they use);
	// a refused change leaves the admin's, whose token is the revoked one.
	{"POST", v1 + "/me/password", signedIn, func(f *roleFixtures, c caller) request {
		current, next := f.password(c.id), fmt.Sprintf("matrix passphrase number %d", f.e.seq.Add(1))
		if c.id != 0 {
			f.passwords[c.id] = next
		}
		before := f.passwordHash(f.adminID)
		return request{path: v1 + "/me/password", body: map[string]any{"current_password": current, "new_password": next},
			unchanged: func() string {
				if f.passwordHash(f.adminID) != before {
					return "the admin's password changed"
				}
				return ""
			}}
	}},
	{"GET", v1 + "/tokens", signedIn, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/tokens"}
	}},
	{"POST", v1 + "/tokens", signedIn, func(f *roleFixtures, c caller) request {
		// The revoked token is the admin's: it must not mint a new one.
		before := f.tokenCount(f.adminID)
		return request{path: v1 + "/tokens", body: map[string]any{"name": "matrix"},
			unchanged: func() string {
				if n := f.tokenCount(f.adminID); n != before {
					return fmt.Sprintf("the admin now has %d tokens, had %d", n, before)
				}
				return ""
			}}
	}},
	{"DELETE", v1 + "/tokens/:id", signedIn, func(f *roleFixtures, c caller) request {
		// Each role revokes a fresh token of its own.
		owner := c.id
		if owner == 0 {
			owner = f.adminID
		}
		plain, id := f.token(owner)
		return request{path: path(v1+"/tokens/%d", id), unchanged: func() string {
			if r := f.e.do(plain, "GET", v1+"/me", nil); r.Status != 200 {
				return fmt.Sprintf("the token was revoked anyway (GET /me with it: %d)", r.Status)
			}
			return ""
		}}
	}},

	{"GET", v1 + "/users", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/users"}
	}},
	{"POST", v1 + "/users", adminOnly, func(f *roleFixtures, c caller) request {
		email := fmt.Sprintf("matrix%d@agency.test", f.e.seq.Add(1))
		return request{path: v1 + "/users", body: map[string]any{"email": email, "name": "New Worker",
			"role": "social_worker", "password": testPassword},
			unchanged: func() string {
				if _, err := f.e.svc.Accounts.UserByEmail(context.Background(), email); !apperr.Is(err, apperr.NotFound) {
					return fmt.Sprintf("user %s exists (err %v)", email, err)
				}
				return ""
			}}
	}},
	{"GET", v1 + "/users/:id", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/users/%d", f.workerBID)}
	}},
	{"PATCH", v1 + "/users/:id", adminOnly, func(f *roleFixtures, c caller) request {
		id, _ := f.e.user(accounts.SocialWorker)
		before := f.userName(id)
		return request{path: path(v1+"/users/%d", id), body: map[string]any{"name": "Renamed"},
			unchanged: func() string {
				if got := f.userName(id); got != before {
					return fmt.Sprintf("user name is %q, was %q", got, before)
				}
				return ""
			}}
	}},

	{"POST", v1 + "/users/:id/password-reset", adminOnly, func(f *roleFixtures, c caller) request {
		id, token := f.e.user(accounts.SocialWorker)
		before := f.passwordHash(id)
		return request{path: path(v1+"/users/%d/password-reset", id),
			unchanged: func() string {
				if r := f.e.do(token, "GET", v1+"/me", nil); r.Status != 200 || f.passwordHash(id) != before {
					return fmt.Sprintf("the password changed, or the user's token was revoked (GET /me: %d)", r.Status)
				}
				return ""
			}}
	}},

	{"GET", v1 + "/devices", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/devices"}
	}},
	{"POST", v1 + "/devices", managers, func(f *roleFixtures, c caller) request {
		before := f.total(v1 + "/devices")
		return request{path: v1 + "/devices", body: map[string]any{"kind": "tablet", "make": "Acme", "model": "Two",
			"serial": fmt.Sprintf("MX-%d", f.e.seq.Add(1))},
			unchanged: func() string { return f.sameTotal(v1+"/devices", before) }}
	}},
	{"GET", v1 + "/devices/labels.pdf", managers, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/devices/labels.pdf?ids=%d", f.device())}
	}},
	{"GET", v1 + "/devices/:id", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/devices/%d", f.device())}
	}},
	{"PATCH", v1 + "/devices/:id", managers, func(f *roleFixtures, c caller) request {
		d := path(v1+"/devices/%d", f.device())
		return request{path: d, body: map[string]any{"model": "Renamed"},
			unchanged: func() string { return f.field(d, "model", "One") }}
	}},
	{"POST", v1 + "/devices/:id/inspection", managers, func(f *roleFixtures, c caller) request {
		d := f.deviceInInspection()
		return request{path: path(v1+"/devices/%d/inspection", d), body: map[string]any{"wiped": true, "outcome": "ready"},
			unchanged: func() string { return f.field(path(v1+"/devices/%d", d), "status", "inspection") }}
	}},
	{"GET", v1 + "/devices/:id/history", managers, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/devices/%d/history", f.device())}
	}},

	{"GET", v1 + "/data-plans", managers, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/data-plans"}
	}},
	{"POST", v1 + "/data-plans", managers, func(f *roleFixtures, c caller) request {
		before := f.total(v1 + "/data-plans")
		return request{path: v1 + "/data-plans", body: f.planBody(),
			unchanged: func() string { return f.sameTotal(v1+"/data-plans", before) }}
	}},
	{"GET", v1 + "/data-plans/:id", managers, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/data-plans/%d", f.plan())}
	}},
	{"PATCH", v1 + "/data-plans/:id", managers, func(f *roleFixtures, c caller) request {
		p := path(v1+"/data-plans/%d", f.plan())
		return request{path: p, body: map[string]any{"carrier": "Visible"},
			unchanged: func() string { return f.field(p, "carrier", "Mint") }}
	}},

	// The funding source rows use a fresh source linked to the funder, so
	// that every role that may read sources reads this one; the row-level
	// test below has the funder read one not theirs.
	{"GET", v1 + "/funding-sources", fundRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/funding-sources"}
	}},
	{"POST", v1 + "/funding-sources", adminOnly, func(f *roleFixtures, c caller) request {
		before := f.total(v1 + "/funding-sources")
		return request{path: v1 + "/funding-sources", body: map[string]any{"name": fmt.Sprintf("Matrix fund %d", f.e.seq.Add(1))},
			unchanged: func() string { return f.sameTotal(v1+"/funding-sources", before) }}
	}},
	{"GET", v1 + "/funding-sources/:id", fundRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/funding-sources/%d", f.fundersSource())}
	}},
	{"PATCH", v1 + "/funding-sources/:id", adminOnly, func(f *roleFixtures, c caller) request {
		p := path(v1+"/funding-sources/%d", f.fundersSource())
		before := f.get(p)["name"]
		return request{path: p, body: map[string]any{"notes": "renewed"},
			unchanged: func() string { return f.field(p, "notes", "") + f.field(p, "name", before) }}
	}},

	// The client rows use a client of worker A (the social_worker column)
	// whom they referred to the program, so that every role that may see
	// any client sees this one: the cells test the role, the row-level test
	// below the rows.
	{"GET", v1 + "/clients", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/clients"}
	}},
	{"POST", v1 + "/clients", caseWriter, func(f *roleFixtures, c caller) request {
		before := f.total(v1 + "/clients")
		n := f.e.seq.Add(1)
		// An admin must name the caseworker; worker A may name themselves.
		return request{path: v1 + "/clients", body: map[string]any{"case_number": fmt.Sprintf("MX-%d", n),
			"first_name": "Bo", "last_name": "Matrix", "preferred_channel": "none", "household_size": 1,
			"caseworker_id": f.workerAID},
			unchanged: func() string { return f.sameTotal(v1+"/clients", before) }}
	}},
	{"GET", v1 + "/clients/:id", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/clients/%d", f.referred())}
	}},
	{"PATCH", v1 + "/clients/:id", caseWriter, func(f *roleFixtures, c caller) request {
		id := f.referred()
		before := f.clientField(id, "last_name")
		return request{path: path(v1+"/clients/%d", id), body: map[string]any{"last_name": "Changed"},
			unchanged: func() string {
				if got := f.clientField(id, "last_name"); got != before {
					return fmt.Sprintf("client last_name is %v, was %v", got, before)
				}
				return ""
			}}
	}},
	{"GET", v1 + "/clients/:id/history", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/clients/%d/history", f.referred())}
	}},
	// The export is for the client's caseworker and admins: a coordinator
	// who sees the referred client may not have everything about them.
	{"GET", v1 + "/clients/:id/export", caseWriter, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/clients/%d/export", f.referred())}
	}},
	// Erasure is for admins; the client has nothing open, so an admin's
	// request succeeds, and the client is still there after a refusal.
	{"POST", v1 + "/clients/:id/erase", adminOnly, func(f *roleFixtures, c caller) request {
		id := f.e.client(f.workerA)
		return request{path: path(v1+"/clients/%d/erase", id), body: map[string]any{"reason": "the client asked"},
			unchanged: func() string {
				if got := f.clientField(id, "case_number"); got == "" || got == nil {
					return fmt.Sprintf("client %d was erased", id)
				}
				return ""
			}}
	}},

	{"GET", v1 + "/loans", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/loans"}
	}},
	{"POST", v1 + "/loans", managers, func(f *roleFixtures, c caller) request {
		client, device := f.referred(), f.device()
		return request{path: v1 + "/loans", body: map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn},
			unchanged: func() string {
				if s := f.field(path(v1+"/devices/%d", device), "status", "available"); s != "" {
					return s
				}
				return f.sameTotal(path(v1+"/loans?device_id=%d", device), 0)
			}}
	}},
	{"GET", v1 + "/loans/:id", staffRead, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		return request{path: path(v1+"/loans/%d", loan)}
	}},
	// The utilization report: aggregates, for funders too.
	{"GET", v1 + "/reports/utilization", reporters, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/reports/utilization?from=2026-01-01&to=2026-03-31"}
	}},
	// The record export names clients by case number: staff who manage loans.
	{"GET", v1 + "/reports/devices.csv", managers, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/reports/devices.csv?from=2026-01-01&to=2026-03-31"}
	}},
	// A loan's agreement: whoever may see the loan, never a funder.
	{"GET", v1 + "/loans/:id/agreement.pdf", staffRead, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		return request{path: path(v1+"/loans/%d/agreement.pdf", loan)}
	}},
	{"GET", v1 + "/loans/:id/agreement", staffRead, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		f.e.must(201, f.coord, "POST", path(v1+"/loans/%d/agreement/acceptance", loan), map[string]any{"method": "paper"})
		return request{path: path(v1+"/loans/%d/agreement", loan)}
	}},
	{"POST", v1 + "/loans/:id/agreement/acceptance", staffRead, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		return request{path: path(v1+"/loans/%d/agreement/acceptance", loan), body: map[string]any{"method": "typed", "typed_name": "Ana Client"},
			unchanged: func() string {
				if r := f.e.do(f.coord, "GET", path(v1+"/loans/%d/agreement", loan), nil); r.Status != 404 {
					return fmt.Sprintf("the agreement of loan %d was signed: %d %s", loan, r.Status, r.Body)
				}
				return ""
			}}
	}},
	{"POST", v1 + "/loans/:id/return", managers, func(f *roleFixtures, c caller) request {
		loan, device := f.openLoan()
		return request{path: path(v1+"/loans/%d/return", loan), body: map[string]any{"condition": "good"},
			unchanged: f.stillOpen(loan, device)}
	}},
	{"POST", v1 + "/loans/:id/renew", managers, func(f *roleFixtures, c caller) request {
		loan, device := f.openLoan()
		return request{path: path(v1+"/loans/%d/renew", loan), body: map[string]any{"due_on": "2026-05-10"},
			unchanged: f.stillOpen(loan, device)}
	}},
	{"POST", v1 + "/loans/:id/lost", managers, func(f *roleFixtures, c caller) request {
		loan, device := f.openLoan()
		return request{path: path(v1+"/loans/%d/lost", loan), body: map[string]any{"notes": "left on a bus"},
			unchanged: f.stillOpen(loan, device)}
	}},
	{"POST", v1 + "/loans/:id/recovered", managers, func(f *roleFixtures, c caller) request {
		loan, device := f.lostLoan()
		return request{path: path(v1+"/loans/%d/recovered", loan), body: map[string]any{"condition": "good"},
			unchanged: func() string {
				if s := f.field(path(v1+"/loans/%d", loan), "recovered_at", nil); s != "" {
					return s
				}
				return f.field(path(v1+"/devices/%d", device), "status", "lost")
			}}
	}},

	// A check reads a client like GET /clients/:id does, so it uses a
	// referred client of worker A's too; it records its reading in the
	// client's history, which a refused check must not.
	{"POST", v1 + "/eligibility/check", staffRead, func(f *roleFixtures, c caller) request {
		id := f.referred()
		before := f.checks(id)
		return request{path: v1 + "/eligibility/check", body: map[string]any{"client_id": id, "device_kind": "laptop"},
			unchanged: func() string {
				if n := f.checks(id); n != before {
					return fmt.Sprintf("client %d has %d client.eligibility_checked events, had %d", id, n, before)
				}
				return ""
			}}
	}},
	{"GET", v1 + "/eligibility/rules", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/eligibility/rules"}
	}},
	{"PUT", v1 + "/eligibility/rules", adminOnly, func(f *roleFixtures, c caller) request {
		before := f.ruleVersion()
		return request{path: v1 + "/eligibility/rules", body: f.ruleSetBody(),
			unchanged: func() string {
				if v := f.ruleVersion(); v != before {
					return fmt.Sprintf("the rule set is at version %d, was %d", v, before)
				}
				return f.sameTotal(v1+"/eligibility/rules/versions", before)
			}}
	}},
	{"GET", v1 + "/eligibility/rules/versions", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/eligibility/rules/versions"}
	}},
	{"GET", v1 + "/eligibility/guidelines", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/eligibility/guidelines"}
	}},
	{"GET", v1 + "/eligibility/guidelines/:id", adminOnly, func(f *roleFixtures, c caller) request {
		body := f.guidelineBody()
		body["region"] = body["id"] // one table per region and year
		loaded := f.e.must(201, f.admin, "POST", v1+"/eligibility/guidelines", body)
		return request{path: loaded.Header.Get("Location")}
	}},
	{"POST", v1 + "/eligibility/guidelines", adminOnly, func(f *roleFixtures, c caller) request {
		body := f.guidelineBody()
		before := f.guidelineIDs()
		return request{path: v1 + "/eligibility/guidelines", body: body,
			unchanged: func() string {
				if after := f.guidelineIDs(); fmt.Sprint(after) != fmt.Sprint(before) {
					return fmt.Sprintf("guideline tables are %v, were %v (sent %v)", after, before, body["id"])
				}
				return ""
			}}
	}},

	// The request rows use requests for laptops, of which the fixtures
	// never take any in: an eligible request waits on the waitlist, so that
	// each cell finds its request in the state the row needs. Requests are
	// filed for worker A's clients, whom every role that may see requests
	// sees; the row-level test below covers the rest.
	{"POST", v1 + "/requests", caseWriter, func(f *roleFixtures, c caller) request {
		client := f.eligibleClient()
		return request{path: v1 + "/requests", body: map[string]any{"client_id": client, "device_kind": "laptop"},
			unchanged: func() string { return f.sameTotal(path(v1+"/requests?client_id=%d", client), 0) }}
	}},
	{"GET", v1 + "/requests", caseRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/requests"}
	}},
	{"GET", v1 + "/requests/:id", caseRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/requests/%d", f.waitlisted())}
	}},
	{"POST", v1 + "/requests/:id/approve", deciders, func(f *roleFixtures, c caller) request {
		id := f.inReview()
		return request{path: path(v1+"/requests/%d/approve", id), body: map[string]any{"justification": "proof seen in person"},
			unchanged: f.requestStill(id, "needs_review")}
	}},
	{"POST", v1 + "/requests/:id/deny", deciders, func(f *roleFixtures, c caller) request {
		id := f.inReview()
		return request{path: path(v1+"/requests/%d/deny", id), body: map[string]any{"justification": "proof could not be found"},
			unchanged: f.requestStill(id, "needs_review")}
	}},
	{"POST", v1 + "/requests/:id/override", deciders, func(f *roleFixtures, c caller) request {
		id := f.deniedRequest()
		return request{path: path(v1+"/requests/%d/override", id), body: map[string]any{"justification": "income dropped last week"},
			unchanged: f.requestStill(id, "denied")}
	}},
	{"POST", v1 + "/requests/:id/cancel", caseRead, func(f *roleFixtures, c caller) request {
		id := f.waitlisted()
		return request{path: path(v1+"/requests/%d/cancel", id), body: map[string]any{},
			unchanged: f.requestStill(id, "waitlisted")}
	}},
	{"GET", v1 + "/waitlist", deciders, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/waitlist?kind=laptop"}
	}},

	// The training rows: every cell gets a fresh session, scheduled by the
	// coordinator, and places for fresh clients of worker A's, so that a
	// social worker enrolls and withdraws their own clients; the
	// row-level test below covers other workers' clients.
	{"POST", v1 + "/training/sessions", managers, func(f *roleFixtures, c caller) request {
		before := f.total(v1 + "/training/sessions")
		return request{path: v1 + "/training/sessions", body: f.sessionBody(),
			unchanged: func() string { return f.sameTotal(v1+"/training/sessions", before) }}
	}},
	{"GET", v1 + "/training/sessions", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/training/sessions"}
	}},
	{"GET", v1 + "/training/sessions/:id", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/training/sessions/%d", f.session())}
	}},
	{"PATCH", v1 + "/training/sessions/:id", managers, func(f *roleFixtures, c caller) request {
		p := path(v1+"/training/sessions/%d", f.session())
		return request{path: p, body: map[string]any{"title": "Renamed", "capacity": 20},
			unchanged: func() string {
				if s := f.field(p, "title", "Device basics"); s != "" {
					return s
				}
				return f.field(p, "capacity", float64(10))
			}}
	}},
	{"POST", v1 + "/training/sessions/:id/cancel", managers, func(f *roleFixtures, c caller) request {
		id := f.session()
		client := f.referred()
		f.enroll(id, client, "enrolled")
		return request{path: path(v1+"/training/sessions/%d/cancel", id), body: map[string]any{},
			unchanged: func() string {
				if s := f.field(path(v1+"/training/sessions/%d", id), "status", "scheduled"); s != "" {
					return s
				}
				return f.placeStill(id, client, "enrolled", "")
			}}
	}},
	{"GET", v1 + "/training/sessions/:id/enrollments", managers, func(f *roleFixtures, c caller) request {
		id := f.session()
		f.enroll(id, f.referred(), "enrolled")
		return request{path: path(v1+"/training/sessions/%d/enrollments", id)}
	}},
	{"POST", v1 + "/training/sessions/:id/enrollments", staffRead, func(f *roleFixtures, c caller) request {
		id := f.session()
		p := path(v1+"/training/sessions/%d/enrollments", id)
		return request{path: p, body: map[string]any{"client_id": f.referred()},
			unchanged: func() string {
				if s := f.sameTotal(p, 0); s != "" {
					return s
				}
				return f.field(path(v1+"/training/sessions/%d", id), "enrolled_count", float64(0))
			}}
	}},
	{"GET", v1 + "/training/sessions/:id/enrollments/:client_id", staffRead, func(f *roleFixtures, c caller) request {
		id, client := f.session(), f.referred()
		f.enroll(id, client, "enrolled")
		return request{path: path(v1+"/training/sessions/%d/enrollments/%d", id, client)}
	}},
	{"DELETE", v1 + "/training/sessions/:id/enrollments/:client_id", staffRead, func(f *roleFixtures, c caller) request {
		id, client := f.session(), f.referred()
		f.enroll(id, client, "enrolled")
		return request{path: path(v1+"/training/sessions/%d/enrollments/%d", id, client),
			unchanged: func() string {
				if s := f.placeStill(id, client, "enrolled", ""); s != "" {
					return s
				}
				return f.field(path(v1+"/training/sessions/%d", id), "enrolled_count", float64(1))
			}}
	}},
	{"POST", v1 + "/training/sessions/:id/attendance", managers, func(f *roleFixtures, c caller) request {
		id, client := f.startedSession()
		return request{path: path(v1+"/training/sessions/%d/attendance", id),
			body:      map[string]any{"client_id": client, "status": "present", "hours": 1, "module_completed": true},
			unchanged: func() string { return f.placeStill(id, client, "enrolled", "") }}
	}},
	{"GET", v1 + "/clients/:id/training", staffRead, func(f *roleFixtures, c caller) request {
		client := f.referred()
		f.enroll(f.session(), client, "enrolled")
		return request{path: path(v1+"/clients/%d/training", client)}
	}},
	// Reading a certificate records a client.viewed event, which a refused
	// read must not.
	{"GET", v1 + "/clients/:id/training/certificates/:module", staffRead, func(f *roleFixtures, c caller) request {
		client := f.completed()
		before := f.views(client)
		return request{path: path(v1+"/clients/%d/training/certificates/device_basics", client),
			unchanged: func() string {
				if n := f.views(client); n != before {
					return fmt.Sprintf("client %d has %d client.viewed events, had %d", client, n, before)
				}
				return ""
			}}
	}},

	// The notification rows: reminders about fresh open loans of worker
	// A's clients, whom every role that may read reminders sees; the
	// row-level test below covers other workers' clients.
	{"GET", v1 + "/notifications", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: path(v1+"/notifications?loan_id=%d", f.remindedLoan())}
	}},
	{"GET", v1 + "/notifications/policy", staffRead, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/notifications/policy"}
	}},
	{"GET", v1 + "/notifications/:id", staffRead, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		sent := f.e.must(201, f.coord, "POST", path(v1+"/loans/%d/reminders", loan), map[string]any{})
		return request{path: sent.Header.Get("Location")}
	}},
	{"PUT", v1 + "/notifications/policy", adminOnly, func(f *roleFixtures, c caller) request {
		before := f.policy()
		body := maps.Clone(before)
		body["due_today"] = before["due_today"] != true
		return request{path: v1 + "/notifications/policy", body: body,
			unchanged: func() string {
				if after := f.policy(); !reflect.DeepEqual(after, before) {
					return fmt.Sprintf("the reminder policy is %v, was %v", after, before)
				}
				return ""
			}}
	}},
	{"GET", v1 + "/retention/policy", adminOnly, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/retention/policy"}
	}},
	{"PUT", v1 + "/retention/policy", adminOnly, func(f *roleFixtures, c caller) request {
		before := f.get(v1 + "/retention/policy")
		body := maps.Clone(before)
		body["sms_replies_days"] = before["sms_replies_days"].(float64) + 1
		return request{path: v1 + "/retention/policy", body: body,
			unchanged: func() string {
				if after := f.get(v1 + "/retention/policy"); !reflect.DeepEqual(after, before) {
					return fmt.Sprintf("the retention policy is %v, was %v", after, before)
				}
				return ""
			}}
	}},
	{"POST", v1 + "/loans/:id/reminders", senders, func(f *roleFixtures, c caller) request {
		loan, _ := f.openLoan()
		return request{path: path(v1+"/loans/%d/reminders", loan), body: map[string]any{"note": "matrix"},
			unchanged: func() string { return f.sameTotal(path(v1+"/notifications?loan_id=%d", loan), 0) }}
	}},
	// The agreement's terms: read by those who issue loans, saved by admins.
	{"GET", v1 + "/agreement/terms", managers, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/agreement/terms?language=fr"}
	}},
	{"PUT", v1 + "/agreement/terms", adminOnly, func(f *roleFixtures, c caller) request {
		before := f.get(v1 + "/agreement/terms?language=es")
		return request{path: v1 + "/agreement/terms?language=es", body: map[string]any{"body": "The device stays the agency's."},
			unchanged: func() string {
				if after := f.get(v1 + "/agreement/terms?language=es"); !reflect.DeepEqual(after, before) {
					return fmt.Sprintf("the es terms are %v, were %v", after, before)
				}
				return ""
			}}
	}},
	{"GET", v1 + "/agreement/terms/versions/:language/:version", managers, func(f *roleFixtures, c caller) request {
		return request{path: v1 + "/agreement/terms/versions/es/1"}
	}},
	// The SMS provider's webhook needs no token: a signed STOP from a fresh
	// client's number, to a server with SMS set up, is taken whoever sends
	// it, with whatever Authorization header.
	{"POST", v1 + "/sms/inbound", everyone, func(f *roleFixtures, c caller) request {
		_, phone := f.texter()
		form := smsReply(phone, "STOP")
		return request{via: f.smsServer(), path: v1 + "/sms/inbound", body: form.Encode(), headers: []string{
			"Content-Type", "application/x-www-form-urlencoded",
			"X-Twilio-Signature", twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, form)}}
	}},
}

func TestRoleMatrix(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		checkMatrixCoversRoutes(t, web.New(e.svc, web.Config{}).Routes())
		f := newRoleFixtures(t, e)
		callers := f.callers()
		for _, rc := range matrix {
			for i, c := range callers {
				want := rc.want[i]
				req := rc.prepare(f, c)
				label := fmt.Sprintf("%s %s as %s", rc.method, req.path, c.column)
				server := e
				if req.via != nil {
					server = req.via
				}
				r := server.do(c.token, rc.method, req.path, req.body, req.headers...)
				if msg := classify(r, want); msg != "" {
					t.Errorf("%s (route %s): %s", label, rc.path, msg)
					continue
				}
				if (want == deny || want == unauth) && req.unchanged != nil {
					if msg := req.unchanged(); msg != "" {
						t.Errorf("%s was refused but changed something: %s", label, msg)
					}
				}
			}
		}
	})
}

// checkMatrixCoversRoutes fails unless the matrix has exactly one row for
// each route of the server, and no row for a route it does not have.
func checkMatrixCoversRoutes(t *testing.T, routes []web.Route) {
	t.Helper()
	inMatrix := map[string]int{}
	for _, rc := range matrix {
		inMatrix[rc.method+" "+rc.path]++
	}
	served := map[string]bool{}
	var missing []string
	for _, r := range routes {
		k := r.Method + " " + r.Path
		served[k] = true
		if inMatrix[k] == 0 {
			missing = append(missing, fmt.Sprintf("%s (permission %q)", k, r.Permission))
		}
	}
	var stale, twice []string
	for k, n := range inMatrix {
		if !served[k] {
			stale = append(stale, k)
		}
		if n > 1 {
			twice = append(twice, k)
		}
	}
	sort.Strings(stale)
	sort.Strings(twice)
	if len(missing) > 0 {
		t.Errorf("routes not in the role matrix (add a row to matrix in roles_test.go for each):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("matrix rows for routes the server does not have:\n  %s", strings.Join(stale, "\n  "))
	}
	if len(twice) > 0 {
		t.Errorf("routes with more than one matrix row: %v", twice)
	}
}

// classify checks r against want and describes a mismatch, or returns "".
func classify(r *response, want outcome) string {
	code := errorCode(r)
	var good bool
	switch want {
	case allow:
		good = r.Status >= 200 && r.Status <= 299
	case clash:
		good = r.Status == 409 && code == "conflict"
	case deny:
		good = r.Status == 403 && code == "forbidden"
	case unauth:
		good = r.Status == 401 && code == "unauthorized"
	}
	if !good {
		return fmt.Sprintf("want %s, got %d %s", want, r.Status, trim(r.Body))
	}
	if want == unauth && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		return fmt.Sprintf("401 without a Bearer WWW-Authenticate challenge (header %q)", r.Header.Get("WWW-Authenticate"))
	}
	return ""
}

// errorCode is error.code of a JSON error body, or "".
func errorCode(r *response) string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &m) != nil {
		return ""
	}
	return m.Error.Code
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// The row-level rules: which records a role that may use a route reaches.
func TestRoleRowLevelVisibility(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		f := newRoleFixtures(t, e)
		a, b, co, ad := f.workerA, f.workerB, f.coord, f.admin

		never := f.client()  // worker A's client, not referred to the program
		lent := f.referred() // worker A's client, referred, with a loan
		loan := e.loan(co, lent, f.device())
		bClient := e.referred(b)
		bLoan := e.loan(co, bClient, f.device())

		// Worker A sees their own: the 404s below are about ownership.
		for _, p := range []string{path(v1+"/clients/%d", never), path(v1+"/clients/%d/history", lent), path(v1+"/loans/%d", loan)} {
			e.must(200, a, "GET", p, nil)
		}
		if got := listIDs(t, e.must(200, a, "GET", path(v1+"/loans?client_id=%d", lent), nil)); fmt.Sprint(got) != fmt.Sprint([]int64{loan}) {
			t.Errorf("worker A's loans of their client: %v, want [%d]", got, loan)
		}

		// Worker B cannot reach A's clients or loans by id.
		for _, id := range []int64{never, lent} {
			wantNotFound(t, e.do(b, "GET", path(v1+"/clients/%d", id), nil), "worker B GET A's client")
			wantNotFound(t, e.do(b, "GET", path(v1+"/clients/%d/history", id), nil), "worker B GET A's client history")
			wantNotFound(t, e.do(b, "PATCH", path(v1+"/clients/%d", id), map[string]any{"last_name": "Stolen"}), "worker B PATCH A's client")
			if got := f.clientField(id, "last_name"); got == "Stolen" {
				t.Errorf("worker B's refused PATCH changed A's client %d", id)
			}
		}
		wantNotFound(t, e.do(b, "GET", path(v1+"/loans/%d", loan), nil), "worker B GET A's client's loan")

		// ...nor through lists and filters.
		clientsB := listIDs(t, e.must(200, b, "GET", v1+"/clients", nil))
		if has(clientsB, never) || has(clientsB, lent) || !has(clientsB, bClient) {
			t.Errorf("worker B's clients: %v; want %d and neither of A's %d, %d", clientsB, bClient, never, lent)
		}
		loansB := listIDs(t, e.must(200, b, "GET", v1+"/loans", nil))
		if has(loansB, loan) || !has(loansB, bLoan) {
			t.Errorf("worker B's loans: %v; want %d and not A's %d", loansB, bLoan, loan)
		}
		for _, q := range []string{path("/loans?client_id=%d", lent), path("/loans?device_id=%d", f.loanDevice(loan)),
			path("/clients?caseworker_id=%d", f.workerAID), "/clients?q=" + f.clientField(lent, "case_number").(string)} {
			r := e.must(200, b, "GET", v1+q, nil)
			if ids := listIDs(t, r); len(ids) != 0 || r.JSON(t)["total"].(float64) != 0 {
				t.Errorf("worker B GET %s: %s, want no items", q, r.Body)
			}
		}

		// A social worker cannot move a client into another caseload, nor
		// record one there: only an admin assigns caseworkers.
		r := e.do(a, "PATCH", path(v1+"/clients/%d", lent), map[string]any{"caseworker_id": f.workerBID})
		if r.Status != 422 || r.ErrorFields(t)["caseworker_id"] == nil {
			t.Errorf("worker A hands their client to worker B: %d %s, want 422 on caseworker_id", r.Status, r.Body)
		}
		if got := f.clientField(lent, "caseworker_id"); got != float64(f.workerAID) {
			t.Errorf("after a refused reassignment the client's caseworker is %v", got)
		}
		bClients := f.total(path(v1+"/clients?caseworker_id=%d", f.workerBID))
		r = e.do(a, "POST", v1+"/clients", map[string]any{"case_number": "PLANTED-1", "first_name": "Cy", "last_name": "Planted",
			"preferred_channel": "none", "household_size": 1, "caseworker_id": f.workerBID})
		if r.Status != 422 || r.ErrorFields(t)["caseworker_id"] == nil {
			t.Errorf("worker A records a client for worker B: %d %s, want 422 on caseworker_id", r.Status, r.Body)
		}
		if msg := f.sameTotal(path(v1+"/clients?caseworker_id=%d", f.workerBID), bClients); msg != "" {
			t.Errorf("after a refused create for another worker: %s", msg)
		}

		// A coordinator sees the clients referred to the program, no others
		// (TestCoordinatorReachesOnlyReferredClients goes through each route).
		wantNotFound(t, e.do(co, "GET", path(v1+"/clients/%d", never), nil), "coordinator GET a client not referred")
		wantNotFound(t, e.do(co, "GET", path(v1+"/clients/%d/history", never), nil), "coordinator GET history of a client not referred")
		if ids := listIDs(t, e.must(200, co, "GET", v1+"/clients", nil)); has(ids, never) || !has(ids, lent) {
			t.Errorf("coordinator's clients: %v; want %d, not %d", ids, lent, never)
		}
		e.must(200, co, "GET", path(v1+"/clients/%d", lent), nil)
		// ...and may not edit any client, seen or not.
		for _, id := range []int64{lent, never} {
			before := f.clientField(id, "last_name")
			wantForbidden(t, e.do(co, "PATCH", path(v1+"/clients/%d", id), map[string]any{"last_name": "Changed"}), "coordinator PATCH a client")
			if got := f.clientField(id, "last_name"); got != before {
				t.Errorf("coordinator's refused PATCH changed client %d: last_name %v, was %v", id, got, before)
			}
		}
		// Once referred, the client is visible to the coordinator.
		e.refer(a, never)
		e.must(200, co, "GET", path(v1+"/clients/%d", never), nil)
		e.must(200, co, "GET", path(v1+"/clients/%d/history", never), nil)
		if ids := listIDs(t, e.must(200, co, "GET", v1+"/clients", nil)); !has(ids, never) {
			t.Errorf("coordinator's clients after worker A referred %d: %v", never, ids)
		}

		// An admin sees everyone's.
		for _, p := range []string{path(v1+"/clients/%d", never), path(v1+"/clients/%d", bClient), path(v1+"/loans/%d", loan), path(v1+"/loans/%d", bLoan)} {
			e.must(200, ad, "GET", p, nil)
		}

		// A funder is refused every client, device, loan, data-plan,
		// eligibility, request, waitlist, training and notification route,
		// on real records, and nothing changes.
		funder := caller{column: "funder", id: f.funderID, token: f.funder}
		for _, rt := range web.New(e.svc, web.Config{}).Routes() {
			fam := strings.SplitN(strings.TrimPrefix(rt.Path, v1+"/"), "/", 2)[0]
			if fam != "clients" && fam != "devices" && fam != "loans" && fam != "data-plans" && fam != "eligibility" &&
				fam != "requests" && fam != "waitlist" && fam != "training" && fam != "notifications" {
				continue
			}
			rc := matrixRow(rt.Method, rt.Path)
			if rc == nil {
				t.Errorf("%s %s: no matrix row to build the request from", rt.Method, rt.Path)
				continue
			}
			req := rc.prepare(f, funder)
			r := e.do(f.funder, rt.Method, req.path, req.body, req.headers...)
			wantForbidden(t, r, "funder "+rt.Method+" "+req.path)
			if req.unchanged != nil {
				if msg := req.unchanged(); msg != "" {
					t.Errorf("funder %s %s was refused but changed something: %s", rt.Method, req.path, msg)
				}
			}
		}

		// An eligibility check reaches only the clients the caller may see:
		// worker B is told A's client does not exist, and so is a
		// coordinator about a client not referred; neither refused check
		// is recorded in the client's history.
		checked := f.checks(lent)
		wantNoClient(t, e.do(b, "POST", v1+"/eligibility/check", map[string]any{"client_id": lent, "device_kind": "phone"}),
			"worker B checks A's client")
		if n := f.checks(lent); n != checked {
			t.Errorf("worker B's refused check was recorded: %d client.eligibility_checked events, had %d", n, checked)
		}
		newcomer := f.client()
		wantNoClient(t, e.do(co, "POST", v1+"/eligibility/check", map[string]any{"client_id": newcomer, "device_kind": "phone"}),
			"coordinator checks a client not referred")
		if n := f.checks(newcomer); n != 0 {
			t.Errorf("the coordinator's refused check was recorded: %d client.eligibility_checked events", n)
		}
		wantForbidden(t, e.do(f.funder, "POST", v1+"/eligibility/check", map[string]any{"client_id": lent, "device_kind": "phone"}),
			"funder checks a client")
		// Each of them may check the clients they do see.
		for _, who := range []string{a, co, ad} {
			r := e.must(200, who, "POST", v1+"/eligibility/check", map[string]any{"client_id": lent, "device_kind": "laptop"})
			if out := r.JSON(t)["outcome"]; out == nil || out == "" {
				t.Errorf("a check of a visible client has no outcome: %s", r.Body)
			}
		}
		e.must(200, b, "POST", v1+"/eligibility/check", map[string]any{"client_id": bClient, "device_kind": "laptop"})
		if n := f.checks(lent); n != checked+3 {
			t.Errorf("client %d has %d client.eligibility_checked events after three checks, want %d", lent, n, checked+3)
		}

		// Requests: worker B cannot reach A's client's request by id, cancel
		// it, find it in a list or file one for A's client; each worker sees
		// their own.
		aReq := f.waitlisted()
		bReq := e.must(201, b, "POST", v1+"/requests", map[string]any{
			"client_id": e.situated(b, map[string]any{"programs": []string{"snap"}}), "device_kind": "laptop"}).ID(t)
		e.must(200, a, "GET", path(v1+"/requests/%d", aReq), nil)
		wantNotFound(t, e.do(b, "GET", path(v1+"/requests/%d", aReq), nil), "worker B GET A's client's request")
		wantNotFound(t, e.do(a, "GET", path(v1+"/requests/%d", bReq), nil), "worker A GET B's client's request")
		wantNotFound(t, e.do(b, "POST", path(v1+"/requests/%d/cancel", aReq), map[string]any{}), "worker B cancel A's client's request")
		if msg := f.requestStill(aReq, "waitlisted")(); msg != "" {
			t.Errorf("after worker B's refused cancel: %s", msg)
		}
		if ids := listIDs(t, e.must(200, b, "GET", v1+"/requests", nil)); has(ids, aReq) || !has(ids, bReq) {
			t.Errorf("worker B's requests: %v; want %d and not A's %d", ids, bReq, aReq)
		}
		if ids := listIDs(t, e.must(200, a, "GET", v1+"/requests", nil)); !has(ids, aReq) || has(ids, bReq) {
			t.Errorf("worker A's requests: %v; want %d and not B's %d", ids, aReq, bReq)
		}
		aClient := int64(f.get(path(v1+"/requests/%d", aReq))["client_id"].(float64))
		if r := e.must(200, b, "GET", path(v1+"/requests?client_id=%d", aClient), nil); len(listIDs(t, r)) != 0 || r.JSON(t)["total"].(float64) != 0 {
			t.Errorf("worker B GET /requests?client_id=%d (A's client): %s, want no items", aClient, r.Body)
		}
		fresh := f.eligibleClient()
		wantNoClient(t, e.do(b, "POST", v1+"/requests", map[string]any{"client_id": fresh, "device_kind": "laptop"}), "worker B files for A's client")
		if msg := f.sameTotal(path(v1+"/requests?client_id=%d", fresh), 0); msg != "" {
			t.Errorf("after worker B's refused filing: %s", msg)
		}
		// Coordinators and admins see both workers' requests.
		for _, who := range []string{co, ad} {
			if ids := listIDs(t, e.must(200, who, "GET", v1+"/requests", nil)); !has(ids, aReq) || !has(ids, bReq) {
				t.Errorf("a coordinator's or admin's requests: %v; want both %d and %d", ids, aReq, bReq)
			}
		}
		// A social worker decides nothing and does not see the waitlist,
		// not even for their own client's request.
		review, denied := f.inReview(), f.deniedRequest()
		for _, d := range []struct {
			id     int64
			action string
			status string
		}{{review, "approve", "needs_review"}, {review, "deny", "needs_review"}, {aReq, "deny", "waitlisted"}, {denied, "override", "denied"}} {
			wantForbidden(t, e.do(a, "POST", path(v1+"/requests/%d/%s", d.id, d.action), map[string]any{"justification": "my own client, I decide"}),
				"worker A "+d.action+" their client's request")
			if msg := f.requestStill(d.id, d.status)(); msg != "" {
				t.Errorf("after worker A's refused %s: %s", d.action, msg)
			}
		}
		for _, q := range []string{"/waitlist", "/waitlist?kind=laptop"} {
			wantForbidden(t, e.do(a, "GET", v1+q, nil), "worker A GET "+q)
			wantForbidden(t, e.do(b, "GET", v1+q, nil), "worker B GET "+q)
		}

		// Training: worker B cannot enroll A's client, withdraw them or read
		// their training record (each is not found, and changes nothing),
		// but enrolls and reads B's own client.
		sess := f.session()
		enrollments := path(v1+"/training/sessions/%d/enrollments", sess)
		wantNoClient(t, e.do(b, "POST", enrollments, map[string]any{"client_id": never}), "worker B enrolls A's client")
		if msg := f.sameTotal(enrollments, 0); msg != "" {
			t.Errorf("after worker B's refused enrollment: %s", msg)
		}
		f.enroll(sess, lent, "enrolled")
		wantNotFound(t, e.do(b, "DELETE", path(enrollments+"/%d", lent), nil), "worker B withdraws A's client")
		if msg := f.placeStill(sess, lent, "enrolled", ""); msg != "" {
			t.Errorf("after worker B's refused withdrawal: %s", msg)
		}
		if msg := f.field(path(v1+"/training/sessions/%d", sess), "enrolled_count", float64(1)); msg != "" {
			t.Errorf("after worker B's refused withdrawal: %s", msg)
		}
		for _, id := range []int64{never, lent} {
			wantNotFound(t, e.do(b, "GET", path(v1+"/clients/%d/training", id), nil), "worker B reads A's client's training")
		}
		if got := e.must(201, b, "POST", enrollments, map[string]any{"client_id": bClient}).JSON(t); got["status"] != "enrolled" ||
			got["client_id"] != float64(bClient) {
			t.Errorf("worker B enrolls their own client: %v, want enrolled client %d", got, bClient)
		}
		if msg := f.placeStill(sess, bClient, "enrolled", ""); msg != "" {
			t.Errorf("after worker B enrolled their own client: %s", msg)
		}
		rec := e.must(200, b, "GET", path(v1+"/clients/%d/training", bClient), nil).JSON(t)
		if s, _ := rec["sessions"].([]any); rec["client_id"] != float64(bClient) || len(s) != 1 {
			t.Errorf("worker B's client's training record: %v, want one session", rec)
		}
		e.must(200, a, "GET", path(v1+"/clients/%d/training", lent), nil)
		wantNotFound(t, e.do(a, "GET", path(v1+"/clients/%d/training", bClient), nil), "worker A reads B's client's training")
		// Certificates: worker B is told A's client's certificate does not
		// exist, and the refused read is not recorded; worker A reads it, and
		// so does the coordinator, to whom worker A referred the client.
		graduate := f.completed()
		cert := path(v1+"/clients/%d/training/certificates/device_basics", graduate)
		views := f.views(graduate)
		wantNotFound(t, e.do(b, "GET", cert, nil), "worker B reads A's client's certificate")
		if n := f.views(graduate); n != views {
			t.Errorf("worker B's refused certificate read was recorded: %d client.viewed events, had %d", n, views)
		}
		for _, who := range []string{a, co} {
			if r := e.must(200, who, "GET", cert, nil); r.Header.Get("Content-Type") != "application/pdf" {
				t.Errorf("certificate of a visible client: Content-Type %q", r.Header.Get("Content-Type"))
			}
		}
		if n := f.views(graduate); n != views+2 {
			t.Errorf("client %d has %d client.viewed events after two certificate reads, want %d", graduate, n, views+2)
		}
		wantForbidden(t, e.do(f.funder, "GET", cert, nil), "funder reads a certificate")
		// A social worker manages no session: no enrollment lists, no
		// attendance, not even for their own client.
		wantForbidden(t, e.do(a, "GET", enrollments, nil), "worker A lists a session's enrollments")
		started, mine := f.startedSession()
		wantForbidden(t, e.do(a, "POST", path(v1+"/training/sessions/%d/attendance", started),
			map[string]any{"client_id": mine, "status": "present", "hours": 1}), "worker A records their client's attendance")
		if msg := f.placeStill(started, mine, "enrolled", ""); msg != "" {
			t.Errorf("after worker A's refused attendance: %s", msg)
		}

		// A social worker cannot issue, return, inspect or take in devices,
		// and the refusal leaves everything as it was.
		device := f.device()
		wantForbidden(t, e.do(a, "POST", v1+"/loans", map[string]any{"client_id": lent, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn}), "worker A issue a loan")
		if msg := f.field(path(v1+"/devices/%d", device), "status", "available"); msg != "" {
			t.Errorf("after a refused issue: %s", msg)
		}
		if msg := f.sameTotal(path(v1+"/loans?device_id=%d", device), 0); msg != "" {
			t.Errorf("after a refused issue: %s", msg)
		}
		wantForbidden(t, e.do(a, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"}), "worker A return their client's loan")
		if msg := f.stillOpen(loan, f.loanDevice(loan))(); msg != "" {
			t.Errorf("after a refused return: %s", msg)
		}
		inInspection := f.deviceInInspection()
		wantForbidden(t, e.do(a, "POST", path(v1+"/devices/%d/inspection", inInspection), map[string]any{"wiped": true, "outcome": "ready"}), "worker A inspect a device")
		if msg := f.field(path(v1+"/devices/%d", inInspection), "status", "inspection"); msg != "" {
			t.Errorf("after a refused inspection: %s", msg)
		}
		devices := f.total(v1 + "/devices")
		wantForbidden(t, e.do(a, "POST", v1+"/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "One", "serial": "SW-1"}), "worker A take in a device")
		if msg := f.sameTotal(v1+"/devices", devices); msg != "" {
			t.Errorf("after a refused take-in: %s", msg)
		}

		// Reminders: a social worker sees those about their own clients and
		// none about another worker's client, however they ask; a
		// coordinator and an admin see both; a social worker sends none,
		// not even about their own client's loan.
		aLoan := f.remindedLoan()
		remindedClient := int64(f.get(path(v1+"/loans/%d", aLoan))["client_id"].(float64))
		e.must(201, co, "POST", path(v1+"/loans/%d/reminders", bLoan), map[string]any{})
		aNotes := listIDs(t, e.must(200, ad, "GET", path(v1+"/notifications?loan_id=%d", aLoan), nil))
		bNotes := listIDs(t, e.must(200, ad, "GET", path(v1+"/notifications?loan_id=%d", bLoan), nil))
		if len(aNotes) != 1 || len(bNotes) != 1 {
			t.Fatalf("the reminders of A's and B's clients' loans: %v and %v, want one each", aNotes, bNotes)
		}
		for _, q := range []string{"", path("?loan_id=%d", aLoan), path("?client_id=%d", remindedClient), "?kind=manual", "?status=sent"} {
			if ids := listIDs(t, e.must(200, b, "GET", v1+"/notifications"+q, nil)); has(ids, aNotes[0]) {
				t.Errorf("worker B GET /notifications%s shows the reminder about A's client: %v", q, ids)
			}
		}
		if ids := listIDs(t, e.must(200, b, "GET", v1+"/notifications", nil)); !has(ids, bNotes[0]) {
			t.Errorf("worker B's reminders: %v; want %d", ids, bNotes[0])
		}
		if ids := listIDs(t, e.must(200, a, "GET", v1+"/notifications", nil)); !has(ids, aNotes[0]) || has(ids, bNotes[0]) {
			t.Errorf("worker A's reminders: %v; want %d and not B's %d", ids, aNotes[0], bNotes[0])
		}
		for _, who := range []string{co, ad} {
			if ids := listIDs(t, e.must(200, who, "GET", v1+"/notifications", nil)); !has(ids, aNotes[0]) || !has(ids, bNotes[0]) {
				t.Errorf("a coordinator's or admin's reminders: %v; want both %d and %d", ids, aNotes[0], bNotes[0])
			}
		}
		wantForbidden(t, e.do(a, "POST", path(v1+"/loans/%d/reminders", aLoan), map[string]any{}), "worker A reminds their client")
		if msg := f.sameTotal(path(v1+"/notifications?loan_id=%d", aLoan), 1); msg != "" {
			t.Errorf("after worker A's refused reminder: %s", msg)
		}

		// Only an admin uses /users, whatever the id (their own included).
		for _, rt := range web.New(e.svc, web.Config{}).Routes() {
			if !strings.HasPrefix(rt.Path, v1+"/users") {
				continue
			}
			for _, c := range f.callers()[1:4] {
				p := strings.Replace(rt.Path, ":id", fmt.Sprint(c.id), 1)
				var body any
				if rt.Method == "POST" || rt.Method == "PATCH" {
					body = map[string]any{"name": "Self Promoted", "role": "admin"}
				}
				wantForbidden(t, e.do(c.token, rt.Method, p, body), c.column+" "+rt.Method+" "+p)
			}
		}
		for _, c := range f.callers()[1:4] {
			if u, _ := e.svc.Accounts.User(context.Background(), c.id); u.Role == accounts.Admin || u.Name == "Self Promoted" {
				t.Errorf("a refused /users request changed %s: %+v", c.column, u)
			}
		}
		e.must(200, ad, "GET", v1+"/users", nil)

		// A non-admin revokes only their own tokens: another's is not found.
		aPlain, aToken := f.token(f.workerAID)
		adminPlain, adminToken := f.token(f.adminID)
		wantNotFound(t, e.do(b, "DELETE", path(v1+"/tokens/%d", aToken), nil), "worker B revoke worker A's token")
		wantNotFound(t, e.do(co, "DELETE", path(v1+"/tokens/%d", adminToken), nil), "coordinator revoke the admin's token")
		e.must(200, aPlain, "GET", v1+"/me", nil)
		e.must(200, adminPlain, "GET", v1+"/me", nil)
		if ids := listIDs(t, e.must(200, b, "GET", v1+"/tokens", nil)); has(ids, aToken) || has(ids, adminToken) {
			t.Errorf("worker B's token list shows other users' tokens: %v", ids)
		}
		// An admin may revoke anyone's; the token then stops working.
		e.must(204, ad, "DELETE", path(v1+"/tokens/%d", aToken), nil)
		wantUnauthorized(t, e.do(aPlain, "GET", v1+"/me", nil), "a token the admin revoked")

		// Deactivating a user ends their tokens too.
		e.must(200, ad, "PATCH", path(v1+"/users/%d", f.workerBID), map[string]any{"active": false})
		wantUnauthorized(t, e.do(b, "GET", v1+"/clients", nil), "a deactivated worker's token")

		// A funder reads the funding sources linked to them, and no other:
		// another answers as one that does not exist, and is not listed.
		theirs := f.fundersSource()
		other := e.fundingSource(ad, "Not the funder's")
		e.must(200, f.funder, "GET", path(v1+"/funding-sources/%d", theirs), nil)
		wantNotFound(t, e.do(f.funder, "GET", path(v1+"/funding-sources/%d", other), nil), "funder read a source not theirs")
		if ids := listIDs(t, e.must(200, f.funder, "GET", v1+"/funding-sources", nil)); !has(ids, theirs) || has(ids, other) {
			t.Errorf("the funder's source list: %v (theirs %d, another %d)", ids, theirs, other)
		}
		e.must(200, co, "GET", path(v1+"/funding-sources/%d", other), nil)
	})
}

// The SMS provider's webhook is public: every caller reaches it, with a
// token, a revoked one or none, and none is told 401. A server without SMS
// set up answers 404, and a missing or bad signature 403, to every caller
// alike; neither changes anything. A signed reply is taken from anyone.
func TestRoleSMSWebhookIsPublic(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		f := newRoleFixtures(t, e)
		client, phone := f.texter()
		form := smsReply(phone, "STOP")
		signed := twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, form)
		forged := twilioSignature("not the auth token", testSMSWebhook.URL, form)
		post := func(server *env, token, signature string) *response {
			headers := []string{"Content-Type", "application/x-www-form-urlencoded"}
			if signature != "" {
				headers = append(headers, "X-Twilio-Signature", signature)
			}
			return server.do(token, "POST", v1+"/sms/inbound", form.Encode(), headers...)
		}
		for _, c := range f.callers() {
			for _, tc := range []struct {
				what      string
				server    *env
				signature string
				status    int
				code      string
			}{
				{"without SMS set up", e, signed, 404, "not_found"},
				{"with a forged signature", f.smsServer(), forged, 403, "forbidden"},
				{"without a signature", f.smsServer(), "", 403, "forbidden"},
			} {
				r := post(tc.server, c.token, tc.signature)
				if r.Status != tc.status || errorCode(r) != tc.code {
					t.Errorf("a STOP %s, sent as %s: %d %s, want %d %s", tc.what, c.column, r.Status, trim(r.Body), tc.status, tc.code)
				}
				if got := f.clientField(client, "sms_opted_out"); got != false {
					t.Fatalf("a STOP %s, sent as %s, opted the client out", tc.what, c.column)
				}
			}
		}
		for _, c := range f.callers() {
			if r := post(f.smsServer(), c.token, signed); r.Status != 200 {
				t.Errorf("a signed STOP sent as %s: %d %s, want 200", c.column, r.Status, trim(r.Body))
			}
		}
		if got := f.clientField(client, "sms_opted_out"); got != true {
			t.Errorf("after signed STOPs the client's sms_opted_out is %v, want true", got)
		}
	})
}

func matrixRow(method, p string) *routeCase {
	for i := range matrix {
		if matrix[i].method == method && matrix[i].path == p {
			return &matrix[i]
		}
	}
	return nil
}

func wantNotFound(t *testing.T, r *response, what string) {
	t.Helper()
	if r.Status != 404 || errorCode(r) != "not_found" {
		t.Errorf("%s: %d %s, want 404 not_found", what, r.Status, trim(r.Body))
	}
}

// wantNoClient checks the answer to a body naming a client the caller may
// not see: the same 422 as for a client that does not exist.
func wantNoClient(t *testing.T, r *response, what string) {
	t.Helper()
	var m struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &m)
	if r.Status != 422 || m.Error.Code != "invalid" || len(m.Error.Fields) != 1 || m.Error.Fields["client_id"] != "no client you can see has this id" {
		t.Errorf("%s: %d %s, want 422 invalid naming only client_id: no client you can see has this id", what, r.Status, trim(r.Body))
	}
}

func wantForbidden(t *testing.T, r *response, what string) {
	t.Helper()
	if msg := classify(r, deny); msg != "" {
		t.Errorf("%s: %s", what, msg)
	}
}

func wantUnauthorized(t *testing.T, r *response, what string) {
	t.Helper()
	if msg := classify(r, unauth); msg != "" {
		t.Errorf("%s: %s", what, msg)
	}
}

// listIDs is the ids of a list response's items.
func listIDs(t *testing.T, r *response) []int64 {
	t.Helper()
	items, ok := r.JSON(t)["items"].([]any)
	if !ok {
		t.Fatalf("not a list: %s", r.Body)
	}
	ids := make([]int64, 0, len(items))
	for _, it := range items {
		ids = append(ids, int64(it.(map[string]any)["id"].(float64)))
	}
	return ids
}

func has(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// testPassword is the password env.user gives every user.
const testPassword = "correct horse battery"

// roleFixtures is one user of each role (two social workers), a revoked
// token, and makers of fresh records. Records are made by the coordinator
// and worker A; reads for checks are made as the admin, who sees all.
type roleFixtures struct {
	t *testing.T
	e *env

	adminID, coordID, workerAID, workerBID, funderID int64
	admin, coord, workerA, workerB, funder           string
	// revoked is a token of the admin's, revoked through the API.
	revoked string
	// sms is a server on the same services with the SMS webhook set up
	// (see smsServer).
	sms *env
	// passwords are the callers' passwords once changed (see password).
	passwords map[int64]string
}

func newRoleFixtures(t *testing.T, e *env) *roleFixtures {
	t.Helper()
	f := &roleFixtures{t: t, e: e, passwords: map[int64]string{}}
	f.adminID, f.admin = e.user(accounts.Admin)
	f.coordID, f.coord = e.user(accounts.Coordinator)
	f.workerAID, f.workerA = e.user(accounts.SocialWorker)
	f.workerBID, f.workerB = e.user(accounts.SocialWorker)
	f.funderID, f.funder = e.user(accounts.Funder)
	var id int64
	f.revoked, id = f.token(f.adminID)
	e.must(200, f.revoked, "GET", v1+"/me", nil)
	e.must(204, f.admin, "DELETE", path(v1+"/tokens/%d", id), nil)
	return f
}

// callers are the matrix's columns: worker A is the social worker.
func (f *roleFixtures) callers() []caller {
	c := matrixColumns
	return []caller{
		{c[0], f.adminID, f.admin},
		{c[1], f.coordID, f.coord},
		{c[2], f.workerAID, f.workerA},
		{c[3], f.funderID, f.funder},
		{c[4], 0, ""},
		{c[5], 0, f.revoked},
	}
}

// token gives user a new token and returns it and its id.
func (f *roleFixtures) token(user int64) (string, int64) {
	f.t.Helper()
	plain, tok, err := f.e.svc.Accounts.CreateToken(context.Background(), nil, user, "fixture")
	if err != nil {
		f.t.Fatalf("token: %v", err)
	}
	return plain, tok.ID
}

// password is user's password now.
func (f *roleFixtures) password(user int64) string {
	if p, ok := f.passwords[user]; ok {
		return p
	}
	return testPassword
}

func (f *roleFixtures) passwordHash(user int64) string {
	f.t.Helper()
	u, err := f.e.svc.Accounts.User(context.Background(), user)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.PasswordHash
}

func (f *roleFixtures) tokenCount(user int64) int {
	f.t.Helper()
	_, total, err := f.e.svc.Accounts.ListTokens(context.Background(), user, storage.Page{})
	if err != nil {
		f.t.Fatal(err)
	}
	return total
}

func (f *roleFixtures) email(user int64) string {
	f.t.Helper()
	u, err := f.e.svc.Accounts.User(context.Background(), user)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.Email
}

func (f *roleFixtures) userName(user int64) string {
	f.t.Helper()
	u, err := f.e.svc.Accounts.User(context.Background(), user)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.Name
}

func (f *roleFixtures) device() int64 { return f.e.device(f.coord, "phone") }

// fundersSource is a new funding source that the funder is linked to (with
// those linked before).
func (f *roleFixtures) fundersSource() int64 {
	f.t.Helper()
	id := f.e.fundingSource(f.admin, fmt.Sprintf("Matrix fund %d", f.e.seq.Add(1)))
	u, err := f.e.svc.Accounts.User(context.Background(), f.funderID)
	if err != nil {
		f.t.Fatal(err)
	}
	ids := append(*u.FundingSourceIDs, id)
	f.e.must(200, f.admin, "PATCH", path(v1+"/users/%d", f.funderID), map[string]any{"funding_source_ids": ids})
	return id
}

// client is a new client of worker A's, not referred to the program: only
// worker A and the admin see them.
func (f *roleFixtures) client() int64 { return f.e.client(f.workerA) }

// referred is a new client of worker A's whom worker A referred to the
// program (by asking for a device for them), so that every role that may
// see any client sees them.
func (f *roleFixtures) referred() int64 { return f.e.referred(f.workerA) }

// openLoan is a new open loan to a new referred client of worker A's.
func (f *roleFixtures) openLoan() (loan, device int64) {
	device = f.device()
	return f.e.loan(f.coord, f.referred(), device), device
}

func (f *roleFixtures) lostLoan() (loan, device int64) {
	loan, device = f.openLoan()
	f.e.must(200, f.coord, "POST", path(v1+"/loans/%d/lost", loan), map[string]any{"notes": "lost"})
	return loan, device
}

// deviceInInspection is a device just back from a loan.
func (f *roleFixtures) deviceInInspection() int64 {
	loan, device := f.openLoan()
	f.e.must(200, f.coord, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"})
	return device
}

func (f *roleFixtures) loanDevice(loan int64) int64 {
	return int64(f.get(path(v1+"/loans/%d", loan))["device_id"].(float64))
}

func (f *roleFixtures) planBody() map[string]any {
	return map[string]any{"carrier": "Mint", "line_number": fmt.Sprintf("+1 312 %07d", f.e.seq.Add(1)),
		"monthly_cost_cents": 1500, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}
}

func (f *roleFixtures) plan() int64 {
	return f.e.must(201, f.coord, "POST", v1+"/data-plans", f.planBody()).ID(f.t)
}

// checks counts the client.eligibility_checked events in a client's
// history, as the admin sees it.
func (f *roleFixtures) checks(client int64) int {
	f.t.Helper()
	return countAction(f.e.allHistoryAt(f.admin, path(v1+"/clients/%d/history", client)), "client.eligibility_checked")
}

// ruleVersion is the version of the current rule set.
func (f *roleFixtures) ruleVersion() int {
	f.t.Helper()
	return int(f.get(v1 + "/eligibility/rules")["version"].(float64))
}

// ruleSetBody is the default rule set under a new name.
func (f *roleFixtures) ruleSetBody() map[string]any {
	f.t.Helper()
	var rs map[string]any
	if err := json.Unmarshal([]byte(eligibility.DefaultRuleSet), &rs); err != nil {
		f.t.Fatal(err)
	}
	rs["name"] = fmt.Sprintf("Matrix %d", f.e.seq.Add(1))
	return rs
}

// guidelineBody is a valid guideline table with a new id.
func (f *roleFixtures) guidelineBody() map[string]any {
	n := f.e.seq.Add(1)
	return map[string]any{"id": fmt.Sprintf("matrix-%d", n), "name": "Matrix table", "region": "MX", "year": 2026,
		"currency": "USD", "source": "role matrix fixture", "amounts_cents": []int64{1000000, 1500000},
		"each_additional_cents": 500000}
}

// guidelineIDs lists the ids of the guideline tables, as the admin sees them.
func (f *roleFixtures) guidelineIDs() []string {
	f.t.Helper()
	items, _ := f.get(v1 + "/eligibility/guidelines")["items"].([]any)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i], _ = it.(map[string]any)["id"].(string)
	}
	return ids
}

// get reads a record as the admin.
func (f *roleFixtures) get(p string) map[string]any {
	f.t.Helper()
	return f.e.must(200, f.admin, "GET", p, nil).JSON(f.t)
}

// clientField reads a client's field as their caseworker, worker A.
func (f *roleFixtures) clientField(id int64, name string) any {
	f.t.Helper()
	return f.e.must(200, f.workerA, "GET", path(v1+"/clients/%d", id), nil).JSON(f.t)[name]
}

// field describes how the record at p differs from want in name, or "".
func (f *roleFixtures) field(p, name string, want any) string {
	f.t.Helper()
	if got := f.get(p)[name]; got != want {
		return fmt.Sprintf("%s %s is %v, want %v", p, name, got, want)
	}
	return ""
}

// total is the total of a list, as the admin sees it.
func (f *roleFixtures) total(p string) int {
	f.t.Helper()
	return int(f.get(p)["total"].(float64))
}

func (f *roleFixtures) sameTotal(p string, want int) string {
	f.t.Helper()
	if got := f.total(p); got != want {
		return fmt.Sprintf("%s has %d items, want %d", p, got, want)
	}
	return ""
}

// stillOpen checks that a loan is open, as issued, with its device out.
func (f *roleFixtures) stillOpen(loan, device int64) func() string {
	return func() string {
		l := f.get(path(v1+"/loans/%d", loan))
		if l["status"] != "open" || l["due_on"] != "2026-04-10" || l["renewals"].(float64) != 0 {
			return fmt.Sprintf("loan %d is %v, due %v, renewed %v times; want open, due 2026-04-10, never renewed",
				loan, l["status"], l["due_on"], l["renewals"])
		}
		return f.field(path(v1+"/devices/%d", device), "status", "on_loan")
	}
}

// eligibleClient is a new client of worker A's who qualifies (on SNAP,
// with recent proof).
func (f *roleFixtures) eligibleClient() int64 {
	return f.e.situated(f.workerA, map[string]any{"programs": []string{"snap"}})
}

// fileRequest has worker A file a laptop request for client and checks
// the status it was decided into.
func (f *roleFixtures) fileRequest(client int64, status string) int64 {
	f.t.Helper()
	r := f.e.must(201, f.workerA, "POST", v1+"/requests", map[string]any{"client_id": client, "device_kind": "laptop"})
	if got := r.JSON(f.t)["status"]; got != status {
		f.t.Fatalf("fixture request filed as %v, want %s: %s", got, status, r.Body)
	}
	return r.ID(f.t)
}

// waitlisted is a new request of worker A's client, waiting for a laptop.
func (f *roleFixtures) waitlisted() int64 { return f.fileRequest(f.eligibleClient(), "waitlisted") }

// inReview is a new request of a client on SNAP whose proof was never
// verified: it waits for a person to decide.
func (f *roleFixtures) inReview() int64 {
	return f.fileRequest(f.e.situated(f.workerA, map[string]any{"programs": []string{"snap"}, "proof_verified_on": nil}), "needs_review")
}

// deniedRequest is a new request of a client earning too much.
func (f *roleFixtures) deniedRequest() int64 {
	return f.fileRequest(f.e.situated(f.workerA, map[string]any{"annual_income_cents": limit3 + 100}), "denied")
}

// requestStill checks that a request is in status, with no justification.
func (f *roleFixtures) requestStill(id int64, status string) func() string {
	return func() string {
		r := f.get(path(v1+"/requests/%d", id))
		if r["status"] != status || r["justification"] != "" {
			return fmt.Sprintf("request %d is %v with justification %q; want %s, none", id, r["status"], r["justification"], status)
		}
		return ""
	}
}

// sessionBody is a training session ten days ahead, for ten people.
func (f *roleFixtures) sessionBody() map[string]any {
	return map[string]any{"title": "Device basics", "topic": "device_basics", "language": "en", "location": "Room 2",
		"starts_at": "2026-03-20T17:00:00Z", "ends_at": "2026-03-20T19:00:00Z", "capacity": 10}
}

// session is a new training session, scheduled by the coordinator.
func (f *roleFixtures) session() int64 {
	return f.e.must(201, f.coord, "POST", v1+"/training/sessions", f.sessionBody()).ID(f.t)
}

// enroll has the coordinator enroll client in session and checks the
// status the place was given.
func (f *roleFixtures) enroll(session, client int64, status string) {
	f.t.Helper()
	r := f.e.must(201, f.coord, "POST", path(v1+"/training/sessions/%d/enrollments", session), map[string]any{"client_id": client})
	if got := r.JSON(f.t)["status"]; got != status {
		f.t.Fatalf("fixture enrollment is %v, want %s: %s", got, status, r.Body)
	}
}

// startedSession is a session that began an hour ago, with a new referred
// client of worker A's enrolled in it before it started (the clock is moved back for
// that) and no attendance recorded.
func (f *roleFixtures) startedSession() (session, client int64) {
	f.t.Helper()
	now := f.e.clock.Now()
	f.e.clock.Set(now.Add(-48 * time.Hour))
	defer f.e.clock.Set(now)
	body := f.sessionBody()
	body["starts_at"], body["ends_at"] = now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)
	session = f.e.must(201, f.coord, "POST", v1+"/training/sessions", body).ID(f.t)
	client = f.referred()
	f.enroll(session, client, "enrolled")
	return session, client
}

// completed is a new client of worker A's who completed the device_basics
// module in a session that began an hour ago (see startedSession).
func (f *roleFixtures) completed() int64 {
	f.t.Helper()
	session, client := f.startedSession()
	r := f.e.must(200, f.coord, "POST", path(v1+"/training/sessions/%d/attendance", session),
		map[string]any{"client_id": client, "status": "present", "hours": 1, "module_completed": true})
	if got := r.JSON(f.t)["module_completed"]; got != true {
		f.t.Fatalf("fixture attendance has module_completed %v: %s", got, r.Body)
	}
	return client
}

// views counts the client.viewed events in a client's history, as the
// admin sees it.
func (f *roleFixtures) views(client int64) int {
	f.t.Helper()
	return countAction(f.e.allHistoryAt(f.admin, path(v1+"/clients/%d/history", client)), "client.viewed")
}

// smsServer is a server on the fixtures' services with the SMS webhook
// set up (testSMSWebhook).
func (f *roleFixtures) smsServer() *env {
	if f.sms == nil {
		f.sms = f.e.withSMS()
	}
	return f.sms
}

// texter is a new client of worker A's, reached by text message at a
// number no other client has, and that number in E.164.
func (f *roleFixtures) texter() (client int64, phone string) {
	phone = fmt.Sprintf("+1312555%04d", f.e.seq.Add(1)%10000)
	return f.e.textClient(f.workerA, phone, nil), phone
}

// remindedLoan is a new open loan to a new client of worker A's, about
// which the coordinator sent a reminder.
func (f *roleFixtures) remindedLoan() int64 {
	f.t.Helper()
	loan, _ := f.openLoan()
	f.e.must(201, f.coord, "POST", path(v1+"/loans/%d/reminders", loan), map[string]any{})
	return loan
}

// policy is the reminder policy in force, as the admin reads it.
func (f *roleFixtures) policy() map[string]any {
	f.t.Helper()
	return f.get(v1 + "/notifications/policy")
}

// placeStill checks that client's place in session has status and
// attendance, as the admin sees the session's enrollments.
func (f *roleFixtures) placeStill(session, client int64, status, attendance string) string {
	f.t.Helper()
	items, _ := f.get(path(v1+"/training/sessions/%d/enrollments?limit=100", session))["items"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		if m["client_id"] != float64(client) {
			continue
		}
		if m["status"] != status || m["attendance"] != attendance || m["hours"] != float64(0) || m["module_completed"] != false {
			return fmt.Sprintf("client %d's place in session %d is %v, attendance %q, %v hours, module %v; want %s, %q, 0, false",
				client, session, m["status"], m["attendance"], m["hours"], m["module_completed"], status, attendance)
		}
		return ""
	}
	return fmt.Sprintf("client %d has no place in session %d", client, session)
}
