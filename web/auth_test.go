package web_test

import (
	"context"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/web"
)

func TestSignIn(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "Nia@Agency.test", Name: "Nia",
			Role: accounts.Coordinator, Password: "first one-time pass", MustChangePassword: true})
		if err != nil {
			t.Fatal(err)
		}
		signIn := func(body map[string]any, headers ...string) *response {
			return e.do("", "POST", "/api/v1/auth/token", body, headers...)
		}
		if r := signIn(map[string]any{"email": "nia@agency.test", "password": "wrong password!"}); r.Status != 401 || r.ErrorCode(t) != "unauthorized" {
			t.Fatalf("wrong password: %d %s", r.Status, r.Body)
		}
		if r := signIn(map[string]any{"email": "nobody@agency.test", "password": "first one-time pass"}); r.Status != 401 {
			t.Fatalf("unknown user: %d %s", r.Status, r.Body)
		}
		// A one-time password must be replaced at first sign-in.
		if r := signIn(map[string]any{"email": "nia@agency.test", "password": "first one-time pass"}); r.Status != 422 || r.ErrorFields(t)["new_password"] == nil {
			t.Fatalf("one-time password without a new one: %d %s", r.Status, r.Body)
		}
		if r := signIn(map[string]any{"email": "nia@agency.test", "password": "first one-time pass", "new_password": "short"}); r.Status != 422 {
			t.Fatalf("too short a new password: %d %s", r.Status, r.Body)
		}
		// Sign-in is public: an Idempotency-Key there is ignored, not a 500.
		r := e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "NIA@agency.test ", "password": "first one-time pass",
			"new_password": "my own long passphrase", "token_name": "phone"}, "Idempotency-Key", "sign-in-1")
		token := r.JSON(t)["token"].(string)
		me := e.must(200, token, "GET", "/api/v1/me", nil).JSON(t)
		if me["email"] != "nia@agency.test" || me["must_change_password"] != false {
			t.Fatalf("me after sign-in: %v", me)
		}
		if r := signIn(map[string]any{"email": "nia@agency.test", "password": "first one-time pass"}); r.Status != 401 {
			t.Fatalf("the one-time password still works: %d", r.Status)
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": "my own long passphrase"})
		// Malformed bodies are refused cleanly.
		if r := e.do("", "POST", "/api/v1/auth/token", "{"); r.Status != 400 || r.ErrorCode(t) != "malformed" {
			t.Fatalf("malformed sign-in: %d %s", r.Status, r.Body)
		}
	})
}

func TestSignInIsRateLimited(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		limited := e.with(web.Config{SignInPerMinute: 3})
		statuses := []int{}
		for i := 0; i < 5; i++ {
			statuses = append(statuses, limited.do("", "POST", "/api/v1/auth/token", map[string]any{"email": "x@agency.test", "password": "guessing guessing"}).Status)
		}
		want := []int{401, 401, 401, 429, 429}
		for i := range want {
			if statuses[i] != want[i] {
				t.Fatalf("statuses %v, want %v", statuses, want)
			}
		}
	})
}
