package idempotency_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(db *storage.DB) (*idempotency.Store, *clock) {
	clk := &clock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
	return &idempotency.Store{DB: db, Now: clk.Now}, clk
}

var create = idempotency.Request{UserID: 1, Key: "k-1", Method: "POST", Path: "/api/v1/devices", Body: []byte(`{"kind":"phone"}`)}

// act is the request's change, made in a transaction fenced by claim: one
// step of the asset-tag counter.
func act(db *storage.DB, claim *idempotency.Claim) error {
	ctx := storage.WithFence(context.Background(), claim.Fence)
	return storage.InTx(ctx, db, func(tx bun.Tx) error {
		_, err := tx.NewRaw("UPDATE counters SET value = value + 1 WHERE name = 'asset_tag'").Exec(ctx)
		return err
	})
}

func counter(t *testing.T, db *storage.DB) int64 {
	t.Helper()
	var n int64
	if err := db.NewRaw("SELECT value FROM counters WHERE name = 'asset_tag'").Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func begin(t *testing.T, s *idempotency.Store, r idempotency.Request) (*idempotency.Claim, *idempotency.Outcome) {
	t.Helper()
	claim, out, err := s.Begin(context.Background(), r)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	return claim, out
}

// A request whose claim lapsed while it was still running, and was taken
// over by a resend, cannot commit: its transaction is rolled back with a
// conflict, and only the resend's change is made.
func TestTakenOverClaimCannotCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		s, clk := newStore(db)
		first, _ := begin(t, s, create)
		clk.Add(idempotency.Lease + time.Second)
		second, out := begin(t, s, create)
		if second == nil || out != nil {
			t.Fatalf("a resend after the lease of a claim that applied nothing: claim %v, outcome %v; want the claim", second, out)
		}
		if err := act(db, first); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("the first request's transaction after the takeover: %v, want a conflict", err)
		}
		if n := counter(t, db); n != 0 {
			t.Fatalf("the first request's change was committed (counter %d)", n)
		}
		if err := act(db, second); err != nil {
			t.Fatal(err)
		}
		// The first request's answer is not stored over the resend's.
		ctx := context.Background()
		if err := s.Finish(ctx, first, idempotency.Outcome{StatusCode: 409, ErrorBody: []byte(`{"error":{}}`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, second, idempotency.Outcome{StatusCode: 201, Location: "/api/v1/devices/7"}); err != nil {
			t.Fatal(err)
		}
		if _, out := begin(t, s, create); out == nil || out.StatusCode != 201 || out.Location != "/api/v1/devices/7" {
			t.Fatalf("a later resend is told %+v, want the resend's 201", out)
		}
		if n := counter(t, db); n != 1 {
			t.Fatalf("counter %d, want 1", n)
		}
	})
}

// Once a transaction of the request committed, its claim is never taken
// over, even when its outcome was never stored: a resend is told it was
// carried out (an outcome with no status), and nothing runs again.
func TestAppliedClaimIsNeverTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		s, clk := newStore(db)
		first, _ := begin(t, s, create)
		if err := act(db, first); err != nil {
			t.Fatal(err)
		}
		// A second transaction of the same request finds its claim
		// already applied, and commits.
		if err := act(db, first); err != nil {
			t.Fatalf("the request's second transaction: %v", err)
		}
		if _, _, err := s.Begin(context.Background(), create); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("a resend within the lease: %v, want a conflict (still in progress)", err)
		}
		clk.Add(idempotency.Lease + time.Second)
		claim, out := begin(t, s, create)
		if claim != nil || out == nil || out.StatusCode != 0 {
			t.Fatalf("a resend after the lease of an applied claim: claim %v, outcome %+v; want the outcome 'carried out'", claim, out)
		}
		if n := counter(t, db); n != 2 {
			t.Fatalf("counter %d, want 2 (the request's own two transactions)", n)
		}
	})
}

// A takeover and the first request's transaction racing each other:
// whatever the order, exactly one of them changes anything. On PostgreSQL
// the takeover's conditional update waits for the row lock the fence took
// at the start of the first request's transaction, then finds the claim
// applied; a fence that comes after the takeover finds another token. On
// SQLite the write lock orders them.
func TestTakeoverRacingACommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		for i := 0; i < 20; i++ {
			s, clk := newStore(db)
			r := create
			r.Key = "race-" + time.Duration(i).String()
			first, _ := begin(t, s, r)
			clk.Add(idempotency.Lease + time.Second)
			before := counter(t, db)

			var wg sync.WaitGroup
			var firstErr, secondErr error
			var second *idempotency.Claim
			wg.Add(2)
			go func() { defer wg.Done(); firstErr = act(db, first) }()
			go func() {
				defer wg.Done()
				var err error
				if second, _, err = s.Begin(context.Background(), r); err != nil {
					if !apperr.Is(err, apperr.Conflict) {
						secondErr = err
					}
					return
				}
				if second != nil {
					secondErr = act(db, second)
				}
			}()
			wg.Wait()
			if secondErr != nil {
				t.Fatalf("round %d: the resend: %v", i, secondErr)
			}
			committed := 0
			if firstErr == nil {
				committed++
			} else if !apperr.Is(firstErr, apperr.Conflict) {
				t.Fatalf("round %d: the first request: %v", i, firstErr)
			}
			if second != nil {
				committed++
			}
			if got := counter(t, db) - before; committed != 1 || got != 1 {
				t.Fatalf("round %d: %d requests committed, the counter moved %d; want exactly one (first: %v, resend claimed: %v)",
					i, committed, got, firstErr, second != nil)
			}
		}
	})
}

// A server error releases the key when nothing was committed, so that the
// request can be retried; after a commit it does not, and a resend is told
// the request was carried out.
func TestServerErrorReleasesOnlyAnUnappliedKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		s, _ := newStore(db)
		ctx := context.Background()
		claim, _ := begin(t, s, create)
		if err := s.Finish(ctx, claim, idempotency.Outcome{StatusCode: 500}); err != nil {
			t.Fatal(err)
		}
		claim, out := begin(t, s, create)
		if claim == nil || out != nil {
			t.Fatalf("a retry after a server error that changed nothing: claim %v, outcome %+v; want a new claim", claim, out)
		}
		if err := act(db, claim); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, claim, idempotency.Outcome{StatusCode: 500}); err != nil {
			t.Fatal(err)
		}
		if claim, out := begin(t, s, create); claim != nil || out == nil || out.StatusCode != 500 {
			t.Fatalf("a retry after a server error that followed a commit: claim %v, outcome %+v; want the recorded 500", claim, out)
		}
	})
}

// The upgrade clears the answers stored before: API tokens and client
// records in response bodies. Error answers stay; keys that succeeded, or
// were in progress when the server stopped, count as applied.
func TestUpgradeClearsStoredAnswers(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			// The schema as it was before the fence.
			if _, err := migrations.ApplyBefore(ctx, db, 9); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
			for _, row := range []struct {
				key    string
				status int
				body   string
			}{
				{"token", 201, `{"token":"dbk_secret","id":3,"name":"laptop"}`},
				{"client", 201, `{"id":5,"first_name":"Rosa","last_name":"Diaz"}`},
				{"refused", 422, `{"error":{"code":"invalid","message":"bad"}}`},
				{"running", 0, ""},
			} {
				if _, err := db.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, key, method, path, request_hash, status_code, response_body, location, created_at)
					VALUES (1, ?, 'POST', '/x', 'h', ?, ?, '', ?)`, row.key, row.status, row.body, now); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				Key       string `bun:"key"`
				ErrorBody string `bun:"error_body"`
				Applied   bool   `bun:"applied"`
			}
			if err := db.NewSelect().Table("idempotency_keys").Column("key", "error_body", "applied").OrderExpr("id").Scan(ctx, &rows); err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				body    string
				applied bool
			}{
				"token":   {"", true},
				"client":  {"", true},
				"refused": {`{"error":{"code":"invalid","message":"bad"}}`, false},
				"running": {"", true},
			}
			for _, r := range rows {
				if w := want[r.Key]; r.ErrorBody != w.body || r.Applied != w.applied {
					t.Errorf("key %s after the upgrade: body %q applied %v; want %q, %v", r.Key, r.ErrorBody, r.Applied, w.body, w.applied)
				}
			}
			if len(rows) != len(want) {
				t.Errorf("%d keys after the upgrade, want %d", len(rows), len(want))
			}
		})
	}
}
