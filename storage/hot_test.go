package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Two hot queries on one database are each their own statement, with
// their own arguments, run again and again from many goroutines; a
// missing row is sql.ErrNoRows as with bun's Scan; and in a transaction
// the same builder runs as an ordinary query and sees the transaction's
// own writes.
func TestHotQueries(t *testing.T) {
	var byEmail, byID storage.HotQuery
	type user struct {
		ID    int64  `bun:"id"`
		Email string `bun:"email"`
	}
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := range 3 {
			if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES (?, ?, 'admin', 'x', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
				fmt.Sprintf("u%d@example.org", i), fmt.Sprintf("User %d", i)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		emailQuery := func(q bun.IDB) func(storage.Param) *bun.SelectQuery {
			return func(p storage.Param) *bun.SelectQuery {
				return q.NewSelect().Table("users").Column("id", "email").Where("email = ?", p(0))
			}
		}
		idQuery := func(q bun.IDB) func(storage.Param) *bun.SelectQuery {
			return func(p storage.Param) *bun.SelectQuery {
				return q.NewSelect().Table("users").Column("id", "email").Where("id = ? AND active = ?", p(0), p(1))
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 80)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					want := fmt.Sprintf("u%d@example.org", (g+i)%3)
					var a, b user
					if err := byEmail.ScanOne(ctx, db, emailQuery(db), &a, want); err != nil || a.Email != want {
						errs <- fmt.Errorf("by email %s: %+v, %v", want, a, err)
						return
					}
					if err := byID.ScanOne(ctx, db, idQuery(db), &b, a.ID, true); err != nil || b != a {
						errs <- fmt.Errorf("by id %d: %+v, %v", a.ID, b, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var none user
		if err := byEmail.ScanOne(ctx, db, emailQuery(db), &none, "nobody@example.org"); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("a missing row: %v, want sql.ErrNoRows", err)
		}
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewRaw("UPDATE users SET email = 'renamed@example.org' WHERE email = 'u0@example.org'").Exec(ctx); err != nil {
				return err
			}
			var u user
			if err := byEmail.ScanOne(ctx, tx, emailQuery(tx), &u, "renamed@example.org"); err != nil {
				return fmt.Errorf("in the transaction: %w", err)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatal(err)
		}
		var u user
		if err := byEmail.ScanOne(ctx, db, emailQuery(db), &u, "u0@example.org"); err != nil {
			t.Errorf("after the rollback: %v", err)
		}
	})
}

// PostgreSQL refuses a statement prepared before a column it returns
// changed type ("cached plan must not change result type"), as another
// instance's migration may do while this one runs: the hot query forgets
// it, answers this time as an ordinary query, and is prepared anew after.
// (SQLite prepares such a statement again by itself; it has no ALTER
// COLUMN TYPE to try it with.)
func TestHotQueryAfterAColumnChangesType(t *testing.T) {
	var byID storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Engine != storage.Postgres {
			t.Skip("PostgreSQL only: SQLite cannot change a column's type")
		}
		ctx := context.Background()
		db.SetPool(storage.Pool{MaxOpen: 1, MaxIdle: 1}) // one connection: the statement is surely the stale one
		if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('a@example.org', 'A', 'admin', 'x', TRUE, now(), now())").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		read := func(p storage.Param) *bun.SelectQuery {
			return db.NewSelect().Table("users").Column("id", "name").Where("email = ?", p(0))
		}
		var u struct {
			ID   int64  `bun:"id"`
			Name string `bun:"name"`
		}
		for i, change := range []string{"", "ALTER TABLE users ALTER COLUMN name TYPE varchar(300)", ""} {
			if change != "" {
				if _, err := db.ExecContext(ctx, change); err != nil {
					t.Fatal(err)
				}
			}
			if err := byID.ScanOne(ctx, db, read, &u, "a@example.org"); err != nil || u.Name != "A" {
				t.Fatalf("read %d (after %q): %+v, %v", i, change, u, err)
			}
		}
	})
}
