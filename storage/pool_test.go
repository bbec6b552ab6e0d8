package storage_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The cause of slowness under load was a pool that kept two idle
// connections: every request beyond two at a time opened a connection and
// closed it after. Opened with the defaults, many goroutines at once reuse
// the connections they opened: none is closed for want of an idle place.
func TestPoolKeepsItsConnections(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		def := storage.DefaultPool(db.Engine)
		if got := db.Stats().MaxOpenConnections; got != def.MaxOpen {
			t.Fatalf("max open %d, want the default %d", got, def.MaxOpen)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					// A transaction holds its connection while the others
					// need theirs: several are open at once.
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					if err := tx.NewRaw("SELECT count(*) FROM users").Scan(ctx, &n); err != nil {
						t.Error(err)
					}
					time.Sleep(time.Millisecond)
					tx.Rollback()
				}
			}()
		}
		wg.Wait()
		st := db.Stats()
		if st.OpenConnections < 2 || st.OpenConnections > def.MaxOpen {
			t.Errorf("open connections %d, want from 2 to %d", st.OpenConnections, def.MaxOpen)
		}
		if st.MaxIdleClosed != 0 {
			t.Errorf("%d connections closed for want of an idle place", st.MaxIdleClosed)
		}
	})
}

func TestPoolSettings(t *testing.T) {
	pg, err := storage.PoolSettings{MaxOpen: "7"}.Resolve(storage.Postgres)
	if err != nil || pg.MaxOpen != 7 || pg.MaxIdle != 7 || pg.MaxLifetime != time.Hour || pg.MaxIdleTime != 5*time.Minute {
		t.Errorf("max open 7 on PostgreSQL: %+v, %v", pg, err)
	}
	lite, err := storage.PoolSettings{MaxIdle: "1", MaxLifetime: "0", MaxIdleTime: "90s"}.Resolve(storage.SQLite)
	if err != nil || lite.MaxIdle != 1 || lite.MaxOpen < 4 || lite.MaxLifetime != 0 || lite.MaxIdleTime != 90*time.Second {
		t.Errorf("SQLite with idle 1: %+v, %v", lite, err)
	}
	for _, tc := range []struct {
		s    storage.PoolSettings
		flag string
	}{
		{storage.PoolSettings{MaxOpen: "0"}, "--db-max-open-conns"},
		{storage.PoolSettings{MaxOpen: "many"}, "--db-max-open-conns"},
		{storage.PoolSettings{MaxOpen: "4", MaxIdle: "5"}, "--db-max-idle-conns"},
		{storage.PoolSettings{MaxIdle: "-1"}, "--db-max-idle-conns"},
		{storage.PoolSettings{MaxLifetime: "an hour"}, "--db-conn-max-lifetime"},
		{storage.PoolSettings{MaxLifetime: "-1h"}, "--db-conn-max-lifetime"},
		{storage.PoolSettings{MaxIdleTime: "5"}, "--db-conn-max-idle-time"},
	} {
		if _, err := tc.s.Resolve(storage.Postgres); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%+v: %v, want an error naming %s", tc.s, err, tc.flag)
		}
	}
}
