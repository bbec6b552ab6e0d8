package storage

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Queries run on nearly every request (the bearer token's lookup, a device
// read) or on every loan's way (its reads, its status changes, the audit
// event) are kept prepared. bun writes each argument into the SQL text, so
// every query is a new text for the database to parse and plan: on SQLite,
// parsing was a third of the CPU of a device read under load; on
// PostgreSQL, planning was half of the loan round trip's statement time. A
// hot query is built once by bun with placeholders where its arguments go,
// prepared on each connection the first time that connection runs it
// (database/sql's Stmt does the per-connection part, inside a transaction
// too), and run with its arguments from then on.
//
// One consequence for PostgreSQL: a prepared statement lives on its
// server connection, so a pooler in front of PostgreSQL must be in session
// mode (PgBouncer's transaction mode does not keep them); see
// docs/operations.md.

// HotQuery is one such query. The zero value is ready to use; declare one
// per query, as a package variable. A nil *HotQuery runs its queries as
// ordinary ones (for a query whose shape varies, an IN list say).
type HotQuery struct {
	// A HotQuery is known by its address, and two variables of a size of
	// zero may share one: the byte keeps each its own.
	_ byte
}

// Param is how a hot query's builder refers to its i-th argument (from 0).
type Param func(i int) any

// From is p for the arguments from the n-th on: for a part of a builder
// written apart, given its own arguments after the builder's.
func (p Param) From(n int) Param { return func(i int) any { return p(n + i) } }

// Query is a query bun built (select, insert, update or raw) that a hot
// query's builder returns.
type Query interface {
	String() string
	Scan(ctx context.Context, dest ...any) error
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}

// ScanOne runs the query that build makes and scans its one row into dest
// (sql.ErrNoRows when there is none, as bun's Scan). build must make the
// same query each time, taking each argument from param rather than from
// its own variables. idb is a DB or a transaction of one (bun.Tx); the
// query is prepared on each of the DB's connections the first time it
// runs there. On anything else build runs with the arguments themselves
// and the query is an ordinary one.
func (h *HotQuery) ScanOne(ctx context.Context, idb bun.IDB, build func(param Param) Query, args []any, dest ...any) error {
	run, err := h.prepared(ctx, idb, build)
	if err != nil {
		return err
	}
	if run.stmt == nil {
		return build(values(args)).Scan(ctx, dest...)
	}
	bound, err := hotArgs(args)
	if err != nil {
		return err
	}
	err = scanOne(ctx, run, bound, dest)
	if run.rerun(h, err) {
		return build(values(args)).Scan(ctx, dest...)
	}
	return err
}

// Exec runs the statement that build makes (an insert or an update), as
// ScanOne runs a query.
func (h *HotQuery) Exec(ctx context.Context, idb bun.IDB, build func(param Param) Query, args ...any) (sql.Result, error) {
	run, err := h.prepared(ctx, idb, build)
	if err != nil {
		return nil, err
	}
	if run.stmt == nil {
		return build(values(args)).Exec(ctx)
	}
	bound, err := hotArgs(args)
	if err != nil {
		return nil, err
	}
	res, err := run.stmt.ExecContext(ctx, bound...)
	if run.rerun(h, err) {
		return build(values(args)).Exec(ctx)
	}
	return res, err
}

// hotRun is a hot query about to run: its statement for idb (nil: run it
// as an ordinary query), the statement prepared on the DB it comes from,
// and whether it runs in a transaction.
type hotRun struct {
	db     *DB
	stmt   *sql.Stmt
	parent *sql.Stmt
	inTx   bool
}

// prepared finds the statement for build on idb. In a transaction, a query
// the DB has not prepared yet runs as an ordinary one, and is prepared
// for the next time in the background: preparing it on the DB needs a
// connection of the pool, and a transaction waiting for one while holding
// its own could wait for ever when every connection is held that way.
func (h *HotQuery) prepared(ctx context.Context, idb bun.IDB, build func(param Param) Query) (hotRun, error) {
	if h == nil {
		return hotRun{}, nil
	}
	switch q := idb.(type) {
	case *DB:
		s, err := h.stmt(ctx, q, build)
		return hotRun{db: q, stmt: s, parent: s}, err
	case bun.Tx:
		db := dbOf(q)
		if db == nil {
			return hotRun{}, nil
		}
		s, ok := db.hot.Load(h)
		if !ok {
			h.prepareLater(db, build)
			return hotRun{}, nil
		}
		parent := s.(*sql.Stmt)
		// The transaction's connection has the statement already, or
		// prepares it now, once (and the DB's statement keeps it).
		return hotRun{db: db, stmt: q.Tx.StmtContext(ctx, parent), parent: parent, inTx: true}, nil
	}
	return hotRun{}, nil
}

// rerun reports whether the query is to run again as an ordinary one after
// err. Either the statement was closed, by another goroutine that found it
// stale after this one took it: nothing was sent, in a transaction or out
// of one. Or err is PostgreSQL refusing a statement prepared before a
// column the query returns changed its type (another instance's
// migration, say): the statement is forgotten, to be prepared anew, and
// outside a transaction the query runs again; inside one, PostgreSQL has
// aborted the transaction, so nothing more can run in it: rerun reports
// false and the error ends the request, once, as one to send again (Err;
// docs/operations.md, "Connections to the database").
func (r hotRun) rerun(h *HotQuery, err error) bool {
	if isClosedStmt(err) {
		return true
	}
	if !isStalePlan(err) {
		return false
	}
	if r.db.hot.CompareAndDelete(h, r.parent) {
		r.parent.Close()
	}
	return !r.inTx
}

// isClosedStmt reports database/sql's refusal of a closed statement (its
// error is not exported), given before anything is sent.
func isClosedStmt(err error) bool {
	return err != nil && err.Error() == "sql: statement is closed"
}

func scanOne(ctx context.Context, run hotRun, args, dest []any) error {
	rows, err := run.stmt.QueryContext(ctx, args...)
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
	if err := run.db.DB.ScanRow(ctx, rows, dest...); err != nil {
		return err
	}
	return rows.Close()
}

// values is the Param that gives the arguments themselves.
func values(args []any) Param { return func(i int) any { return args[i] } }

// hotArgs are the arguments as a prepared statement takes them. A time is
// written as bun writes it into a query (UTC, to the microsecond), which
// both databases read back the same way: SQLite stores times as that text,
// and its driver would otherwise write its own layout, with a local offset,
// which neither sorts nor compares with the rest. A string holding a NUL
// is refused, as bun refuses to write one into a query: pgdriver would
// drop the NUL silently ("admin\x00" would find "admin") where SQLite keeps
// it, so the same argument would mean a different value on each database.
func hotArgs(args []any) ([]any, error) {
	out, copied := args, false
	for i, a := range args {
		if s, ok := stringOf(a); ok && strings.IndexByte(s, 0) >= 0 {
			return nil, errStringNUL
		}
		t, ok := a.(time.Time)
		if !ok {
			continue
		}
		if !copied {
			out, copied = append([]any(nil), args...), true
		}
		out[i] = t.UTC().Format("2006-01-02 15:04:05.999999-07:00")
	}
	return out, nil
}

var errStringNUL = errors.New("storage: a string argument contains a NUL byte (0x00)")

// stringOf is a's text when it is a string, of a named string type or a
// pointer to one: what database/sql passes to the driver as a string.
func stringOf(a any) (string, bool) {
	v := reflect.ValueOf(a)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.String {
		return "", false
	}
	return v.String(), true
}

// isStalePlan reports PostgreSQL's "cached plan must not change result
// type" (SQLSTATE 0A000), its answer to a prepared statement whose result
// columns changed since it was prepared. SQLite prepares such a statement
// again by itself. 0A000 is any feature not supported (FOR UPDATE with an
// aggregate, say: a fault of the query, not a plan to forget and a request
// to send again), so the routine that raised it tells this one apart; its
// name, unlike the message, is never translated.
func isStalePlan(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "0A000" && pgErr.Field('R') == "RevalidateCachedQuery"
}

// stmt is the query prepared on db, kept by db (DB.hot). A failed
// preparation is not kept: the next call tries again.
func (h *HotQuery) stmt(ctx context.Context, db *DB, build func(param Param) Query) (*sql.Stmt, error) {
	if s, ok := db.hot.Load(h); ok {
		return s.(*sql.Stmt), nil
	}
	// Numbered, so that a builder may use an argument twice: $1 on
	// PostgreSQL, ?1 on SQLite.
	mark := "?"
	if db.Engine == Postgres {
		mark = "$"
	}
	placeholder := func(i int) any { return bun.Safe(mark + strconv.Itoa(i+1)) }
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

// prepareLater prepares the query on db in the background, once at a
// time; a failure is forgotten (the next use tries again).
func (h *HotQuery) prepareLater(db *DB, build func(param Param) Query) {
	if _, busy := db.preparing.LoadOrStore(h, true); busy {
		return
	}
	go func() {
		defer db.preparing.Delete(h)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.stmt(ctx, db, build)
	}()
}
