package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The token cache is kept on PostgreSQL only: on SQLite every lookup reads
// the database, so that a token revoked by another process (a CLI command,
// an operator's SQL) stops working at once.
func TestTokenCacheOnPostgreSQLOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db), TokenCacheTTL: 10 * time.Second})
		if (svc.Accounts.Tokens != nil) != (db.Engine == storage.Postgres) {
			t.Fatalf("on %s: token cache %v", db.Engine, svc.Accounts.Tokens)
		}
		if off := app.New(db, app.Options{Keys: dbtest.Keys(t, db)}); off.Accounts.Tokens != nil {
			t.Fatal("a token cache without a TTL")
		}
		if db.Engine != storage.SQLite {
			return
		}
		svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
		u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "cora@agency.test", Name: "Cora",
			Role: accounts.Coordinator, Password: "a long enough passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		plain, tok, err := svc.Accounts.CreateToken(ctx, nil, u.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := svc.Accounts.Authenticate(ctx, plain); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", time.Now(), tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Accounts.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("a token revoked by SQL on SQLite: %v, want unauthorized at once", err)
		}
	})
}
