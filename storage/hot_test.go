package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
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
		emailQuery := func(q bun.IDB) func(storage.Param) storage.Query {
			return func(p storage.Param) storage.Query {
				return q.NewSelect().Table("users").Column("id", "email").Where("email = ?", p(0))
			}
		}
		idQuery := func(q bun.IDB) func(storage.Param) storage.Query {
			return func(p storage.Param) storage.Query {
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
					if err := byEmail.ScanOne(ctx, db, emailQuery(db), []any{want}, &a); err != nil || a.Email != want {
						errs <- fmt.Errorf("by email %s: %+v, %v", want, a, err)
						return
					}
					if err := byID.ScanOne(ctx, db, idQuery(db), []any{a.ID, true}, &b); err != nil || b != a {
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
		if err := byEmail.ScanOne(ctx, db, emailQuery(db), []any{"nobody@example.org"}, &none); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("a missing row: %v, want sql.ErrNoRows", err)
		}
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewRaw("UPDATE users SET email = 'renamed@example.org' WHERE email = 'u0@example.org'").Exec(ctx); err != nil {
				return err
			}
			var u user
			if err := byEmail.ScanOne(ctx, tx, emailQuery(tx), []any{"renamed@example.org"}, &u); err != nil {
				return fmt.Errorf("in the transaction: %w", err)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatal(err)
		}
		var u user
		if err := byEmail.ScanOne(ctx, db, emailQuery(db), []any{"u0@example.org"}, &u); err != nil {
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
		read := func(p storage.Param) storage.Query {
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
			if err := byID.ScanOne(ctx, db, read, []any{"a@example.org"}, &u); err != nil || u.Name != "A" {
				t.Fatalf("read %d (after %q): %+v, %v", i, change, u, err)
			}
		}
	})
}

// In transactions a hot query runs prepared on the transaction's own
// connection (once the DB has it), sees the transaction's writes, and a
// rolled-back write is gone: eight writers, each on its own row, some
// rolling back.
func TestHotQueriesInTransactions(t *testing.T) {
	var rename, readName storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const writers, rounds = 8, 15
		ids := make([]int64, writers)
		for g := range ids {
			if err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES (?, 'new', 'admin', 'x', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id",
				fmt.Sprintf("w%d@example.org", g)).Scan(ctx, &ids[g]); err != nil {
				t.Fatal(err)
			}
		}
		write := func(tx bun.Tx, id int64, name string) error {
			res, err := rename.Exec(ctx, tx, func(p storage.Param) storage.Query {
				return tx.NewUpdate().Table("users").Set("name = ?", p(0)).Where("id = ?", p(1))
			}, name, id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("renamed %d rows", n)
			}
			return nil
		}
		read := func(tx bun.IDB, id int64) (string, error) {
			var name string
			err := readName.ScanOne(ctx, tx, func(p storage.Param) storage.Query {
				return tx.NewSelect().Table("users").Column("name").Where("id = ?", p(0))
			}, []any{id}, &name)
			return name, err
		}
		errRollBack := errors.New("roll back")
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					name := fmt.Sprintf("g%d-%d", g, i)
					err := storage.InTx(ctx, db, func(tx bun.Tx) error {
						if err := write(tx, ids[g], name); err != nil {
							return err
						}
						if got, err := read(tx, ids[g]); err != nil || got != name {
							return fmt.Errorf("read back %q, %v; want %q", got, err, name)
						}
						if i%3 == 2 {
							return errRollBack
						}
						return nil
					})
					if err != nil && !errors.Is(err, errRollBack) {
						errs <- fmt.Errorf("writer %d round %d: %w", g, i, err)
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
		for g, id := range ids {
			last := rounds - 1
			for last%3 == 2 {
				last--
			}
			if got, err := read(db, id); err != nil || got != fmt.Sprintf("g%d-%d", g, last) {
				t.Errorf("writer %d: name %q, %v; want the last committed, g%d-%d", g, got, err, g, last)
			}
		}
		if db.Engine != storage.Postgres {
			return
		}
		// PostgreSQL lists what a connection has prepared: within a
		// transaction, the statement is among them (once the background
		// preparation the first use started has finished).
		deadline := time.Now().Add(10 * time.Second)
		for {
			var prepared bool
			err := storage.InTx(ctx, db, func(tx bun.Tx) error {
				if _, err := read(tx, ids[0]); err != nil {
					return err
				}
				return tx.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE statement LIKE 'SELECT \"name\" FROM \"users\" WHERE (id = $1)%')").Scan(ctx, &prepared)
			})
			if err != nil {
				t.Fatal(err)
			}
			if prepared {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the hot query was never run prepared in a transaction")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// A transaction holding the pool's only connection still runs a hot query
// the DB has not prepared yet: preparing it must not wait for a second
// connection.
func TestHotQueryInATransactionWhenThePoolIsFull(t *testing.T) {
	var count storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		db.SetPool(storage.Pool{MaxOpen: 1, MaxIdle: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 3 {
			err := storage.InTx(ctx, db, func(tx bun.Tx) error {
				var n int
				return count.ScanOne(ctx, tx, func(p storage.Param) storage.Query {
					return tx.NewSelect().Table("users").ColumnExpr("COUNT(*)").Where("id > ?", p(0))
				}, []any{0}, &n)
			})
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
	})
}

// A time given to a hot query is stored as bun stores one written into a
// query, so the two compare and sort together (SQLite keeps times as text);
// and a builder may use one argument twice.
func TestHotQueryWritesTimesAsBunDoes(t *testing.T) {
	var insert storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("UTC+2", 2*3600))
		if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('bun@example.org', 'B', 'admin', 'x', TRUE, ?, ?)", at, at).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := insert.Exec(ctx, db, func(p storage.Param) storage.Query { // an argument used twice
			return db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('hot@example.org', 'H', 'admin', 'x', TRUE, ?, ?)", p(0), p(0))
		}, at)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		if err := db.NewRaw("SELECT CAST(created_at AS TEXT) FROM users WHERE email IN ('bun@example.org', 'hot@example.org') ORDER BY email").Scan(ctx, &texts); err != nil {
			t.Fatal(err)
		}
		if len(texts) != 2 || texts[0] != texts[1] {
			t.Fatalf("stored times %q: want the same text twice", texts)
		}
	})
}

// Inside a transaction a statement gone stale (a column it returns changed
// type) cannot be replaced by an ordinary query: PostgreSQL has aborted the
// transaction. That transaction fails, and the next one, with the statement
// prepared anew, succeeds.
func TestHotQueryInATransactionAfterAColumnChangesType(t *testing.T) {
	var byEmail storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Engine != storage.Postgres {
			t.Skip("PostgreSQL only: SQLite cannot change a column's type")
		}
		ctx := context.Background()
		db.SetPool(storage.Pool{MaxOpen: 1, MaxIdle: 1})
		if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('a@example.org', 'A', 'admin', 'x', TRUE, now(), now())").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var name string
		read := func(idb bun.IDB) error {
			return byEmail.ScanOne(ctx, idb, func(p storage.Param) storage.Query {
				return idb.NewSelect().Table("users").Column("name").Where("email = ?", p(0))
			}, []any{"a@example.org"}, &name)
		}
		inTx := func() error { return storage.InTx(ctx, db, func(tx bun.Tx) error { return read(tx) }) }
		if err := read(db); err != nil { // prepared by the DB
			t.Fatal(err)
		}
		if err := inTx(); err != nil || name != "A" {
			t.Fatalf("before the change: %q, %v", name, err)
		}
		if _, err := db.ExecContext(ctx, "ALTER TABLE users ALTER COLUMN name TYPE varchar(300)"); err != nil {
			t.Fatal(err)
		}
		// The request that ran it is told to send it again (503), not
		// that the service failed (500).
		if err := storage.Err(inTx(), "user"); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("the stale statement in the transaction: %v, want unavailable", err)
		}
		// Another feature PostgreSQL does not support (the same SQLSTATE)
		// is a fault of the query: sending it again would not help.
		var n int
		if err := storage.Err(db.NewRaw("SELECT COUNT(*) FROM users FOR UPDATE").Scan(ctx, &n), "user"); !apperr.Is(err, apperr.Internal) {
			t.Errorf("FOR UPDATE with an aggregate: %v, want internal", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			name = ""
			err := inTx()
			if err == nil && name == "A" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the change: %q, %v", name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// A string holding a NUL is refused as bun refuses it in a query: kept
// prepared, PostgreSQL's driver would drop the NUL and find the row of the
// string without it, where SQLite would look for the NUL.
func TestHotQueryRefusesAStringWithANUL(t *testing.T) {
	var byEmail storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('admin@example.org', 'A', 'admin', 'x', TRUE, ?, ?)", time.Now(), time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		type email string // a named string type is a string to the driver too
		for _, arg := range []any{"admin@example.org\x00", email("admin@example.org\x00")} {
			var id int64
			err := byEmail.ScanOne(ctx, db, func(p storage.Param) storage.Query {
				return db.NewSelect().Table("users").Column("id").Where("email = ?", p(0))
			}, []any{arg}, &id)
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				t.Errorf("%T %q: id %d, %v; want refused", arg, arg, id, err)
			}
		}
	})
}

// A kept statement closed between a caller's taking it and its use (by
// another goroutine that found it stale) is a query run as an ordinary one,
// in a transaction or out of one: nothing had been sent.
func TestHotQueryWhoseStatementWasClosedMeanwhile(t *testing.T) {
	var byEmail storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.NewRaw("INSERT INTO users (email, name, role, password_hash, active, created_at, updated_at) VALUES ('a@example.org', 'A', 'admin', 'x', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		read := func(idb bun.IDB) (string, error) {
			var name string
			err := byEmail.ScanOne(ctx, idb, func(p storage.Param) storage.Query {
				return idb.NewSelect().Table("users").Column("name").Where("email = ?", p(0))
			}, []any{"a@example.org"}, &name)
			return name, err
		}
		if name, err := read(db); err != nil || name != "A" { // kept from now on
			t.Fatalf("first read: %q, %v", name, err)
		}
		byEmail.CloseKept(db)
		if name, err := read(db); err != nil || name != "A" {
			t.Errorf("outside a transaction: %q, %v", name, err)
		}
		err := storage.InTx(ctx, db, func(tx bun.Tx) error {
			name, err := read(tx)
			if err == nil && name != "A" {
				err = fmt.Errorf("read %q", name)
			}
			return err
		})
		if err != nil {
			t.Errorf("in a transaction: %v", err)
		}
	})
}
