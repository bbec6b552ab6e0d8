package web_test

import (
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// The notifications page lists the outbox as the API does: a reminder
// sent about a worker's client is on the worker's page and the
// coordinator's, never its address, and on no other worker's; a funder may
// not open it; a bad filter is told next to its field.
func TestPagesNotifications(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		w, _, sw := e.pageUser(accounts.SocialWorker)
		co, _, coTok := e.pageUser(accounts.Coordinator)
		loan := e.loan(coTok, e.referred(sw), e.device(coTok, "tablet"))
		e.must(201, coTok, "POST", remindURL(loan), nil)

		for who, p := range map[string]*pageClient{"coordinator": co, "social worker": w} {
			status, body := p.getPage("/notifications?status=sent")
			if status != 200 || !strings.Contains(body, path(`href="/loans/%d"`, loan)) || !strings.Contains(body, "client by sms") {
				t.Errorf("the %s's notifications: %d\n%s", who, status, body)
			}
			if strings.Contains(body, "555") {
				t.Errorf("the %s's notifications show a phone number", who)
			}
		}
		if status, body := co.getPage("/notifications?status=failed"); status != 200 || !strings.Contains(body, "No notifications match") {
			t.Errorf("the failed notifications: %d\n%s", status, body)
		}
		other, _, _ := e.pageUser(accounts.SocialWorker)
		if status, body := other.getPage("/notifications"); status != 200 || strings.Contains(body, path(`href="/loans/%d"`, loan)) {
			t.Errorf("another worker's notifications: %d\n%s", status, body)
		}
		funder, _, _ := e.pageUser(accounts.Funder)
		if status, _ := funder.getPage("/notifications"); status != 403 {
			t.Errorf("a funder's notifications: %d, want 403", status)
		}
		if status, body := co.getPage("/notifications?status=lost"); status != 422 || !strings.Contains(body, `id="f-status-error"`) {
			t.Errorf("a bad status: %d\n%s", status, body)
		}
	})
}
