// Package dbtest gives tests a fresh, migrated database of every kind that
// can be reached: SQLite always, PostgreSQL when TEST_DATABASE_URL is set.
// Under CI=true a missing or unreachable PostgreSQL fails the test instead of
// skipping it, so CI cannot pass on SQLite alone.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Open returns a new migrated database of the given engine, removed when the
// test ends. For PostgreSQL it is a fresh schema in TEST_DATABASE_URL's
// database, so tests can run in parallel without seeing each other's rows.
func Open(t testing.TB, engine storage.Dialect) *storage.DB {
	t.Helper()
	ctx := context.Background()
	var (
		db  *storage.DB
		err error
	)
	switch engine {
	case storage.SQLite:
		db, err = storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatalf("open SQLite: %v", err)
		}
	case storage.Postgres:
		url := URL(t, engine)
		schema := "test_" + randomHex(8)
		admin, err := storage.Open(ctx, url)
		if err != nil {
			t.Fatalf("connect to PostgreSQL (TEST_DATABASE_URL): %v", err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			admin.Close()
		})
		db, err = storage.Open(ctx, url, storage.WithPostgresParams(map[string]any{"search_path": schema}))
		if err != nil {
			t.Fatalf("connect to PostgreSQL schema: %v", err)
		}
	default:
		t.Fatalf("unknown engine %q", engine)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// URL returns a database URL for engine that a separate process can use: a
// new SQLite file, or TEST_DATABASE_URL (shared; callers clean up by schema).
func URL(t testing.TB, engine storage.Dialect) string {
	if engine == storage.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "devicebank.db")
	}
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Fatal("TEST_DATABASE_URL is not set")
	}
	return url
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
