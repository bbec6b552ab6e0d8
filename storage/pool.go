package storage

import (
	"fmt"
	"runtime"
	"strconv"
	"time"
)

// Pool sizes the connections the service keeps to its database.
//
// The cause of slowness under concurrent load was database/sql's default of
// two idle connections: every request beyond the second at a time opened a
// new connection, and closed it after (on PostgreSQL a TCP connection, a
// backend process and authentication; on SQLite a connection that parses
// the whole schema again). So MaxIdle defaults to MaxOpen: a connection,
// once opened, is kept until it has idled MaxIdleTime or lived MaxLifetime.
type Pool struct {
	// MaxOpen bounds the connections open at once (in use and idle); a
	// request beyond it waits for one to be free.
	MaxOpen int
	// MaxIdle bounds the connections kept open while unused.
	MaxIdle int
	// MaxLifetime closes a connection this long after it was opened (at its
	// next return to the pool); zero keeps it forever.
	MaxLifetime time.Duration
	// MaxIdleTime closes a connection unused for this long; zero keeps it.
	MaxIdleTime time.Duration
}

// DefaultPool is the pool an engine is opened with.
//
// PostgreSQL: 20 connections, all kept while busy. PostgreSQL's own default
// max_connections is 100, which leaves room for several instances, the
// report's two extra connections at a time, backups and psql. A connection
// idle for 5 minutes is closed (a quiet night gives back the server's
// backends), and every connection is renewed after an hour, so that a
// failover or a changed pooler in front is picked up without a restart.
//
// SQLite: readers never wait for each other in WAL mode, and writers take
// the one write lock in turn (BEGIN IMMEDIATE) whatever the pool, so a few
// connections per core serve every reader and writer at once: twice the
// cores, at least 4. They are never closed: opening one parses the schema
// again, and each keeps its statement cache.
func DefaultPool(engine Dialect) Pool {
	if engine == Postgres {
		return Pool{MaxOpen: 20, MaxIdle: 20, MaxLifetime: time.Hour, MaxIdleTime: 5 * time.Minute}
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	return Pool{MaxOpen: n, MaxIdle: n}
}

// Check reports the first setting out of range, naming it by the flag that
// sets it.
func (p Pool) Check() error {
	switch {
	case p.MaxOpen < 1:
		return fmt.Errorf("--db-max-open-conns must be 1 or more (got %d)", p.MaxOpen)
	case p.MaxIdle < 0 || p.MaxIdle > p.MaxOpen:
		return fmt.Errorf("--db-max-idle-conns must be from 0 to --db-max-open-conns (%d) (got %d)", p.MaxOpen, p.MaxIdle)
	case p.MaxLifetime < 0:
		return fmt.Errorf("--db-conn-max-lifetime must not be negative (got %s)", p.MaxLifetime)
	case p.MaxIdleTime < 0:
		return fmt.Errorf("--db-conn-max-idle-time must not be negative (got %s)", p.MaxIdleTime)
	}
	return nil
}

// SetPool sizes db's connection pool; a Check-ed Pool is expected.
func (db *DB) SetPool(p Pool) {
	db.DB.SetMaxOpenConns(p.MaxOpen)
	db.DB.SetMaxIdleConns(p.MaxIdle)
	db.DB.SetConnMaxLifetime(p.MaxLifetime)
	db.DB.SetConnMaxIdleTime(p.MaxIdleTime)
}

// PoolSettings are a pool's settings as written on a command line or in
// the environment; empty means the engine's default.
type PoolSettings struct {
	MaxOpen, MaxIdle, MaxLifetime, MaxIdleTime string
}

// Resolve reads s over the engine's defaults. MaxIdle left empty follows
// MaxOpen, so that raising the one raises the other.
func (s PoolSettings) Resolve(engine Dialect) (Pool, error) {
	p := DefaultPool(engine)
	var err error
	if s.MaxOpen != "" {
		if p.MaxOpen, err = strconv.Atoi(s.MaxOpen); err != nil {
			return Pool{}, fmt.Errorf("--db-max-open-conns must be a whole number (got %q)", s.MaxOpen)
		}
		p.MaxIdle = p.MaxOpen
	}
	if s.MaxIdle != "" {
		if p.MaxIdle, err = strconv.Atoi(s.MaxIdle); err != nil {
			return Pool{}, fmt.Errorf("--db-max-idle-conns must be a whole number (got %q)", s.MaxIdle)
		}
	}
	if s.MaxLifetime != "" {
		if p.MaxLifetime, err = time.ParseDuration(s.MaxLifetime); err != nil {
			return Pool{}, fmt.Errorf("--db-conn-max-lifetime must be a duration such as 1h or 30m, or 0 for none (got %q)", s.MaxLifetime)
		}
	}
	if s.MaxIdleTime != "" {
		if p.MaxIdleTime, err = time.ParseDuration(s.MaxIdleTime); err != nil {
			return Pool{}, fmt.Errorf("--db-conn-max-idle-time must be a duration such as 5m, or 0 for none (got %q)", s.MaxIdleTime)
		}
	}
	return p, p.Check()
}
