package dbtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

// Locks lets a test hold a lock and then wait, without guessing how long it
// takes, until other transactions are waiting for it: a concurrency test
// that commits after a fixed sleep tests nothing when the other side is
// slower than the sleep.
//
// On PostgreSQL the database says who waits for whom (pg_blocking_pids).
// SQLite lets one writer in at a time: while a transaction holds the write
// lock, every statement that needs it (BEGIN, which DeviceBank makes
// IMMEDIATE, and any INSERT, UPDATE or DELETE outside a transaction) waits,
// so a statement of that kind that starts while the lock is held is a
// waiter; Locks sees them start through a bun query hook.
type Locks struct {
	db      *storage.DB
	mu      sync.Mutex
	writes  int           // lock-taking statements started so far
	changed chan struct{} // closed and replaced when writes grows
}

// WatchLocks installs the hook on db. Call it before db is used by more
// than one goroutine.
func WatchLocks(db *storage.DB) *Locks {
	l := &Locks{db: db, changed: make(chan struct{})}
	db.AddQueryHook(l)
	return l
}

// BeforeQuery counts the statements that take SQLite's write lock.
func (l *Locks) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	word, _, _ := strings.Cut(strings.TrimSpace(e.Query), " ")
	switch strings.ToUpper(word) {
	case "BEGIN", "INSERT", "UPDATE", "DELETE":
		l.mu.Lock()
		l.writes++
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	return ctx
}

// AfterQuery is part of bun.QueryHook.
func (l *Locks) AfterQuery(context.Context, *bun.QueryEvent) {}

// Held is a transaction holding a lock that others are expected to wait for.
type Held struct {
	Tx     bun.Tx
	l      *Locks
	pid    int // PostgreSQL: the backend holding the lock
	writes int // SQLite: lock-taking statements started before the lock was held
}

// Hold begins a transaction and runs take in it, which must take the lock:
// on PostgreSQL lock or change the rows the other side needs; on SQLite any
// write takes the database's write lock. The transaction is rolled back when
// the test ends unless the test ends it first.
func (l *Locks) Hold(t testing.TB, take func(tx bun.Tx) error) *Held {
	t.Helper()
	ctx := context.Background()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if err := take(tx); err != nil {
		t.Fatal(err)
	}
	h := &Held{Tx: tx, l: l}
	if l.db.Engine == storage.Postgres {
		if err := tx.NewRaw("SELECT pg_backend_pid()").Scan(ctx, &h.pid); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	h.writes = l.writes
	l.mu.Unlock()
	return h
}

// WaitForWaiters returns once n transactions wait for the lock h holds. It
// fails the test if finished is closed first (the side expected to wait
// finished without waiting) or if they are not all waiting within a minute.
func (h *Held) WaitForWaiters(t testing.TB, n int, finished <-chan struct{}) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		waiting, changed := h.waiters(t)
		if waiting >= n {
			return
		}
		select {
		case <-finished:
			t.Fatalf("%d of %d waiting for the held lock when the other side finished: it did not wait", waiting, n)
		case <-deadline:
			t.Fatalf("only %d of %d waiting for the held lock after a minute", waiting, n)
		case <-changed:
		}
	}
}

// waiters counts those waiting now, and gives a channel that says when to
// look again: when a statement starts on SQLite, a few milliseconds later
// on PostgreSQL (which can only be asked).
func (h *Held) waiters(t testing.TB) (int, <-chan struct{}) {
	t.Helper()
	if h.l.db.Engine == storage.Postgres {
		var n int
		err := h.l.db.NewRaw("SELECT COUNT(*) FROM pg_stat_activity WHERE ? = ANY (pg_blocking_pids(pid))", h.pid).
			Scan(context.Background(), &n)
		if err != nil {
			t.Fatal(err)
		}
		again := make(chan struct{})
		time.AfterFunc(5*time.Millisecond, func() { close(again) })
		return n, again
	}
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	return h.l.writes - h.writes, h.l.changed
}
