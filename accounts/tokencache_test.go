package accounts

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTestService is a Service on db with cheap password hashing.
func newTestService(db *storage.DB) *Service {
	s := NewService(db)
	s.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	return s
}

// newUserToken makes a coordinator and a token of theirs through s.
func newUserToken(t *testing.T, s *Service) (*User, string, *Token) {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, nil, NewUser{Email: fmt.Sprintf("u%d@agency.test", time.Now().UnixNano()), Name: "Cora",
		Role: Coordinator, Password: "a long enough passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	plain, tok, err := s.CreateToken(ctx, nil, u.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return u, plain, tok
}

// inUse returns a cache keeping lookups for ttl that is in use without a
// listener, for the tests of the cache itself (the listener's tests are
// on PostgreSQL).
func inUse(t *testing.T, ttl time.Duration) *TokenCache {
	t.Helper()
	c, err := NewTokenCache(ttl)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	c.reset(&on)
	return c
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 s: %s", what)
		}
	}
}

// authenticatedFromCache authenticates plain on s until a call is answered
// from the cache, and returns that call's actor. It retries because
// another test's notification on the same database (tests share it, in
// schemas of their own) may empty the cache between two calls.
func authenticatedFromCache(t *testing.T, s *Service, plain string) *Actor {
	t.Helper()
	var actor *Actor
	eventually(t, "no call answered from the cache", func() bool {
		hits := s.Tokens.Hits()
		var err error
		if actor, err = s.Authenticate(context.Background(), plain); err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		return s.Tokens.Hits() == hits+1
	})
	return actor
}

func TestTokenCacheTTLIsChecked(t *testing.T) {
	for _, ttl := range []time.Duration{0, -time.Second, MaxTokenCacheTTL + time.Nanosecond} {
		if _, err := NewTokenCache(ttl); err == nil {
			t.Errorf("NewTokenCache(%s) accepted", ttl)
		}
	}
}

// A cache starts bypassed; once in use, it answers for a token until the
// TTL passes, and holds at most tokenCacheSize entries.
func TestTokenCacheIsBoundedAndExpires(t *testing.T) {
	c, err := NewTokenCache(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, gen, _ := c.lookup("h")
	c.store("h", authRow{TokenID: 1}, gen)
	if _, _, ok := c.lookup("h"); ok {
		t.Fatal("a cache whose listener is not listening kept a lookup")
	}
	on := true
	c.reset(&on)
	for i := range tokenCacheSize + 10 {
		_, gen, _ := c.lookup("h")
		c.store(fmt.Sprint(i), authRow{TokenID: int64(i)}, gen)
	}
	if n := len(c.entries); n != tokenCacheSize {
		t.Fatalf("%d entries, want %d", n, tokenCacheSize)
	}
	_, gen, _ = c.lookup("h")
	c.store("h", authRow{TokenID: 1}, gen)
	if row, _, ok := c.lookup("h"); !ok || row.TokenID != 1 {
		t.Fatalf("lookup just stored: %v %+v", ok, row)
	}
	time.Sleep(60 * time.Millisecond)
	if _, _, ok := c.lookup("h"); ok {
		t.Fatal("a lookup older than the TTL was used")
	}
}

// A lookup that read the token before a change, and stores its row after
// the change's notification was handled, does not store it.
func TestTokenCacheDropsAStoreAfterAnInvalidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newTestService(db)
		s.Tokens = inUse(t, time.Minute)
		_, plain, tok := newUserToken(t, s)
		s.Tokens.beforeStore = func() {
			s.Tokens.beforeStore = nil
			if _, err := db.NewUpdate().Model((*Token)(nil)).Set("revoked_at = ?", time.Now()).Where("id = ?", tok.ID).Exec(ctx); err != nil {
				t.Error(err)
			}
			s.Tokens.Invalidate() // as the notification would
		}
		if _, err := s.Authenticate(ctx, plain); err != nil {
			t.Fatalf("the lookup that read the token before its revocation: %v", err)
		}
		if _, err := s.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("after the revocation: %v, want unauthorized", err)
		}
		if s.Tokens.Hits() != 0 {
			t.Fatalf("%d hits, want none", s.Tokens.Hits())
		}
	})
}

// A token answered from the cache still ends at its expires_at, by the
// Service's clock; and a use due to be recorded reads the database.
func TestTokenCacheKeepsTheLifetime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
		now := t0
		s := newTestService(db)
		s.Now = func() time.Time { return now }
		s.TokenLifetime = 30 * time.Second
		s.Tokens = inUse(t, time.Minute)
		_, plain, _ := newUserToken(t, s)
		for _, at := range []time.Duration{0, 10 * time.Second, 29 * time.Second} {
			now = t0.Add(at)
			if _, err := s.Authenticate(ctx, plain); err != nil {
				t.Fatalf("at %s: %v", at, err)
			}
		}
		if s.Tokens.Hits() != 2 || s.Tokens.Misses() != 1 {
			t.Fatalf("%d hits, %d misses; want 2 and 1", s.Tokens.Hits(), s.Tokens.Misses())
		}
		now = t0.Add(30 * time.Second)
		_, err := s.Authenticate(ctx, plain)
		if !apperr.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), "end of its lifetime") {
			t.Fatalf("at expires_at: %v, want the lifetime's end", err)
		}
		if s.Tokens.Hits() != 3 {
			t.Fatalf("the refusal at expires_at did not come from the cache (%d hits)", s.Tokens.Hits())
		}

		// A minute after the last recorded use, the use is recorded again.
		s.TokenLifetime = time.Hour
		_, plain, tok := newUserToken(t, s)
		for _, at := range []time.Duration{0, 30 * time.Second, 61 * time.Second} {
			now = t0.Add(at)
			if _, err := s.Authenticate(ctx, plain); err != nil {
				t.Fatalf("at %s: %v", at, err)
			}
		}
		var last time.Time
		if err := db.NewSelect().Model((*Token)(nil)).Column("last_used_at").Where("id = ?", tok.ID).Scan(ctx, &last); err != nil {
			t.Fatal(err)
		}
		if !last.Equal(t0.Add(61 * time.Second)) {
			t.Fatalf("last_used_at %s, want %s", last, t0.Add(61*time.Second))
		}
	})
}

// Many goroutines authenticate while the cache is emptied again and again;
// once a token is revoked (and the cache emptied), none of them is let in
// with it.
func TestTokenCacheUnderConcurrentUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newTestService(db)
		s.Tokens = inUse(t, time.Minute)
		var plains []string
		var tokens []*Token
		for range 3 {
			_, plain, tok := newUserToken(t, s)
			plains, tokens = append(plains, plain), append(tokens, tok)
		}
		run := func(want func(i int, err error) error) {
			var wg sync.WaitGroup
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						return
					default:
						s.Tokens.Invalidate()
						time.Sleep(time.Millisecond)
					}
				}
			}()
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := range 50 {
						i := (g + n) % len(plains)
						_, err := s.Authenticate(ctx, plains[i])
						if err := want(i, err); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
		}
		run(func(i int, err error) error { return err })
		admin := &Actor{Role: Admin}
		if err := s.RevokeToken(ctx, admin, tokens[0].ID); err != nil {
			t.Fatal(err)
		}
		run(func(i int, err error) error {
			if i == 0 && !apperr.Is(err, apperr.Unauthorized) {
				return fmt.Errorf("the revoked token: %v, want unauthorized", err)
			}
			if i != 0 && err != nil {
				return err
			}
			return nil
		})
		if s.Tokens.Hits() == 0 {
			t.Fatal("no call was answered from the cache")
		}
	})
}

// twoInstances returns two Services on one new PostgreSQL database, as two
// instances of the server would be: the first with a cache whose listener
// runs until the test ends (and which relisten, if set, holds up before
// each new attempt to listen), the second without.
func twoInstances(t *testing.T, relisten func()) (first, second *Service, db2 *storage.DB) {
	t.Helper()
	if !slices.Contains(dbtest.Engines(t), storage.Postgres) {
		t.Skip("TEST_DATABASE_URL is not set: the cache works on PostgreSQL only")
	}
	url := dbtest.FreshURL(t, storage.Postgres)
	db1 := dbtest.OpenURL(t, url)
	if _, err := migrations.Apply(context.Background(), db1); err != nil {
		t.Fatal(err)
	}
	db2 = dbtest.OpenURL(t, url)
	first, second = newTestService(db1), newTestService(db2)
	first.Tokens, _ = NewTokenCache(time.Minute)
	first.Tokens.relisten = relisten
	stop := first.Tokens.Start(db1.DB, quiet)
	t.Cleanup(stop)
	eventually(t, "the listener is not listening", first.Tokens.Listening)
	return first, second, db2
}

// A change made by another instance, or by an operator's SQL, reaches the
// first instance's cache at once: the token, or the user's new details,
// are looked up again.
func TestTokenCacheHearsOtherInstances(t *testing.T) {
	first, second, db2 := twoInstances(t, nil)
	ctx := context.Background()
	admin := &Actor{Role: Admin}
	refused := func(plain string) func() bool {
		return func() bool {
			_, err := first.Authenticate(ctx, plain)
			return apperr.Is(err, apperr.Unauthorized)
		}
	}
	sql := func(q string, args ...any) {
		t.Helper()
		if _, err := db2.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("token revoked", func(t *testing.T) {
		_, plain, tok := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		if err := second.RevokeToken(ctx, admin, tok.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the token revoked by the second instance still works on the first", refused(plain))
	})
	t.Run("user deactivated", func(t *testing.T) {
		u, plain, _ := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		off := false
		if _, err := second.UpdateUser(ctx, admin, u.ID, UserPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the user deactivated by the second instance still gets in on the first", refused(plain))
	})
	t.Run("user renamed", func(t *testing.T) {
		u, plain, _ := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		name := "Cora Lind"
		if _, err := second.UpdateUser(ctx, admin, u.ID, UserPatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the first instance still names the user as before", func() bool {
			a, err := first.Authenticate(ctx, plain)
			return err == nil && a.Name == name
		})
	})
	// UpdateUser revokes the tokens of a user whose role changes; an
	// operator's SQL does not, and the new role must be seen at once.
	t.Run("role changed by SQL", func(t *testing.T) {
		u, plain, _ := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		sql("UPDATE users SET role = 'social_worker' WHERE id = ?", u.ID)
		eventually(t, "the first instance still gives the user their old role", func() bool {
			a, err := first.Authenticate(ctx, plain)
			return err == nil && a.Role == SocialWorker
		})
	})
	t.Run("token revoked by SQL", func(t *testing.T) {
		_, plain, tok := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		sql("UPDATE api_tokens SET revoked_at = now() WHERE id = ?", tok.ID)
		eventually(t, "the token revoked by SQL still works", refused(plain))
	})
	t.Run("token deleted by SQL", func(t *testing.T) {
		_, plain, tok := newUserToken(t, second)
		authenticatedFromCache(t, first, plain)
		sql("DELETE FROM api_tokens WHERE id = ?", tok.ID)
		eventually(t, "the token deleted by SQL still works", refused(plain))
	})
}

// While the listener's connection is lost the cache is emptied and
// bypassed: a change made meanwhile, unheard, is seen at once. Once the
// listener listens again the cache is used again.
func TestTokenCacheIsBypassedWhileTheListenerIsDown(t *testing.T) {
	down, release := make(chan struct{}, 1), make(chan struct{})
	first, _, db2 := twoInstances(t, func() {
		select {
		case down <- struct{}{}:
		default:
		}
		<-release
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the listener is stopped
	ctx := context.Background()
	_, plain, tok := newUserToken(t, first)
	authenticatedFromCache(t, first, plain)

	var killed int
	err := db2.NewRaw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = ?",
		`LISTEN "`+first.Tokens.probe+`"`).Scan(ctx, &killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminate the listener's connection: %d terminated, %v", killed, err)
	}
	select {
	case <-down:
	case <-time.After(5 * time.Second):
		t.Fatal("the listener did not notice its connection was terminated")
	}
	if first.Tokens.Listening() {
		t.Fatal("the cache is in use while its listener is down")
	}
	if _, err := db2.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = now() WHERE id = ?", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("a token revoked while the listener was down: %v, want unauthorized at once", err)
	}

	free()
	eventually(t, "the listener does not listen again", first.Tokens.Listening)
	if _, err := first.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("the revoked token after the listener came back: %v", err)
	}
	_, plain, _ = newUserToken(t, first)
	authenticatedFromCache(t, first, plain)
}
