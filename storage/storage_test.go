package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// LOWER must fold accented letters on both databases, or searches for
// clients named "Ángel Ñúñez" work on one and not the other.
func TestLowerFoldsUnicodeOnBothDatabases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		var got string
		if err := db.NewRaw("SELECT LOWER(?)", "Ángel ÑÚÑEZ Straße").Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if got != "ángel ñúñez straße" {
			t.Fatalf("LOWER gave %q", got)
		}
		var null *string
		if err := db.NewRaw("SELECT LOWER(NULL)").Scan(context.Background(), &null); err != nil || null != nil {
			t.Fatalf("LOWER(NULL) = %v, %v", null, err)
		}
	})
}

// The database clock is the server's time, in UTC, on both databases (the
// test's database runs on this host, so the two agree within moments).
func TestDatabaseNow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		before := time.Now().Add(-time.Second)
		got, err := storage.DatabaseNow(context.Background(), db)
		after := time.Now().Add(time.Second)
		if err != nil || got.Location() != time.UTC || got.Before(before) || got.After(after) {
			t.Fatalf("DatabaseNow = %v (%v), %v; want UTC between %v and %v", got, got.Location(), err, before, after)
		}
		// Inside a transaction too, and not frozen at its start.
		err = storage.InTx(context.Background(), db, func(tx bun.Tx) error {
			first, err := storage.DatabaseNow(context.Background(), tx)
			if err != nil {
				return err
			}
			second, err := storage.DatabaseNow(context.Background(), tx)
			if err == nil && second.Before(first) {
				t.Errorf("the database clock went back within a transaction: %v then %v", first, second)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A named lock taken with TryLockName in one transaction is refused to
// another until the first ends (PostgreSQL); on SQLite the first
// transaction's write lock already keeps every other writer out.
func TestTryLockName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if db.Engine != storage.Postgres {
			err := storage.InTx(ctx, db, func(tx bun.Tx) error {
				ok, err := storage.TryLockName(ctx, tx, "job")
				if err == nil && !ok {
					t.Error("TryLockName on SQLite: not taken")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		holder, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := storage.TryLockName(ctx, holder, "job"); err != nil || !ok {
			t.Fatalf("first TryLockName: %v %v", ok, err)
		}
		try := func(name string) bool { return tryLock(t, db, name) }
		if try("job") {
			t.Error("a second transaction took a held lock")
		}
		if !try("another job") {
			t.Error("a lock of another name was refused")
		}
		holder.Rollback()
		if !try("job") {
			t.Error("the lock was not released when its transaction ended")
		}
	})
}

// tryLock reports whether a transaction of its own could take the named
// lock at once.
func tryLock(t *testing.T, db *storage.DB, name string) bool {
	t.Helper()
	ctx := context.Background()
	var got bool
	if err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		var err error
		got, err = storage.TryLockName(ctx, tx, name)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// SelectLockingName reads a row's value and, on PostgreSQL, holds the lock
// LockName takes for the prefix and that value until its transaction ends:
// the first time as an ordinary query, then prepared.
func TestSelectLockingName(t *testing.T) {
	var kindOf storage.HotQuery
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE things (id INTEGER PRIMARY KEY, kind TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO things (id, kind) VALUES (1, 'tablet'), (2, 'phone')"); err != nil {
			t.Fatal(err)
		}
		read := func(tx bun.Tx, id int64, kind *string) error {
			return storage.SelectLockingName(ctx, tx, &kindOf, func(p storage.Param) *bun.SelectQuery {
				return tx.NewSelect().Table("things").Where("id = ?", p(0))
			}, []any{id}, "kind", "things:", kind)
		}
		for round := range 2 {
			if round == 1 {
				waitPrepared(t, db, &kindOf)
			}
			holder, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Rollback()
			var kind string
			if err := read(holder, 1, &kind); err != nil || kind != "tablet" {
				t.Fatalf("round %d: SelectLockingName = %q, %v; want tablet", round, kind, err)
			}
			if err := read(holder, 3, &kind); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("round %d: SelectLockingName of no row: %v, want sql.ErrNoRows", round, err)
			}
			if db.Engine != storage.Postgres {
				holder.Rollback()
				continue
			}
			try := func(name string) bool { return tryLock(t, db, name) }
			if try("things:tablet") {
				t.Errorf("round %d: the lock of the value read was not held", round)
			}
			if !try("things:phone") {
				t.Errorf("round %d: the lock of another value was held", round)
			}
			holder.Rollback()
			if !try("things:tablet") {
				t.Errorf("round %d: the lock was not released when its transaction ended", round)
			}
		}
	})
}

// waitPrepared waits until db has prepared h (which a first use in a
// transaction starts in the background).
func waitPrepared(t *testing.T, db *storage.DB, h *storage.HotQuery) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !h.PreparedOn(db) {
		if time.Now().After(deadline) {
			t.Fatal("the hot query was never prepared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A new SQLite database and its -wal and -shm files hold client records:
// only their owner may read them, whatever the process's umask allows.
func TestSQLiteFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	db := dbtest.OpenURL(t, "sqlite:"+path)
	if _, err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has permissions %v, want -rw-------", filepath.Base(name), perm)
		}
	}
}

// A foreign-key violation, either way round, is a conflict with a message a
// person can read, not an internal error, on both databases.
func TestForeignKeyViolationIsAConflict(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		_, err := db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (999, 'x', 'h1', ?)`, now)
		checkForeignKeyConflict(t, "a token of no user", err)

		var userID int64
		if err := db.NewRaw(`INSERT INTO users (email, name, role, password_hash, created_at, updated_at)
			VALUES ('a@agency.test', 'A', 'admin', 'x', ?, ?) RETURNING id`, now, now).Scan(ctx, &userID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, 'x', 'h2', ?)`, userID, now); err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, userID)
		checkForeignKeyConflict(t, "removing a user who has a token", err)
	})
}

func checkForeignKeyConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !storage.IsForeignKeyViolation(err) || storage.IsUniqueViolation(err) {
		t.Fatalf("%s: %v is not reported as a foreign-key violation", what, err)
	}
	var ae *apperr.Error
	if !errors.As(storage.Err(err, "token"), &ae) || ae.Code != apperr.Conflict || !strings.Contains(ae.Message, "names a record that does not exist") {
		t.Fatalf("%s: storage.Err gave %v, want a conflict", what, storage.Err(err, "token"))
	}
}

// The service's PostgreSQL connections start with JIT compilation off,
// unless the URL asks for it.
func TestPostgresStartsWithJITOff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Engine != storage.Postgres {
			return
		}
		show := func(db *storage.DB) string {
			var v string
			if err := db.QueryRowContext(context.Background(), "SHOW jit").Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if got := show(db); got != "off" {
			t.Errorf("jit is %q, want off", got)
		}
		u, err := url.Parse(dbtest.FreshURL(t, storage.Postgres))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("jit", "on")
		u.RawQuery = q.Encode()
		if got := show(dbtest.OpenURL(t, u.String())); got != "on" {
			t.Errorf("with jit=on in the URL, jit is %q", got)
		}
	})
}
