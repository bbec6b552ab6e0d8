// Package storage opens the database (SQLite or PostgreSQL, through bun) and
// holds the few helpers every domain package shares: transactions, and the
// translation of driver errors into apperr codes so that handlers never see
// a driver error.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/devicebank/devicebank/apperr"
)

// Dialect names the database in use.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DefaultURL is the embedded default: a SQLite file in the working directory.
const DefaultURL = "sqlite:devicebank.db"

// DB is a bun database and the dialect it speaks.
type DB struct {
	*bun.DB
	Engine Dialect
	// hot holds the hot queries prepared on this database (HotQuery), and
	// preparing those being prepared in the background.
	hot, preparing sync.Map
}

// databases finds the DB a transaction belongs to, for its hot queries:
// each open DB by its bun.DB.
var databases sync.Map

// register makes db known to dbOf until it is closed.
func (db *DB) register() *DB {
	databases.Store(db.DB, db)
	return db
}

// dbOf is the DB tx belongs to; nil when it was not opened by Open.
func dbOf(tx bun.Tx) *DB {
	if db, ok := databases.Load(tx.NewSelect().DB()); ok {
		return db.(*DB)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	databases.Delete(db.DB)
	return db.DB.Close()
}

// Open connects to the database named by rawURL:
//
//	postgres://user@host:5432/db?sslmode=disable   PostgreSQL through pgdriver
//	sqlite:PATH or file:PATH                        SQLite (modernc.org/sqlite)
//
// SQLite is opened in WAL mode with foreign keys on, a busy timeout, and
// write transactions that take the write lock when they begin (BEGIN
// IMMEDIATE), so that two writers never deadlock upgrading a read lock.
// Its pool is the engine's DefaultPool until SetPool changes it.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	db, err := open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	db.SetPool(DefaultPool(db.Engine))
	return db, nil
}

// EngineOf names the database a URL is for; "" when it is for none.
func EngineOf(rawURL string) Dialect {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return Postgres
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		return SQLite
	}
	return ""
}

func open(ctx context.Context, rawURL string) (*DB, error) {
	switch EngineOf(rawURL) {
	case Postgres:
		// Parameters pgdriver does not know (search_path, say) are passed
		// to the server as run-time parameters.
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(withRuntimeDefaults(rawURL))))
		db := (&DB{DB: bun.NewDB(sqldb, pgdialect.New()), Engine: Postgres}).register()
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		return db, nil
	case SQLite:
		path := rawURL[strings.Index(rawURL, ":")+1:]
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, fmt.Errorf("database URL %q names no file", rawURL)
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		// Client records are confidential: a new database file is readable
		// by its owner only. SQLite gives its -wal and -shm files the main
		// file's permissions, so they are private too.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open SQLite %s: %w", path, err)
		}
		f.Close()
		q := url.Values{}
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(15000)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open SQLite: %w", err)
		}
		db := (&DB{DB: bun.NewDB(sqldb, sqlitedialect.New()), Engine: SQLite}).register()
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("open SQLite %s: %w", path, err)
		}
		return db, nil
	}
	return nil, fmt.Errorf("database URL must start with postgres://, sqlite: or file: (got %q)", redact(rawURL))
}

// redact hides a password in a URL before it is shown.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// InTx runs fn in a transaction, committing when fn returns nil. On SQLite
// the transaction holds the write lock from its first statement. When ctx
// carries a fence (WithFence), it runs first in the transaction, and an
// error from it ends the transaction before fn runs.
func InTx(ctx context.Context, db bun.IDB, fn func(tx bun.Tx) error) error {
	return inTx(ctx, db, nil, fn)
}

// InSnapshot is InTx where every read sees the database as it was at the
// transaction's first statement (REPEATABLE READ on PostgreSQL; SQLite's
// transactions are serialized already): for reads that must agree with
// each other, such as a client's export.
func InSnapshot(ctx context.Context, db bun.IDB, fn func(tx bun.Tx) error) error {
	var opts *sql.TxOptions
	if db.Dialect().Name() == dialect.PG {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead}
	}
	return inTx(ctx, db, opts, fn)
}

func inTx(ctx context.Context, db bun.IDB, opts *sql.TxOptions, fn func(tx bun.Tx) error) error {
	return db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		if fence, ok := ctx.Value(fenceKey{}).(Fence); ok {
			if err := fence(ctx, tx); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// A Fence is a first statement for every transaction of a request: a
// condition the request must meet for its changes to be committed, which
// the fence keeps true until the transaction ends (by a row lock, say).
// The Idempotency-Key claim is one (package idempotency): a request whose
// claim was taken over by a resend must not commit.
type Fence func(ctx context.Context, tx bun.Tx) error

type fenceKey struct{}

// WithFence returns ctx with f to run at the start of each InTx.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// Err translates a database error into an apperr: no rows becomes NotFound
// (naming what), a unique or foreign-key violation becomes Conflict, a hot
// query gone stale in a transaction Unavailable, and anything else is
// Internal.
func Err(err error, what string) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "%s not found", what)
	}
	if isStalePlan(err) {
		// Only a transaction sees it (HotQuery.stale): the statement is
		// prepared anew for the next one, so the request, sent again,
		// succeeds. It is no fault of the service's, but an upgrade's.
		return &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second, Err: err,
			Message: "the database changed while this request ran (an upgrade); send it again"}
	}
	if IsUniqueViolation(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: what + " already exists", Err: err}
	}
	if IsForeignKeyViolation(err) {
		// SQLite does not say which way the reference failed, so the
		// message covers both.
		return &apperr.Error{Code: apperr.Conflict, Err: err,
			Message: what + " cannot be saved or removed: it names a record that does not exist, or another record still names it"}
	}
	return apperr.Wrap(err, "database error")
}

// pgRuntimeDefaults are the run-time parameters the service's PostgreSQL
// connections start with, unless the URL sets them itself.
//
// jit is off: the service's statements are either small (far below the
// cost at which PostgreSQL compiles them) or report aggregates, where
// compiling cost 0.1 to 0.6 s a statement, more than it saved (see
// docs/PERFORMANCE.md).
var pgRuntimeDefaults = map[string]string{"jit": "off"}

// withRuntimeDefaults adds pgRuntimeDefaults to a PostgreSQL URL's query,
// where pgdriver passes unknown parameters on to the server. A URL that
// does not parse is left for pgdriver to refuse.
func withRuntimeDefaults(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	for k, v := range pgRuntimeDefaults {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// IsForeignKeyViolation reports whether err is a foreign-key violation: a
// reference to a row that does not exist, or the removal of a row that is
// still referenced.
func IsForeignKeyViolation(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == "23503"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// UniqueOn reports whether err violates a unique index over column. Index
// names in PostgreSQL contain their column names, and SQLite names the column
// in its message ("UNIQUE constraint failed: devices.asset_tag").
func UniqueOn(err error, column string) bool {
	if !IsUniqueViolation(err) {
		return false
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return strings.Contains(pgErr.Field('n'), column)
	}
	return strings.Contains(err.Error(), "."+column)
}

// EscapeLike escapes the LIKE wildcards in s, for use with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Locked makes q lock the rows it reads until the transaction ends, for a
// read that is followed by a write of the same rows. On PostgreSQL that is
// SELECT … FOR UPDATE, without which a concurrent transaction's change,
// committed between our read and our write, would be silently overwritten
// (READ COMMITTED). On SQLite every write transaction already holds the
// database's write lock from its first statement, so nothing is added.
func Locked(q *bun.SelectQuery) *bun.SelectQuery {
	if q.Dialect().Name() == dialect.PG {
		return q.For("UPDATE")
	}
	return q
}

// LockedIf is Locked when lock is true, q unchanged otherwise.
func LockedIf(q *bun.SelectQuery, lock bool) *bun.SelectQuery {
	if lock {
		return Locked(q)
	}
	return q
}

// LockName serializes transactions that use the same name until they end:
// an advisory lock on PostgreSQL; on SQLite the transaction already holds
// the write lock. For rules over many rows, such as "no two requests take
// the last free device". The lock's key includes the schema, so that
// installs (or test databases) sharing one PostgreSQL database in separate
// schemas never wait for each other.
func LockName(ctx context.Context, tx bun.Tx, name string) error {
	if tx.Dialect().Name() != dialect.PG {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':' || ?))", name)
	return Err(err, "lock")
}

// SelectLockingName runs the query build makes (with args), which finds
// one row, for the value of the text column col, into dest, and takes the
// lock LockName takes for prefix followed by that value. On PostgreSQL both
// happen in one statement, where reading the value and then locking its
// name would take two round trips; the caller checks, once it has locked
// the row itself, that the value has not changed in between. On SQLite it
// only reads. The query is hot (h), so col and prefix are the same at each
// call with h.
func SelectLockingName(ctx context.Context, tx bun.Tx, h *HotQuery, build func(param Param) *bun.SelectQuery, args []any, col, prefix string, dest any) error {
	if tx.Dialect().Name() != dialect.PG {
		return h.ScanOne(ctx, tx, func(p Param) Query { return build(p).Column(col) }, args, dest)
	}
	// pg_advisory_xact_lock returns void, which bun cannot scan: compared as
	// text it is a boolean.
	var locked bool
	return h.ScanOne(ctx, tx, func(p Param) Query {
		return build(p).Column(col).
			ColumnExpr("pg_advisory_xact_lock(hashtext(current_schema() || ':' || ? || ?))::text = ''", prefix, bun.Ident(col))
	}, args, dest, &locked)
}

// TryLockName takes the lock LockName takes, without waiting: it reports
// false when another transaction holds it, for work that one instance at a
// time should do and the others may skip (the reminder sweep). On SQLite
// the transaction's write lock already keeps every other writer waiting,
// so it is always taken.
func TryLockName(ctx context.Context, tx bun.Tx, name string) (bool, error) {
	if tx.Dialect().Name() != dialect.PG {
		return true, nil
	}
	var ok bool
	if err := tx.NewRaw("SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || ':' || ?))", name).Scan(ctx, &ok); err != nil {
		return false, Err(err, "lock")
	}
	return ok, nil
}
