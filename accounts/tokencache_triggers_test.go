package accounts

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Without migration 0023's triggers (serve --no-migrate on a database not
// yet migrated), nothing announces a change made by another instance, the
// CLI or SQL: the cache stays bypassed, and such a change is seen at once,
// until the triggers exist.
func TestTokenCacheIsBypassedWithoutItsTriggers(t *testing.T) {
	if !slices.Contains(dbtest.Engines(t), storage.Postgres) {
		t.Skip("TEST_DATABASE_URL is not set: the cache works on PostgreSQL only")
	}
	ctx := context.Background()
	db := dbtest.OpenURL(t, dbtest.FreshURL(t, storage.Postgres))
	if _, err := migrations.ApplyBefore(ctx, db, 23); err != nil {
		t.Fatal(err)
	}
	s := newTestService(db)
	s.Tokens, _ = NewTokenCache(time.Minute)
	t.Cleanup(s.Tokens.Start(db.DB, quiet))
	_, plain, tok := newUserToken(t, s)
	// The listener hears its own notification within milliseconds.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !s.Tokens.Listening(); {
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 {
		if _, err := s.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = now() WHERE id = ?", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("a token revoked by SQL on a database without the triggers: %v, want unauthorized at once (listening: %v)",
			err, s.Tokens.Listening())
	}
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !s.Tokens.Listening(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("15 s after the triggers were made, the cache is not in use")
		}
	}
}
