package accounts

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/devicebank/devicebank/apperr"
)

// Throttle slows password guessing against one account from one client
// address, without ever locking the account: wrong passwords from one
// address make only that address wait, so the real user elsewhere still
// signs in. The first freeFailures wrong passwords cost nothing; after
// that each try must wait, one second after the fifth wrong password and
// twice as long after each further one, up to maxDelay. A right password
// forgets the pair, and so does a day without a wrong one.
//
// The counts are kept in memory, per server instance, for the
// throttleSize pairs seen most recently.
type Throttle struct {
	mu    sync.Mutex
	pairs *simplelru.LRU[string, failures]
}

const (
	freeFailures = 5
	maxDelay     = 15 * time.Minute
	forgetAfter  = 24 * time.Hour
	throttleSize = 50_000
)

type failures struct {
	count int
	last  time.Time
}

// NewThrottle returns an empty throttle.
func NewThrottle() *Throttle {
	pairs, _ := simplelru.NewLRU[string, failures](throttleSize, nil)
	return &Throttle{pairs: pairs}
}

// delay is how long a pair with n wrong passwords waits after the last.
func delay(n int) time.Duration {
	if n < freeFailures {
		return 0
	}
	if n-freeFailures >= 10 { // 1024 s is over the cap already
		return maxDelay
	}
	return min(time.Second<<(n-freeFailures), maxDelay)
}

// attempt reserves a password check for account from address at now. The
// check counts as a wrong password until settle says otherwise, so that
// tries sent at once are all counted. When the pair must wait, attempt
// reserves nothing and returns a rate_limited error saying how long.
func (t *Throttle) attempt(account, address string, now time.Time) error {
	key := normalizeEmail(account) + " " + address
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _ := t.pairs.Get(key)
	if now.Sub(f.last) >= forgetAfter {
		f = failures{}
	}
	if wait := f.last.Add(delay(f.count)).Sub(now); wait > 0 {
		secs := time.Duration(math.Ceil(wait.Seconds())) * time.Second
		return &apperr.Error{Code: apperr.RateLimited, RetryAfter: secs,
			Message: "too many wrong passwords for this account from your address; try again in " + secs.String()}
	}
	t.pairs.Add(key, failures{count: f.count + 1, last: now})
	return nil
}

// The outcome of a reserved check.
type outcome int

const (
	unchecked     outcome = iota // the password was never compared: give the try back
	wrongPassword                // keep it counted
	rightPassword                // forget the pair
)

// settle records how a check reserved by attempt ended.
func (t *Throttle) settle(account, address string, o outcome) {
	key := normalizeEmail(account) + " " + address
	t.mu.Lock()
	defer t.mu.Unlock()
	switch o {
	case rightPassword:
		t.pairs.Remove(key)
	case unchecked:
		if f, ok := t.pairs.Peek(key); ok && f.count > 1 {
			t.pairs.Add(key, failures{count: f.count - 1, last: f.last})
		} else if ok {
			t.pairs.Remove(key)
		}
	}
}
