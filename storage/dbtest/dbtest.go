// Package dbtest gives tests a fresh, migrated database of every kind that
// can be reached: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.
// Under CI=true a missing TEST_DATABASE_URL fails the test instead of
// skipping it, so CI cannot pass on SQLite alone.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
)

// Engines returns the engines tests run against.
func Engines(t testing.TB) []storage.Dialect {
	engines := []storage.Dialect{storage.SQLite}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		engines = append(engines, storage.Postgres)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests are mandatory in CI")
	}
	return engines
}

// Each runs fn as a subtest once per engine, each with its own new database.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, engine := range Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			fn(t, Open(t, engine))
		})
	}
}

// Open returns a new migrated database of the given engine, closed and
// removed when the test ends.
func Open(t testing.TB, engine storage.Dialect) *storage.DB {
	t.Helper()
	db := OpenURL(t, FreshURL(t, engine))
	if _, err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// OpenURL opens rawURL, closing it when the test ends.
func OpenURL(t testing.TB, rawURL string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// FreshURL returns the URL of a new, empty database that another process can
// open too: a new SQLite file, or for PostgreSQL a new schema in
// TEST_DATABASE_URL's database (named by search_path in the URL), dropped
// when the test ends. Tests can then run in parallel without seeing each
// other's rows.
func FreshURL(t testing.TB, engine storage.Dialect) string {
	t.Helper()
	if engine == storage.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "devicebank.db")
	}
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Fatal("TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	admin, err := storage.Open(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL (TEST_DATABASE_URL): %v", err)
	}
	schema := "test_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// LongReadTimeout is rawURL with a read timeout of an hour rather than
// pgdriver's 10 s, for a benchmark's seeding, vacuuming and explaining.
func LongReadTimeout(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("read_timeout", "1h")
	u.RawQuery = q.Encode()
	return u.String()
}
