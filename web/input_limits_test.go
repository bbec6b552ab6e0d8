package web_test

import (
	"context"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/web"
)

// Input that neither database can store is refused as invalid, by field,
// on both databases alike, never a 500.
func TestUnstorableInputIsInvalid(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		r := e.do(sw, "POST", "/api/v1/clients", `{"case_number":"N-1","first_name":"Ana","last_name":"Lo\u0000pez",
			"preferred_channel":"none","household_size":1}`)
		if r.Status != 422 || r.ErrorFields(t)["last_name"] == nil {
			t.Fatalf("NUL in a name: %d %s", r.Status, r.Body)
		}
		for _, list := range []string{"/api/v1/clients?q=%00", "/api/v1/devices?q=a%00b"} {
			if r := e.do(co, "GET", list, nil); r.Status != 422 || r.ErrorFields(t)["q"] == nil {
				t.Fatalf("GET %s: %d %s", list, r.Status, r.Body)
			}
		}
		plan := map[string]any{"carrier": "Mint", "iccid": "8901260123456789012", "starts_on": "2026-01-01", "data_cap_mb": 3000000000}
		if r := e.do(co, "POST", "/api/v1/data-plans", plan); r.Status != 422 || r.ErrorFields(t)["data_cap_mb"] == nil {
			t.Fatalf("a data cap beyond 32 bits: %d %s", r.Status, r.Body)
		}
		plan["data_cap_mb"], plan["starts_on"] = 1024, "0000-01-01"
		if r := e.do(co, "POST", "/api/v1/data-plans", plan); r.Status != 422 || r.ErrorFields(t)["starts_on"] == nil {
			t.Fatalf("year 0: %d %s", r.Status, r.Body)
		}
		if total := e.must(200, co, "GET", "/api/v1/data-plans", nil).JSON(t)["total"]; total != float64(0) {
			t.Fatalf("refused plans were stored: %v", total)
		}
	})
}

// Behind a trusted proxy the limit follows the real client, which a client
// cannot dodge by writing its own X-Forwarded-For entries, on the proxy's
// line or on a line of its own; and a sign-in that succeeds is not counted.
func TestSignInLimitBehindAProxy(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		behind := e.behindProxy(web.Config{SignInPerMinute: 3})
		guess := func(i int, forwarded ...string) int {
			var headers []string
			for _, line := range forwarded {
				headers = append(headers, "X-Forwarded-For", line)
			}
			return behind.do("", "POST", "/api/v1/auth/token", map[string]any{"email": path("user%d@agency.test", i),
				"password": "guess guess guess"}, headers...).Status
		}

		// One client (203.0.113.9, as the proxy saw it) forging a new
		// address on the left each time, against different accounts.
		var statuses []int
		for i := 0; i < 5; i++ {
			statuses = append(statuses, guess(i, path("198.51.100.%d, 203.0.113.9", i)))
		}
		if path("%v", statuses) != "[401 401 401 429 429]" {
			t.Fatalf("forged addresses: statuses %v, want the 4th and 5th limited", statuses)
		}
		// Another client sending its forged header as a line of its own,
		// to which the proxy adds a second line with the address it saw.
		statuses = nil
		for i := 0; i < 5; i++ {
			statuses = append(statuses, guess(i, path("198.51.100.%d", i), "203.0.113.10"))
		}
		if path("%v", statuses) != "[401 401 401 429 429]" {
			t.Fatalf("forged addresses on a line of their own: statuses %v, want the 4th and 5th limited", statuses)
		}

		// Staff behind one office address all sign in, however many.
		for i := 0; i < 5; i++ {
			_, err := e.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{Email: path("office%d@agency.test", i),
				Name: "Office", Role: accounts.SocialWorker, Password: testPassword})
			if err != nil {
				t.Fatal(err)
			}
			behind.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": path("office%d@agency.test", i),
				"password": testPassword}, "X-Forwarded-For", "192.0.2.200")
		}
	})
}
