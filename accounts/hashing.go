package accounts

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/apperr"
)

// HashLimit bounds how many argon2id hashes run at once. Each one holds
// HashParams.Memory (64 MiB by default) while it runs and keeps a core
// busy, so without a bound ten wrong passwords sent at once cost 640 MiB.
// A hash waits a short while for a slot; past that the caller is told to
// come back (503 with Retry-After), which costs nothing.
type HashLimit struct {
	slots chan struct{}
	wait  time.Duration
	// inFlight and peak count the hashes running, for Peak.
	inFlight, peak atomic.Int64
	// Holding, when set, runs while a slot is held, before the hash. Tests
	// use it to keep slots taken.
	Holding func()
}

// NewHashLimit allows n hashes at once, each waiting at most wait for a slot.
func NewHashLimit(n int, wait time.Duration) *HashLimit {
	return &HashLimit{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// DefaultHashLimit is one hash per core, waiting at most a second.
func DefaultHashLimit() *HashLimit { return NewHashLimit(runtime.GOMAXPROCS(0), time.Second) }

// Peak is the most hashes that have run at once.
func (h *HashLimit) Peak() int { return int(h.peak.Load()) }

// hashBusy is the answer when no slot could be had.
var hashBusy = &apperr.Error{Code: apperr.Unavailable, RetryAfter: time.Second,
	Message: "the server is busy checking other passwords; try again in a moment"}

// do runs fn in a slot, or returns hashBusy.
func (h *HashLimit) do(ctx context.Context, fn func()) error {
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
	case <-timer.C:
		return hashBusy
	case <-ctx.Done():
		return hashBusy
	}
	n := h.inFlight.Add(1)
	defer func() {
		last := h.inFlight.Add(-1) == 0
		<-h.slots
		// The hash's 64 MiB are garbage now. Go would give them back to
		// the system only slowly, so a service that signed one person in
		// would keep them resident for minutes; the last hash out gives
		// them back at once (a collection of a small heap: a few
		// milliseconds, next to the hash's tens).
		if last {
			debug.FreeOSMemory()
		}
	}()
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	if h.Holding != nil {
		h.Holding()
	}
	fn()
	return nil
}

// hash makes the stored hash of a password already normalised.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var hash string
	var err error
	if lerr := s.Hashing.do(ctx, func() { hash, err = argon2id.CreateHash(password, s.HashParams) }); lerr != nil {
		return "", lerr
	}
	if err != nil {
		return "", apperr.Wrap(err, "hash password")
	}
	return hash, nil
}

// verify reports whether password, in any of its forms, matches hash. A
// miss costs the same whatever hash it is given, so that checking against
// the dummy hash of an unknown account takes as long as a real one.
func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	ok := false
	err := s.Hashing.do(ctx, func() {
		for _, p := range passwordForms(password) {
			if match, _ := argon2id.ComparePasswordAndHash(p, hash); match {
				ok = true
				return
			}
		}
	})
	return ok, err
}
