package storage

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Queries run on nearly every request (the bearer token's lookup, a device
// read) are kept prepared. bun writes each argument into the SQL text, so
// every query is a new text for the database to parse and plan: on SQLite,
// parsing was a third of the CPU of a device read under load. A hot query
// is built once by bun with placeholders where its arguments go, prepared
// on each connection the first time that connection runs it
// (database/sql's Stmt does the per-connection part), and run with its
// arguments from then on.
//
// One consequence for PostgreSQL: a prepared statement lives on its
// server connection, so a pooler in front of PostgreSQL must be in session
// mode (PgBouncer's transaction mode does not keep them); see
// docs/operations.md.

// HotQuery is one such query. The zero value is ready to use; declare one
// per query, as a package variable.
type HotQuery struct {
	// A HotQuery is known by its address, and two variables of a size of
	// zero may share one: the byte keeps each its own.
	_ byte
}

// Param is how a hot query's builder refers to its i-th argument (from 0).
type Param func(i int) any

// ScanOne runs the query that build makes and scans its one row into dest
// (sql.ErrNoRows when there is none, as bun's Scan). build must make the
// same query each time, taking each argument from param rather than from
// its own variables. On a *DB the query is prepared once per connection;
// on anything else (a transaction) build runs with the arguments themselves
// and the query is an ordinary one.
func (h *HotQuery) ScanOne(ctx context.Context, idb bun.IDB, build func(param Param) *bun.SelectQuery, dest any, args ...any) error {
	db, ok := idb.(*DB)
	if !ok {
		return build(func(i int) any { return args[i] }).Scan(ctx, dest)
	}
	stmt, err := h.stmt(ctx, db, build)
	if err != nil {
		return err
	}
	err = scanOne(ctx, db, stmt, dest, args)
	if isStalePlan(err) {
		// A column the query returns changed its type (another instance's
		// migration, say): PostgreSQL refuses the statement prepared
		// before. It is forgotten, to be prepared anew, and the query runs
		// as an ordinary one this time.
		if db.hot.CompareAndDelete(h, stmt) {
			stmt.Close()
		}
		return build(func(i int) any { return args[i] }).Scan(ctx, dest)
	}
	return err
}

func scanOne(ctx context.Context, db *DB, stmt *sql.Stmt, dest any, args []any) error {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := db.DB.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	return rows.Close()
}

// isStalePlan reports PostgreSQL's "cached plan must not change result
// type" (SQLSTATE 0A000), its answer to a prepared statement whose result
// columns changed since it was prepared. SQLite prepares such a statement
// again by itself.
func isStalePlan(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "0A000"
}

// stmt is the query prepared on db, kept by db (DB.hot). A failed
// preparation is not kept: the next call tries again.
func (h *HotQuery) stmt(ctx context.Context, db *DB, build func(param Param) *bun.SelectQuery) (*sql.Stmt, error) {
	if s, ok := db.hot.Load(h); ok {
		return s.(*sql.Stmt), nil
	}
	placeholder := func(i int) any { return bun.Safe("?") }
	if db.Engine == Postgres {
		placeholder = func(i int) any { return bun.Safe("$" + strconv.Itoa(i+1)) }
	}
	s, err := db.DB.DB.PrepareContext(ctx, build(placeholder).String())
	if err != nil {
		return nil, err
	}
	if kept, loaded := db.hot.LoadOrStore(h, s); loaded { // prepared twice at once
		s.Close()
		return kept.(*sql.Stmt), nil
	}
	return s, nil
}
