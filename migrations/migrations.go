// Package migrations holds the database schema as embedded SQL files, one
// folder per dialect, and applies the ones a database has not seen yet.
//
// Files are named NNNN_description.sql and applied in order, all pending ones
// in a single transaction. Two instances starting at once do not race: on
// PostgreSQL the transaction first takes an advisory lock, on SQLite it begins
// IMMEDIATE and so holds the write lock; the second instance waits, then finds
// nothing left to do.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// advisoryLockKey is an arbitrary constant that names the migration lock.
const advisoryLockKey = 7_141_590_212

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// List returns the migrations for dialect, in order.
func List(dialect storage.Dialect) ([]Migration, error) {
	dir := string(dialect)
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", name)
		}
		body, err := fs.ReadFile(files, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// Apply brings db up to date and returns the names of the migrations it applied.
func Apply(ctx context.Context, db *storage.DB) ([]string, error) {
	return ApplyBefore(ctx, db, math.MaxInt)
}

// Applied reports whether migration version has been applied to db; false
// too when db has no migrations at all, or cannot tell.
func Applied(ctx context.Context, db *storage.DB, version int) bool {
	var n int
	err := db.NewSelect().Table("schema_migrations").ColumnExpr("count(*)").Where("version = ?", version).Scan(ctx, &n)
	return err == nil && n > 0
}

// ApplyBefore applies the pending migrations numbered below version. Tests
// of an upgrade use it to build a database as an older release left it.
func ApplyBefore(ctx context.Context, db *storage.DB, version int) ([]string, error) {
	all, err := List(db.Engine)
	if err != nil {
		return nil, err
	}
	for i, m := range all {
		if m.Version >= version {
			all = all[:i]
			break
		}
	}
	var applied []string
	err = storage.InTx(ctx, db, func(tx bun.Tx) error {
		if db.Engine == storage.Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", advisoryLockKey); err != nil {
				return fmt.Errorf("take migration lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at TIMESTAMP NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var done []int
		if err := tx.NewSelect().Table("schema_migrations").Column("version").Scan(ctx, &done); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		seen := make(map[int]bool, len(done))
		for _, v := range done {
			seen[v] = true
		}
		for _, m := range all {
			if seen[m.Version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, time.Now().UTC()); err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
			applied = append(applied, m.Name)
		}
		if version <= sortKeysMigration {
			return nil // a test's older schema: no sort keys yet
		}
		return refreshSortKeys(ctx, tx, version)
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}
