package web_test

import (
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

func TestZZScratch(t *testing.T) {
	e := newEnv(t, dbtest.Open(t, storage.SQLite))
	_, admin := e.user(accounts.Admin)
	_, co := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	t.Logf("%s", e.do(co, "GET", "/api/v1/notifications", nil).Body)
	t.Logf("%s", e.do(co, "GET", "/api/v1/notifications/policy", nil).Body)
	bad := map[string]any{"due_soon_days": []int{3, 3}, "due_today": true, "overdue": []any{map[string]any{"days": 1, "notify": []string{"client"}}, map[string]any{"days": 400, "notify": []string{"mayor"}}},
		"training_day_before": true, "training_hours_before": 2, "training_cancelled": true, "data_plan_ending_days": []int{7}, "coordinator_digest": true, "send_at": "", "quiet_hours": map[string]any{"start": "9pm", "end": "08:00"}, "catch_up_days": 0}
	r := e.do(admin, "PUT", "/api/v1/notifications/policy", bad)
	t.Logf("%d %s", r.Status, r.Body)
	c := e.client(sw)
	l := e.loan(co, c, e.device(co, "phone"))
	r = e.do(co, "POST", path("/api/v1/loans/%d/reminders", l), nil)
	t.Logf("%d %s", r.Status, r.Body)
	r = e.do(co, "POST", path("/api/v1/loans/%d/reminders", l), map[string]any{"note": "bring the\n charger"})
	t.Logf("%d %s", r.Status, r.Body)
	e.clock.Set(testNow.Add(7 * 3600e9))
	r = e.do(co, "POST", path("/api/v1/loans/%d/reminders", l), map[string]any{"note": "late"})
	t.Logf("%d %s", r.Status, r.Body)
	r = e.do(sw, "GET", path("/api/v1/notifications?loan_id=%d", l), nil)
	t.Logf("%d %s", r.Status, r.Body)
	r = e.do(co, "POST", "/api/v1/loans/99999/reminders", nil)
	t.Logf("%d %s", r.Status, r.Body)
	r = e.do(co, "GET", "/api/v1/notifications?status=x&kind=y&loan_id=-1&client_id=abc", nil)
	t.Logf("%d %s", r.Status, r.Body)
}
