package web_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// signInFrom signs in as if from client address addr, through a trusted
// proxy on loopback that names it in X-Forwarded-For.
func (e *env) signInFrom(addr, email, password string) *response {
	e.t.Helper()
	return e.do("", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": password}, "X-Forwarded-For", addr)
}

// behindProxy is a server on e's services that trusts loopback as its
// reverse proxy, with cfg otherwise.
func (e *env) behindProxy(cfg web.Config) *env {
	e.t.Helper()
	proxies, err := web.ParseTrustedProxies([]string{"127.0.0.0/8"})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.TrustedProxies = proxies
	return e.with(cfg)
}

// newUser creates a staff member with a password and returns their id.
func (e *env) newUser(email, password string, oneTime bool) int64 {
	e.t.Helper()
	u, err := e.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{Email: email, Name: "Nia Okafor",
		Role: accounts.Coordinator, Password: password, MustChangePassword: oneTime})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// Wrong passwords from one address slow down that address only, with a
// wait that grows; they never lock the real user out elsewhere.
func TestWrongPasswordsElsewhereDoNotLockTheAccount(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.newUser("nia@agency.test", testPassword, false)
		// The default limit of the server: 10 a minute per address.
		proxy := e.behindProxy(web.Config{})
		var statuses []int
		for range 9 {
			statuses = append(statuses, proxy.signInFrom("192.0.2.66", "nia@agency.test", "guessing at nia").Status)
		}
		if fmt.Sprint(statuses) != "[401 401 401 401 401 429 429 429 429]" {
			t.Fatalf("nine wrong passwords from one address: %v, want five checked and then slowed down", statuses)
		}
		r := proxy.signInFrom("192.0.2.66", "nia@agency.test", testPassword)
		if r.Status != 429 || r.ErrorCode(t) != "rate_limited" || r.Header.Get("Retry-After") != "1" {
			t.Fatalf("the right password from the guessing address: %d %s (Retry-After %q), want 429 and Retry-After 1",
				r.Status, r.Body, r.Header.Get("Retry-After"))
		}
		// Nia, at her own address, is not held up at all.
		proxy.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword},
			"X-Forwarded-For", "198.51.100.7")

		// The wait grows with each wrong password, and after waiting one
		// may try again: a slowdown, not a lockout.
		quick := e.behindProxy(web.Config{SignInPerMinute: 1000})
		for range 5 {
			quick.signInFrom("203.0.113.5", "nia@agency.test", "guessing again")
		}
		for _, wait := range []int{1, 2, 4, 8} {
			r := quick.signInFrom("203.0.113.5", "nia@agency.test", "guessing again")
			if r.Status != 429 || r.Header.Get("Retry-After") != fmt.Sprint(wait) {
				t.Fatalf("after %d s: %d, Retry-After %q; want 429 and %d", wait, r.Status, r.Header.Get("Retry-After"), wait)
			}
			e.clock.Set(e.clock.Now().Add(time.Duration(wait)*time.Second - time.Millisecond))
			if r := quick.signInFrom("203.0.113.5", "nia@agency.test", "guessing again"); r.Status != 429 {
				t.Fatalf("just before the wait of %d s ends: %d", wait, r.Status)
			}
			e.clock.Set(e.clock.Now().Add(time.Millisecond))
			if r := quick.signInFrom("203.0.113.5", "nia@agency.test", "guessing again"); r.Status != 401 {
				t.Fatalf("once the wait of %d s is over: %d %s, want the password checked (401)", wait, r.Status, r.Body)
			}
		}
		// The right password, once the wait is over, forgets the pair.
		e.clock.Set(e.clock.Now().Add(time.Hour))
		quick.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword},
			"X-Forwarded-For", "203.0.113.5")
		if r := quick.signInFrom("203.0.113.5", "nia@agency.test", "a typo"); r.Status != 401 {
			t.Fatalf("a wrong password after signing in: %d, want 401", r.Status)
		}
	})
}

// An IPv6 client holds a whole /64 (one home or office line, one phone):
// the limits count the /64, not each of its 2^64 addresses, or a guesser
// would take a new address for each try. Another /64 is another client.
func TestSignInLimitsCountAnIPv6Slash64AsOneAddress(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.newUser("nia@agency.test", testPassword, false)
		// The account and address throttle: five wrong passwords, then a wait.
		proxy := e.behindProxy(web.Config{SignInPerMinute: 1000})
		var statuses []int
		for i := range 7 {
			statuses = append(statuses, proxy.signInFrom(fmt.Sprintf("2001:db8:5:7::%x", 0x100+i), "nia@agency.test", "guessing at nia").Status)
		}
		if fmt.Sprint(statuses) != "[401 401 401 401 401 429 429]" {
			t.Fatalf("seven wrong passwords from one /64, each from its own address: %v, want five checked and then slowed down", statuses)
		}
		proxy.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword},
			"X-Forwarded-For", "2001:db8:5:8::1")

		// The per-address limit of failed sign-ins, across accounts.
		limited := e.behindProxy(web.Config{SignInPerMinute: 3})
		statuses = nil
		for i := range 5 {
			statuses = append(statuses, limited.signInFrom(fmt.Sprintf("2001:db8:6:1:%x::1", i), fmt.Sprintf("x%d@agency.test", i), "guessing guessing").Status)
		}
		if fmt.Sprint(statuses) != "[401 401 401 429 429]" {
			t.Fatalf("five failed sign-ins from one /64: %v, want three and then the limit", statuses)
		}
	})
}

// Wrong passwords sent at once are all counted: only five are checked.
func TestConcurrentWrongPasswordsAreCounted(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.newUser("nia@agency.test", testPassword, false)
		proxy := e.behindProxy(web.Config{SignInPerMinute: 1000})
		statuses := make(chan int, 20)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- proxy.signInFrom("192.0.2.9", "nia@agency.test", "many at once").Status
			}()
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[401] != 5 || count[429] != 15 {
			t.Fatalf("20 wrong passwords at once: %v, want 5 checked (401) and 15 slowed down (429)", count)
		}
	})
}

// Argon2id hashes run at most HashLimit at once; beyond that a sign-in
// waits briefly, then is told to come back (503 with Retry-After), for a
// known and an unknown account alike.
func TestSignInHashingIsBounded(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.newUser("nia@agency.test", testPassword, false)
		limit := accounts.NewHashLimit(2, 20*time.Millisecond)
		entered, release := make(chan struct{}, 16), make(chan struct{})
		limit.Holding = func() {
			entered <- struct{}{}
			<-release
		}
		e.svc.Accounts.Hashing = limit
		proxy := e.behindProxy(web.Config{SignInPerMinute: 1000})
		signIn := func(addr, email string, out chan<- *response) {
			go func() { out <- proxy.signInFrom(addr, email, "not the password") }()
		}
		// Two sign-ins take both slots and keep them.
		holders := make(chan *response, 2)
		signIn("192.0.2.1", "nia@agency.test", holders)
		signIn("192.0.2.2", "nobody@agency.test", holders)
		<-entered
		<-entered
		// A flood of others, each from its own address, finds no slot.
		flood := make(chan *response, 10)
		for i := range 10 {
			signIn(fmt.Sprintf("192.0.2.%d", 10+i), []string{"nia@agency.test", "nobody@agency.test"}[i%2], flood)
		}
		for range 10 {
			r := <-flood
			if r.Status != 503 || r.ErrorCode(t) != "unavailable" || r.Header.Get("Retry-After") != "1" {
				t.Errorf("a sign-in with every slot taken: %d %s (Retry-After %q), want 503 unavailable, Retry-After 1",
					r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
		close(release)
		for range 2 {
			if r := <-holders; r.Status != 401 {
				t.Errorf("a sign-in that held a slot: %d %s, want 401", r.Status, r.Body)
			}
		}
		if limit.Peak() != 2 {
			t.Fatalf("%d hashes ran at once, want the limit, 2", limit.Peak())
		}
		// A password never checked does not count as a wrong one: the
		// address whose try was refused still has its five.
		var statuses []int
		for range 6 {
			statuses = append(statuses, proxy.signInFrom("192.0.2.10", "nia@agency.test", "not the password").Status)
		}
		if fmt.Sprint(statuses) != "[401 401 401 401 401 429]" {
			t.Fatalf("wrong passwords after a 503: %v, want five checked", statuses)
		}
		// The limit holds under a flood of real hashes too.
		e.svc.Accounts.Hashing = accounts.NewHashLimit(2, time.Minute)
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := proxy.signInFrom(fmt.Sprintf("198.51.100.%d", i+1), "nia@agency.test", testPassword); r.Status != 201 {
					t.Errorf("sign-in %d: %d %s", i, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if peak := e.svc.Accounts.Hashing.Peak(); peak < 1 || peak > 2 {
			t.Fatalf("%d hashes ran at once, want at most 2", peak)
		}
	})
}

// A token made with a token (POST /tokens) ends when the token that made it
// does: the lifetime bounds how long one password sign-in lasts, and a
// token must not renew itself into a session that never asks for the
// password again.
func TestTokensMadeWithATokenEndWithIt(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.svc.Accounts.TokenLifetime = accounts.DefaultTokenLifetime
		e.svc.Accounts.TokenIdleTimeout = accounts.DefaultTokenIdleTimeout
		e.newUser("nia@agency.test", testPassword, false)
		first := e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword}).JSON(t)
		start := e.clock.Now()
		// Kept in use, it makes a new token each day before its end.
		token, ends := first["token"].(string), first["expires_at"].(string)
		for day := 1; day <= 29; day++ {
			e.clock.Set(start.Add(time.Duration(day) * 24 * time.Hour))
			made := e.must(201, token, "POST", "/api/v1/tokens", map[string]any{"name": "renewed"}).JSON(t)
			if made["expires_at"] != ends {
				t.Fatalf("day %d: a token made with a token ends %v, want %s as the sign-in's", day, made["expires_at"], ends)
			}
			token = made["token"].(string)
		}
		e.clock.Set(start.Add(accounts.DefaultTokenLifetime))
		if r := e.do(token, "GET", "/api/v1/me", nil); r.Status != 401 {
			t.Fatalf("a token made with tokens after the sign-in's lifetime: %d %s, want 401", r.Status, r.Body)
		}
	})
}

// A token ends at the end of its lifetime, or once idle for longer than
// the idle timeout (to within the minute to which use is recorded), and
// the answer says it expired.
func TestTokensExpire(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.svc.Accounts.TokenLifetime = accounts.DefaultTokenLifetime
		e.svc.Accounts.TokenIdleTimeout = accounts.DefaultTokenIdleTimeout
		e.newUser("nia@agency.test", testPassword, false)
		signIn := func() string {
			return e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword}).JSON(t)["token"].(string)
		}
		expired := func(token, what, why string) {
			t.Helper()
			r := e.do(token, "GET", "/api/v1/me", nil)
			msg, _ := r.JSON(t)["error"].(map[string]any)["message"].(string)
			if r.Status != 401 || r.ErrorCode(t) != "unauthorized" || !strings.Contains(msg, "expired") || !strings.Contains(msg, why) {
				t.Fatalf("%s: %d %s, want 401 saying the token expired (%s)", what, r.Status, r.Body, why)
			}
		}
		start := e.clock.Now()
		at := func(d time.Duration) { e.clock.Set(start.Add(d)) }

		// Idle: a token never used idles from when it was made.
		idle := signIn()
		at(72*time.Hour + time.Minute)
		e.must(200, idle, "GET", "/api/v1/me", nil)
		// Used 30 s later (not recorded: within the minute), then idle
		// for exactly the timeout: still good, since use is to the minute.
		at(72*time.Hour + time.Minute + 30*time.Second)
		e.must(200, idle, "GET", "/api/v1/me", nil)
		at(2*72*time.Hour + time.Minute + 30*time.Second)
		e.must(200, idle, "GET", "/api/v1/me", nil)
		// Recorded then; idle a second over the timeout and its minute.
		at(3*72*time.Hour + 2*time.Minute + 31*time.Second)
		expired(idle, "a token idle for 72h1m1s", "not used for 72h")

		// Lifetime: used every day, it still ends 30 days after it was made.
		at(0)
		daily := signIn()
		list := e.must(200, daily, "GET", "/api/v1/tokens", nil).JSON(t)["items"].([]any)
		if got := list[0].(map[string]any)["expires_at"]; got != start.Add(30*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("GET /tokens: expires_at %v, want 30 days after sign-in", got)
		}
		for day := 1; day < 30; day++ {
			at(time.Duration(day) * 24 * time.Hour)
			e.must(200, daily, "GET", "/api/v1/me", nil)
		}
		at(30*24*time.Hour - time.Second)
		e.must(200, daily, "GET", "/api/v1/me", nil)
		at(30 * 24 * time.Hour)
		expired(daily, "a token 30 days old", "lifetime")
		// Signing in again gives a token that works.
		e.must(200, signIn(), "GET", "/api/v1/me", nil)
	})
}

// Changing a password, by sign-in or on its own route, ends every other
// token of the user; the one that made the change goes on.
func TestPasswordChangeRevokesOtherTokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := e.newUser("nia@agency.test", testPassword, false)
		tokens := func(n int) []string {
			var out []string
			for range n {
				plain, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, id, "laptop")
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, plain)
			}
			return out
		}
		revoked := func(what string, ts ...string) {
			t.Helper()
			for _, tok := range ts {
				if r := e.do(tok, "GET", "/api/v1/me", nil); r.Status != 401 {
					t.Fatalf("%s: another token still answers %d", what, r.Status)
				}
			}
		}

		// On its own route, with the current password.
		old := tokens(3)
		change := func(current, next string) *response {
			return e.do(old[0], "POST", "/api/v1/me/password", map[string]any{"current_password": current, "new_password": next})
		}
		if r := change("not my password", "a brand new passphrase"); r.Status != 422 || r.ErrorFields(t)["current_password"] == nil {
			t.Fatalf("a wrong current password: %d %s", r.Status, r.Body)
		}
		if r := change(testPassword, "password1234"); r.Status != 422 || r.ErrorFields(t)["new_password"] == nil {
			t.Fatalf("a common new password: %d %s", r.Status, r.Body)
		}
		if r := change("", "password1234"); r.Status != 422 || r.ErrorFields(t)["current_password"] == nil || r.ErrorFields(t)["new_password"] == nil {
			t.Fatalf("no current password and a common new one: %d %s, want both fields", r.Status, r.Body)
		}
		e.must(200, old[1], "GET", "/api/v1/me", nil) // refused changes revoke nothing
		if r := change(testPassword, "a brand new passphrase"); r.Status != 204 {
			t.Fatalf("a password change: %d %s", r.Status, r.Body)
		}
		e.must(200, old[0], "GET", "/api/v1/me", nil)
		revoked("after a change on /me/password", old[1:]...)
		e.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword})

		// By sign-in with new_password: only the new token works.
		old = append(tokens(2), old[0])
		fresh := e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test",
			"password": "a brand new passphrase", "new_password": "yet another fine passphrase"}).JSON(t)["token"].(string)
		e.must(200, fresh, "GET", "/api/v1/me", nil)
		revoked("after a change at sign-in", old...)

		// Each change is audited, without the password.
		var changes []string
		if err := e.db.NewSelect().Table("audit_events").Column("changes").Where("subject_type = 'user' AND subject_id = ? AND action = 'user.password_changed'", id).
			Scan(context.Background(), &changes); err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || strings.Contains(fmt.Sprint(changes), "passphrase") {
			t.Fatalf("password change events: %v", changes)
		}
	})
}

// An admin resets a password: the new one-time password is shown once,
// every token of the user ends, and they must choose their own at their
// next sign-in. The answer is never stored, not even for an Idempotency-Key,
// and a resend with the key is refused rather than resetting twice.
func TestAdminResetsAPassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		id := e.newUser("nia@agency.test", testPassword, false)
		before, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, id, "phone")
		if err != nil {
			t.Fatal(err)
		}
		reset := path("/api/v1/users/%d/password-reset", id)
		if r := e.do(co, "POST", reset, nil); r.Status != 403 {
			t.Fatalf("a coordinator resets a password: %d", r.Status)
		}
		e.must(404, admin, "POST", "/api/v1/users/999999/password-reset", nil)
		e.must(422, admin, "POST", reset, map[string]any{"password": "my choice of password"})
		e.must(200, before, "GET", "/api/v1/me", nil) // refused resets change nothing

		r := e.must(200, admin, "POST", reset, nil, "Idempotency-Key", "reset-nia")
		first, _ := r.JSON(t)["one_time_password"].(string)
		if len(first) < accounts.MinPasswordLength || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reset: %s, Cache-Control %q", r.Body, r.Header.Get("Cache-Control"))
		}
		e.must(401, before, "GET", "/api/v1/me", nil)
		if u := e.must(200, admin, "GET", path("/api/v1/users/%d", id), nil).JSON(t); u["must_change_password"] != true {
			t.Fatalf("after a reset: %v", u)
		}
		// Resent with the same key, it is neither replayed (the password
		// is nowhere stored in the clear) nor carried out again: a 409 says
		// so, and the first password still stands. A new key resets again.
		refused := e.do(admin, "POST", reset, nil, "Idempotency-Key", "reset-nia")
		expectError(t, refused, 409, "conflict")
		if strings.Contains(string(refused.Body), first) {
			t.Fatalf("a resent reset shows the password: %s", refused.Body)
		}
		again := e.must(200, admin, "POST", reset, nil, "Idempotency-Key", "reset-nia-again")
		second, _ := again.JSON(t)["one_time_password"].(string)
		if again.Header.Get("Idempotent-Replayed") != "" || second == first || second == "" {
			t.Fatalf("a second reset: %s (replayed %q)", again.Body, again.Header.Get("Idempotent-Replayed"))
		}
		for _, table := range []string{"idempotency_keys", "audit_events"} {
			var rows []map[string]any
			if err := e.db.NewSelect().Table(table).Scan(context.Background(), &rows); err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(rows); strings.Contains(s, first) || strings.Contains(s, second) {
				t.Fatalf("%s holds the one-time password: %s", table, s)
			}
		}
		// The old password is gone; the one-time one works only with a new one.
		e.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": testPassword})
		e.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": first})
		if r := e.do("", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": second}); r.Status != 422 || r.ErrorFields(t)["new_password"] == nil {
			t.Fatalf("a one-time password alone: %d %s", r.Status, r.Body)
		}
		if r := e.do("", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": second, "new_password": second}); r.Status != 422 || r.ErrorFields(t)["new_password"] == nil {
			t.Fatalf("keeping the one-time password: %d %s", r.Status, r.Body)
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "nia@agency.test", "password": second, "new_password": "nia's own passphrase"})
	})
}

// Passwords are counted in characters, after Unicode normalisation, and
// common or guessable ones are refused, wherever a password is set.
func TestPasswordRules(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		refused := map[string]string{
			"aaaaaaaaaaaa":             "one character repeated",
			"            ":             "only spaces",
			"😀😀😀":                      "at least 12 characters",
			"short":                    "at least 12 characters",
			"password1234":             "too common",
			"qwertyuiop123":            "too common",
			"Password123!":             "too common",
			"nia.okafor@agency.test":   "too common", // her own email
			"nia okafor 1990":          "too common", // her own name
			"tab\tin the middle":       "control characters",
			strings.Repeat("ab1é", 65): "at most 256 characters",
		}
		for pw, why := range refused {
			r := e.do(admin, "POST", "/api/v1/users", map[string]any{"email": "nia.okafor@agency.test", "name": "Nia Okafor",
				"role": "coordinator", "password": pw})
			if msg, _ := r.ErrorFields(t)["password"].(string); r.Status != 422 || !strings.Contains(msg, why) {
				t.Errorf("password %q: %d %s, want 422 saying %q", pw, r.Status, r.Body, why)
			}
			if strings.Contains(pw, "okafor") {
				continue // hers, not the coordinator's
			}
			r = e.do(co, "POST", "/api/v1/me/password", map[string]any{"current_password": testPassword, "new_password": pw})
			if msg, _ := r.ErrorFields(t)["new_password"].(string); r.Status != 422 || !strings.Contains(msg, why) {
				t.Errorf("new password %q: %d %s, want 422 saying %q", pw, r.Status, r.Body, why)
			}
		}
		if n := e.must(200, admin, "GET", "/api/v1/users", nil).JSON(t)["total"]; n != float64(2) {
			t.Fatalf("refused passwords made users: %v", n)
		}
		// Twelve characters of any script are enough, emoji included, and
		// 256 is the most.
		for i, pw := range []string{"🌵🦎🌄🐍🏜️🌙⭐🔥🎸🚲👩‍💻", "ωμέγα κάκτος ", strings.Repeat("ab1é", 64)} {
			e.must(201, admin, "POST", "/api/v1/users", map[string]any{"email": path("ok%d@agency.test", i), "name": "Ok",
				"role": "funder", "password": pw})
		}
		// The same password typed with a combining accent or a precomposed
		// letter is the same password.
		e.must(201, admin, "POST", "/api/v1/users", map[string]any{"email": "rene@agency.test", "name": "René",
			"role": "funder", "password": "cafe\u0301 au lait le matin"})
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "rene@agency.test", "password": "caf\u00e9 au lait le matin"})
	})
}

// An email or a password longer than any account can have is refused
// before the account is looked up or a hash is spent on it.
func TestOverlongSignInSpendsNoHash(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.newUser("long@agency.test", testPassword, false)
		var hashes atomic.Int64
		e.svc.Accounts.Hashing.Holding = func() { hashes.Add(1) }
		for _, in := range []map[string]any{
			{"email": strings.Repeat("a", 300) + "@agency.test", "password": testPassword},
			{"email": "long@agency.test", "password": strings.Repeat("ж", 600)},
		} {
			expectError(t, e.do("", "POST", "/api/v1/auth/token", in), 401, "unauthorized")
		}
		if n := hashes.Load(); n != 0 {
			t.Fatalf("%d hashes spent on overlong sign-ins, want 0", n)
		}
		e.must(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "long@agency.test", "password": testPassword})
		if n := hashes.Load(); n != 1 {
			t.Fatalf("%d hashes for a real sign-in, want 1", n)
		}
	})
}
