package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// The requests' pages: the list a coordinator decides from, a request's
// page with the decisions the actor may take, each refused in place when
// it cannot be taken, and each role reaching what the API lets it.
func TestPagesRequests(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, sw := e.pageUser(accounts.SocialWorker)
		co, _, _ := e.pageUser(accounts.Coordinator)
		_, _, admin := e.pageUser(accounts.Admin) // sees the request whatever becomes of it
		client := e.situated(sw, map[string]any{"annual_income_cents": 2732000, "proof_verified_on": nil})
		req := e.must(201, sw, "POST", requestsURL, map[string]any{"client_id": client, "device_kind": "tablet"}).JSON(t)
		if req["status"] != "needs_review" {
			t.Fatalf("the request is %v, want needs_review", req["status"])
		}
		id := int64(req["id"].(float64))
		page := path("/requests/%d", id)
		statusNow := func() string {
			t.Helper()
			return e.must(200, admin, "GET", path(requestsURL+"/%d", id), nil).JSON(t)["status"].(string)
		}

		// A coordinator's list starts with the requests to decide.
		if status, body := co.getPage("/requests"); status != 200 || !strings.Contains(body, path(`href="%s"`, page)) ||
			!strings.Contains(body, `<option value="needs_review" selected>`) {
			t.Errorf("the coordinator's list: %d\n%s", status, body)
		}
		if status, body := co.getPage("/requests?status=fulfilled"); status != 200 || strings.Contains(body, path(`href="%s"`, page)) {
			t.Errorf("the fulfilled requests list the one to decide: %d", status)
		}
		if status, body := co.getPage("/requests?status=lost"); status != 422 || !strings.Contains(body, `id="f-status-error"`) {
			t.Errorf("a bad status filter: %d\n%s", status, body)
		}

		// Who sees the request: its worker (no decision to take), a
		// coordinator (the client referred to them by the request); not
		// another worker (the 404 page, as the API) nor a funder.
		if status, body := w.getPage(page); status != 200 || !strings.Contains(body, "Not known") || strings.Contains(body, ">Approve<") ||
			!strings.Contains(body, "Cancel the request") {
			t.Errorf("the worker's view: %d\n%s", status, body)
		}
		other, _, _ := e.pageUser(accounts.SocialWorker)
		if status, _ := other.getPage(page); status != 404 {
			t.Errorf("another worker's view: %d, want 404", status)
		}
		if status, _, _ := other.postPage(page + "/cancel"); status != 404 || statusNow() != "needs_review" {
			t.Errorf("another worker's cancel: %d, %s", status, statusNow())
		}
		funder, _, _ := e.pageUser(accounts.Funder)
		if status, _ := funder.getPage(page); status != 403 {
			t.Errorf("a funder's view: %d, want 403", status)
		}
		if status, _, _ := w.postPage(page + "/approve"); status != 403 || statusNow() != "needs_review" {
			t.Errorf("a worker's approval: %d, %s", status, statusNow())
		}
		status, body := co.getPage(page)
		if status != 200 || !strings.Contains(body, ">Approve<") || !strings.Contains(body, ">Deny<") {
			t.Fatalf("the coordinator's view: %d\n%s", status, body)
		}

		// Denied without a reason: refused next to the field, nothing done.
		status, _, body = co.postPage(page+"/deny", "justification", " ")
		if status != 422 || !strings.Contains(body, `id="f-justification-error"`) || statusNow() != "needs_review" {
			t.Errorf("a denial without a reason: %d, %s\n%s", status, statusNow(), body)
		}
		if res, _ := co.send("POST", page+"/approve", url.Values{}); res.StatusCode != 403 || statusNow() != "needs_review" {
			t.Errorf("an approval without the CSRF token: %d, %s", res.StatusCode, statusNow())
		}
		status, loc, _ := co.postPage(page+"/approve", "justification", "proof seen at the office")
		if status != 303 || loc != page+"?done=approved" {
			t.Fatalf("approving: %d %s", status, loc)
		}
		after := statusNow()
		if after != "waitlisted" && after != "ready" {
			t.Fatalf("approved, the request is %s", after)
		}
		if _, body := co.getPage(loc); !strings.Contains(body, "The request is approved") {
			t.Errorf("the notice after approving:\n%s", body)
		}
		// Sent again (a reload): refused in place, decided once.
		status, _, body = co.postPage(page+"/approve", "justification", "proof seen at the office")
		if status != 409 || !strings.Contains(body, "cannot become approved") || statusNow() != after {
			t.Errorf("approving again: %d, %s\n%s", status, statusNow(), body)
		}
		// Its worker withdraws it.
		if status, loc, _ := w.postPage(page + "/cancel"); status != 303 || loc != page+"?done=cancelled" || statusNow() != "cancelled" {
			t.Errorf("cancelling: %d %s, %s", status, loc, statusNow())
		}
	})
}
