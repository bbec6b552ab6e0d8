package accounts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// AuthChannel is the PostgreSQL notification channel on which a change to
// anything a token lookup reads is announced (migration 0023's triggers).
const AuthChannel = "devicebank_auth"

// Limits of a TokenCache.
const (
	// MaxTokenCacheTTL bounds how long a lookup is kept: under a minute,
	// a token's last use is still recorded to the minute.
	MaxTokenCacheTTL = time.Minute
	// tokenCacheSize bounds the entries; a new one beyond it replaces an
	// arbitrary other.
	tokenCacheSize = 10_000
	// probeEvery is how long the listener waits quietly before it checks
	// its connection by notifying itself; an answer missing for as long
	// again means the connection is lost.
	probeEvery = 2 * time.Second
)

// TokenCache keeps successful bearer-token lookups (Authenticate) in the
// process for a short time, so that an API request costs one query less.
//
// It is safe across instances because it is used only while its listener
// (Start) hears the database's notifications of authentication changes,
// and each notification empties it: a revoked token, a deactivated user or
// a changed role stop working everywhere within the notification's delay
// (milliseconds). While the listener's connection is down the cache is
// emptied and bypassed, so that a change made meanwhile is not missed.
//
// A generation counter closes the race of a lookup that reads the database
// before a change commits and stores its row after the notification was
// handled: the store is dropped when the generation moved since the read.
type TokenCache struct {
	ttl time.Duration
	// probe is the channel on which the listener notifies itself.
	probe string

	mu        sync.RWMutex
	entries   map[string]cachedToken
	gen       uint64
	listening bool

	hits, misses atomic.Uint64

	// beforeStore and relisten, when set (by tests), run between a
	// lookup's read of the database and its store, and before the listener
	// listens again after a failure.
	beforeStore, relisten func()
}

// cachedToken is a lookup's row and when it was kept (by the monotonic
// clock: the TTL is real time, whatever the Service's clock says).
type cachedToken struct {
	row authRow
	at  time.Time
}

// NewTokenCache returns a cache keeping lookups for ttl, which must be more
// than 0 and at most MaxTokenCacheTTL. It is bypassed until Start's
// listener is listening.
func NewTokenCache(ttl time.Duration) (*TokenCache, error) {
	if ttl <= 0 || ttl > MaxTokenCacheTTL {
		return nil, fmt.Errorf("the token cache's time to live must be more than 0 and at most %s (got %s)", MaxTokenCacheTTL, ttl)
	}
	id := make([]byte, 8)
	rand.Read(id)
	return &TokenCache{ttl: ttl, probe: AuthChannel + "_" + hex.EncodeToString(id),
		entries: make(map[string]cachedToken)}, nil
}

// Hits and Misses count the lookups answered from the cache and those that
// read the database while the cache was on (bypassed ones included).
func (c *TokenCache) Hits() uint64   { return c.hits.Load() }
func (c *TokenCache) Misses() uint64 { return c.misses.Load() }

// Listening reports whether the listener hears notifications, that is
// whether the cache is in use.
func (c *TokenCache) Listening() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.listening
}

// lookup returns the row kept for a token's hash, if the cache is in use
// and it is fresh, and the generation to store a new row with. A nil cache
// is off: it never has a row.
func (c *TokenCache) lookup(hash string) (row authRow, gen uint64, ok bool) {
	if c == nil {
		return authRow{}, 0, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, found := c.entries[hash]
	return e.row, c.gen, c.listening && found && time.Since(e.at) < c.ttl
}

// count records whether a lookup was answered from the cache.
func (c *TokenCache) count(hit bool) {
	switch {
	case c == nil:
	case hit:
		c.hits.Add(1)
	default:
		c.misses.Add(1)
	}
}

// store keeps row for hash, unless the generation moved since gen was read
// (before the row was) or the cache is not in use.
func (c *TokenCache) store(hash string, row authRow, gen uint64) {
	if c == nil {
		return
	}
	if c.beforeStore != nil {
		c.beforeStore()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening || c.gen != gen {
		return
	}
	if _, found := c.entries[hash]; !found && len(c.entries) >= tokenCacheSize {
		for k := range c.entries { // one arbitrary entry: Go varies where ranging starts
			delete(c.entries, k)
			break
		}
	}
	c.entries[hash] = cachedToken{row: row, at: time.Now()}
}

// Invalidate forgets every lookup; a lookup reading the database at the
// moment does not store its row. A nil cache does nothing.
func (c *TokenCache) Invalidate() { c.reset(nil) }

// reset empties the cache and moves the generation; listening, if not nil,
// becomes whether the cache is in use.
func (c *TokenCache) reset(listening *bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.gen++
	if listening != nil {
		c.listening = *listening
	}
}

// Start listens on db (a PostgreSQL database) for AuthChannel, in the
// background, until stop is called; stop waits for the listener to end
// and may be called more than once. The cache is in use only while the
// listener is known to be listening; log says when it is lost and heard
// again.
func (c *TokenCache) Start(db *bun.DB, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.follow(ctx, db, log)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// follow listens again after each failure, waiting a little longer each
// time the listener was not heard (up to 5 s), until ctx ends.
func (c *TokenCache) follow(ctx context.Context, db *bun.DB, log *slog.Logger) {
	var wait time.Duration
	off := false
	for {
		heard, err := c.listen(ctx, db, log)
		c.reset(&off)
		if ctx.Err() != nil {
			return
		}
		if heard {
			wait = 0
		}
		wait = min(max(2*wait, 100*time.Millisecond), 5*time.Second)
		log.Warn("token cache bypassed: the database's notifications of token and user changes are not heard; listening again",
			"error", err.Error(), "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if c.relisten != nil {
			c.relisten()
		}
	}
}

// errNoTriggers is a database where changes of tokens and users do not
// notify AuthChannel.
var errNoTriggers = errors.New("the triggers that announce token and user changes (migration 0023) are missing or disabled: apply the migrations (devicebank migrate)")

// triggersInPlace returns errNoTriggers unless the four triggers of
// migration 0023 are on their tables (in the current schema) and enabled.
func triggersInPlace(ctx context.Context, db *bun.DB) error {
	var n int
	err := db.NewRaw(`SELECT count(*) FROM pg_trigger WHERE tgenabled <> 'D' AND (
		(tgrelid = to_regclass('api_tokens') AND tgname IN ('api_tokens_auth_changed', 'api_tokens_auth_removed')) OR
		(tgrelid = to_regclass('users') AND tgname IN ('users_auth_changed', 'users_auth_removed')))`).Scan(ctx, &n)
	if err != nil {
		return err
	}
	if n != 4 {
		return errNoTriggers
	}
	return nil
}

// errNoProbe is a listener's connection that did not deliver the
// listener's own notification in time.
var errNoProbe = errors.New("the listener's connection did not deliver its own notification in time")

// listen LISTENs on a connection of its own, and empties the cache at each
// notification, until the connection fails or ctx ends. The cache comes
// into use when the listener first hears its own notification on its probe
// channel (sent after LISTEN, so it proves LISTEN took effect: every change
// committed later is heard, and every lookup stored later reads the
// database after any change committed before); heard says whether it did.
// While the connection is quiet, the probe is sent again every probeEvery.
func (c *TokenCache) listen(ctx context.Context, db *bun.DB, log *slog.Logger) (heard bool, err error) {
	ln := pgdriver.NewListener(db)
	defer ln.Close()
	// Closing the listener is what ends a Receive waiting when ctx ends.
	defer context.AfterFunc(ctx, func() { ln.Close() })()
	if err := ln.Listen(ctx, AuthChannel, c.probe); err != nil {
		return false, err
	}
	// Heard notifications are proof enough only if changes send them: a
	// server started with --no-migrate on a database without migration
	// 0023 would hear its probe and nothing else.
	if err := triggersInPlace(ctx, db); err != nil {
		return false, err
	}
	// The probe is sent from a goroutine, one at a time: while it waits
	// for a connection of the pool (all busy under load), the
	// notifications delivered meanwhile are still handled. A probe that
	// cannot be sent within 2 s counts as one not heard.
	var sending sync.WaitGroup
	defer sending.Wait()
	probeCtx, cancelProbe := context.WithCancel(ctx)
	defer cancelProbe()
	probeErr := make(chan error, 1)
	var inFlight atomic.Bool
	probe := func() {
		if !inFlight.CompareAndSwap(false, true) {
			return
		}
		sending.Add(1)
		go func() {
			defer sending.Done()
			defer inFlight.Store(false)
			if _, err := db.ExecContext(probeCtx, "SELECT pg_notify(?, '')", c.probe); err != nil {
				select {
				case probeErr <- err:
				default:
				}
			}
		}()
	}
	probe()
	probing, since := true, time.Now()
	for {
		select {
		case err := <-probeErr:
			return heard, err
		default:
		}
		// Until the first probe is heard, it is sent again every 50 ms:
		// LISTEN is only written, not waited for, so the first probe may
		// commit before LISTEN takes effect and never be delivered.
		wait := probeEvery
		if !heard {
			wait = 50 * time.Millisecond
		}
		channel, _, err := ln.ReceiveTimeout(ctx, wait)
		if err != nil {
			var nerr net.Error
			if !errors.As(err, &nerr) || !nerr.Timeout() {
				return heard, err
			}
			if probing && (heard || time.Since(since) >= 2*probeEvery) {
				return heard, errNoProbe
			}
			probe()
			probing = true
			continue
		}
		if channel != c.probe {
			c.Invalidate()
			continue
		}
		probing = false
		if !heard {
			heard = true
			on := true
			c.reset(&on)
			log.Info("token cache in use: listening for token and user changes", "channel", AuthChannel, "ttl", c.ttl.String())
		}
	}
}
