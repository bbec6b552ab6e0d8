package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// DatabaseNow is the database server's current time, in UTC. Work shared
// between instances (a claim's lease, a rate window) is timed by it rather
// than by each instance's clock, which may be minutes or hours off: one
// instance's clock running ahead must not make it think another's live
// claim has expired. On PostgreSQL it is clock_timestamp() (the moment of
// the call, not the transaction's start); on SQLite, an embedded database,
// it is this host's clock, to the millisecond.
func DatabaseNow(ctx context.Context, db bun.IDB) (time.Time, error) {
	if db.Dialect().Name() == dialect.PG {
		var t time.Time
		if err := db.NewRaw("SELECT clock_timestamp()").Scan(ctx, &t); err != nil {
			return time.Time{}, Err(err, "database clock")
		}
		return t.UTC(), nil
	}
	var s string
	if err := db.NewRaw("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").Scan(ctx, &s); err != nil {
		return time.Time{}, Err(err, "database clock")
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("database clock %q: %w", s, err)
	}
	return t, nil
}

// FollowClock is a stand-in for DatabaseNow that reads now instead, for
// tests that move time: with it the "database clock" is the test's.
func FollowClock(now func() time.Time) func(context.Context, bun.IDB) (time.Time, error) {
	return func(context.Context, bun.IDB) (time.Time, error) { return now().UTC(), nil }
}
