package web_test

import (
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
// cannot dodge by writing its own X-Forwarded-For entries; and one account
// cannot be guessed at from many addresses.
func TestSignInLimitBehindAProxy(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		proxies, err := web.ParseTrustedProxies([]string{"127.0.0.0/8"})
		if err != nil {
			t.Fatal(err)
		}
		behind := e.with(web.Config{SignInPerMinute: 3, TrustedProxies: proxies})

		// One client (203.0.113.9, as the proxy saw it) forging a new
		// address on the left each time, against different accounts.
		var statuses []int
		for i := 0; i < 5; i++ {
			r := behind.do("", "POST", "/api/v1/auth/token", map[string]any{"email": path("user%d@agency.test", i), "password": "guess guess guess"},
				"X-Forwarded-For", path("198.51.100.%d, 203.0.113.9", i))
			statuses = append(statuses, r.Status)
		}
		if path("%v", statuses) != "[401 401 401 429 429]" {
			t.Fatalf("forged addresses: statuses %v, want the 4th and 5th limited", statuses)
		}
		// Many real addresses against one account.
		statuses = nil
		for i := 0; i < 5; i++ {
			r := behind.do("", "POST", "/api/v1/auth/token", map[string]any{"email": "target@agency.test", "password": "guess guess guess"},
				"X-Forwarded-For", path("192.0.2.%d", i+1))
			statuses = append(statuses, r.Status)
		}
		if path("%v", statuses) != "[401 401 401 429 429]" {
			t.Fatalf("one account from many addresses: statuses %v, want the 4th and 5th limited", statuses)
		}
	})
}
