package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/retention"
)

// The retention policy's page shows the policy in force with its
// defaults and what the next run would erase; a form with problems names
// each at its field and saves nothing; a good one saves, as the API does,
// and says so.
func TestRetentionPolicyPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin, _ := e.signedIn(accounts.Admin)
		status, body := admin.getPage("/retention/policy")
		if status != 200 || !strings.Contains(body, `name="notification_texts_days" type="number" value="90"`) ||
			!strings.Contains(body, `name="inactive_client_years" type="number" value="7"`) || !strings.Contains(body, "Default: 90.") ||
			!strings.Contains(body, "What the next run would erase now") || !strings.Contains(body, "reminder texts, addresses and notes erased") {
			t.Fatalf("the policy page: %d\n%s", status, body)
		}

		status, _, body = admin.postPage("/retention/policy", "notification_texts_days", "ninety", "sms_replies_days", "30",
			"ended_sessions_days", "400", "inactive_client_years", "0")
		if status != 422 || !strings.Contains(body, "must be a whole number") || !strings.Contains(body, "from 1 to 365") ||
			!strings.Contains(body, "from 1 to 50") || !strings.Contains(body, `value="ninety"`) {
			t.Fatalf("a policy with problems: %d\n%s", status, body)
		}
		if p, err := retention.Current(ctx, e.svc.DB); err != nil || p != retention.DefaultPolicy {
			t.Fatalf("a refused form changed the policy: %+v, %v", p, err)
		}

		status, location, _ := admin.postPage("/retention/policy", "notification_texts_days", "30", "sms_replies_days", "30",
			"ended_sessions_days", "14", "inactive_client_years", "5")
		if status != 303 || location != "/retention/policy?saved=1" {
			t.Fatalf("saving the policy: %d %s", status, location)
		}
		want := retention.Settings{NotificationTextsDays: 30, SMSRepliesDays: 30, EndedSessionsDays: 14, InactiveClientYears: 5}
		if p, err := retention.Current(ctx, e.svc.DB); err != nil || retention.SettingsOf(p) != want {
			t.Fatalf("the policy saved: %+v, %v", p, err)
		}
		if len(e.events("retention_policy", 1)) != 1 {
			t.Errorf("saving the policy was not audited")
		}
		status, body = admin.getPage(location)
		if status != 200 || !strings.Contains(body, "The retention policy was saved") || !strings.Contains(body, `value="30"`) {
			t.Fatalf("after saving: %d\n%s", status, body)
		}
	})
}

// An admin erases a client from the client's page: a link there leads to
// a page that says what goes and asks why and to confirm. Without the
// confirmation nothing is erased; while a device is out the erasure is
// refused with the reason; confirmed, the client is gone from every page
// and the API, and the audit trail keeps who and why. Nobody else reaches
// the page or its form.
func TestEraseClientPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		_, co := e.user(accounts.Coordinator)
		client, lent := e.client(sw), e.referred(sw)
		referral := e.refer(sw, client)
		e.loan(co, lent, e.device(co, "laptop"))
		last := e.must(200, sw, "GET", path(v1+"/clients/%d", client), nil).JSON(t)["last_name"].(string)
		erase := path("/clients/%d/erase", client)

		admin, _ := e.signedIn(accounts.Admin)
		if status, body := admin.getPage(path("/clients/%d", client)); status != 200 || !strings.Contains(body, `href="`+erase+`"`) {
			t.Fatalf("the client's page has no link to erase them: %d\n%s", status, body)
		}
		status, body := admin.getPage(erase)
		if status != 200 || !strings.Contains(body, "cannot be undone") || !strings.Contains(body, `action="`+erase+`"`) {
			t.Fatalf("the erasure page: %d\n%s", status, body)
		}
		for _, role := range []accounts.Role{accounts.SocialWorker, accounts.Coordinator, accounts.Funder} {
			p, _ := e.signedIn(role)
			if status, _ := p.getPage(erase); status != 403 {
				t.Errorf("%s GET %s: %d, want 403", role, erase, status)
			}
			if status, _, _ := p.postPage(erase, "reason", "asked", "confirm", "true"); status != 403 {
				t.Errorf("%s POST %s: %d, want 403", role, erase, status)
			}
			if status, body := p.getPage(path("/clients/%d", client)); status == 200 && strings.Contains(body, erase) {
				t.Errorf("%s is offered the erasure link", role)
			}
		}

		status, _, body = admin.postPage(erase, "reason", "")
		if status != 422 || !strings.Contains(body, "tick the box to confirm") || !strings.Contains(body, "say why the client is erased") {
			t.Fatalf("unconfirmed, without a reason: %d\n%s", status, body)
		}
		e.must(200, sw, "GET", path(v1+"/clients/%d", client), nil)
		// A reason is one line of text: the audit trail keeps it as given.
		status, _, body = admin.postPage(erase, "reason", "asked\x1b[31m by phone", "confirm", "true")
		if status != 422 || !strings.Contains(body, "without control characters") {
			t.Fatalf("a reason with a terminal escape: %d\n%s", status, body)
		}
		e.must(200, sw, "GET", path(v1+"/clients/%d", client), nil)

		status, _, body = admin.postPage(path("/clients/%d/erase", lent), "reason", "the client asked", "confirm", "true")
		if status != 409 || !strings.Contains(body, "device") {
			t.Fatalf("erasing a client with a device out: %d\n%s", status, body)
		}
		e.must(200, sw, "GET", path(v1+"/clients/%d", lent), nil)

		// Once the referral, an open request, is cancelled.
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", referral), nil)
		status, _, body = admin.postPage(erase, "reason", "the client asked on 2026-12-01", "confirm", "true")
		if status != 200 || !strings.Contains(body, "Client erased") || strings.Contains(body, last) {
			t.Fatalf("erasing: %d\n%s", status, body)
		}
		e.must(404, sw, "GET", path(v1+"/clients/%d", client), nil)
		if status, _ := admin.getPage(path("/clients/%d", client)); status != 404 {
			t.Errorf("the erased client's page: %d, want 404", status)
		}
		if status, _ := admin.getPage(erase); status != 404 {
			t.Errorf("the erased client's erasure page: %d, want 404", status)
		}
		erased := false
		for _, ev := range e.events("client", client) {
			if ev.Action == "client.erased" && strings.Contains(string(ev.Changes), "the client asked on 2026-12-01") && ev.ActorID != nil {
				erased = true
			}
		}
		if !erased {
			t.Errorf("the audit trail does not keep the erasure, by whom and why: %+v", e.events("client", client))
		}
	})
}
