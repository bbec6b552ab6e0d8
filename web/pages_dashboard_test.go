package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// tile is the count the dashboard shows with the link to href, or -1.
func tile(body, href string) string {
	m := regexp.MustCompile(`<a href="` + regexp.QuoteMeta(strings.ReplaceAll(href, "&", "&amp;")) + `"><span class="count">(\d+)</span>`).FindStringSubmatch(body)
	if m == nil {
		return "-1"
	}
	return m[1]
}

// The dashboard counts what the lists it links to hold, for the data made
// here: free devices by kind, requests to decide and ready, loans due this
// week, overdue and unsigned, devices in inspection, failed notifications.
func TestPagesDashboardCounts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		// Three laptops free, a phone and a tablet lent out, a hotspot
		// back and waiting for inspection.
		for range 3 {
			e.device(co, "laptop")
		}
		phone, tablet, hotspot := e.device(co, "phone"), e.device(co, "tablet"), e.device(co, "hotspot")
		// Lent on testNow (2026-03-10): the phone due 03-12 (this week),
		// the tablet due 03-11 then overdue on 03-13.
		due := func(device int64, on string) int64 {
			return e.must(201, co, "POST", "/api/v1/loans", map[string]any{
				"client_id": e.referred(sw), "device_id": device, "due_on": on, "walk_in_justification": walkIn}).ID(t)
		}
		due(phone, "2026-03-16")
		due(tablet, "2026-03-12")
		returned := due(hotspot, "2026-04-10")
		e.must(200, co, "POST", path("/api/v1/loans/%d/return", returned), map[string]any{"condition": "good"})
		// Requests a coordinator must review (each referral above, and a
		// hotspot with a data plan), and one ready: approved, it holds the
		// one "other" device.
		e.device(co, "other")
		ready := e.refer(sw, e.client(sw))
		if r := e.must(200, co, "POST", path("/api/v1/requests/%d/approve", ready), map[string]any{}).JSON(t); r["status"] != "ready" {
			t.Fatalf("the approved request is %v", r["status"])
		}
		review := e.must(201, sw, "POST", "/api/v1/requests", map[string]any{
			"client_id": e.client(sw), "device_kind": "hotspot", "reason": "school", "needs_data_plan": true}).JSON(t)
		if review["status"] != "needs_review" {
			t.Fatalf("the request to review is %v", review["status"])
		}
		// A reminder that failed.
		rem := e.must(201, co, "POST", remindURL(returned-1), map[string]any{}).ID(t)
		if _, err := e.db.NewUpdate().Table("notifications").Set("status = 'failed'").Where("id = ?", rem).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(testNow.Add(3 * 24 * time.Hour)) // 2026-03-13: the tablet is overdue

		_, email := e.staff(accounts.Coordinator, browserPassword)
		p := e.pageClient()
		p.signIn(email, browserPassword)
		if _, home := p.send("GET", "/", nil); !strings.Contains(home, `<a href="/dashboard">Open the dashboard</a>`) {
			t.Errorf("the coordinator's home has no link to the dashboard:\n%s", home)
		}
		res, body := p.send("GET", "/dashboard", nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET /dashboard: %d\n%s", res.StatusCode, body)
		}
		for href, want := range map[string]string{
			"/devices?kind=laptop&status=available":  "3",
			"/devices?kind=phone&status=available":   "0",
			"/devices?kind=other&status=available":   "1",
			"/devices?kind=hotspot&status=available": "0",
			"/requests?status=needs_review":          "4",
			"/requests?status=ready":                 "1",
			"/loans?due=week":                        "1",
			"/loans?status=overdue":                  "1",
			"/loans?agreement=unsigned":              "2",
			"/devices?status=inspection":             "1",
			"/notifications?status=failed":           "1",
		} {
			if got := tile(body, href); got != want {
				t.Errorf("dashboard %s: %s, want %s", href, got, want)
			}
		}
		if !strings.Contains(body, "Free devices: 4") {
			t.Errorf("free devices in all:\n%s", body)
		}
		// The counts are the API's lists' totals.
		for _, q := range []string{"?due=week", "?status=overdue", "?agreement=unsigned"} {
			if n := e.must(200, co, "GET", "/api/v1/loans"+q, nil).JSON(t)["total"]; n == nil {
				t.Errorf("GET /api/v1/loans%s has no total", q)
			}
		}
		if got := e.must(200, co, "GET", "/api/v1/loans?due=week", nil).JSON(t)["total"]; got != float64(1) {
			t.Errorf("GET /api/v1/loans?due=week: total %v", got)
		}
		if r := e.do(co, "GET", "/api/v1/loans?due=month", nil); r.Status != 422 {
			t.Errorf("GET /api/v1/loans?due=month: %d", r.Status)
		}

		// An admin sees it too; a social worker and a funder get the 403
		// page and no link.
		for role, want := range map[accounts.Role]int{accounts.Admin: 200, accounts.SocialWorker: 403, accounts.Funder: 403} {
			_, email := e.staff(role, browserPassword)
			q := e.pageClient()
			q.signIn(email, browserPassword)
			res, body := q.send("GET", "/dashboard", nil)
			if res.StatusCode != want {
				t.Errorf("%s GET /dashboard: %d, want %d", role, res.StatusCode, want)
			}
			if want == 200 && tile(body, "/loans?status=overdue") != "1" {
				t.Errorf("%s's dashboard:\n%s", role, body)
			}
			if _, home := q.send("GET", "/", nil); strings.Contains(home, `href="/dashboard"`) != (want == 200) {
				t.Errorf("%s's home and the dashboard link:\n%s", role, home)
			}
		}
	})
}
