package accounts

import (
	"fmt"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

// The throttle keeps at most throttleSize pairs, however many addresses
// try, and forgets a pair a day after its last wrong password.
func TestThrottleIsBoundedAndForgets(t *testing.T) {
	th := NewThrottle()
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	for i := range throttleSize + 1000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		if err := th.attempt("nia@agency.test", addr, now); err != nil {
			t.Fatal(err)
		}
		th.settle("nia@agency.test", addr, wrongPassword)
	}
	if n := th.pairs.Len(); n != throttleSize {
		t.Fatalf("the throttle holds %d pairs, want at most %d", n, throttleSize)
	}

	for range freeFailures {
		th.attempt("sam@agency.test", "192.0.2.1", now)
		th.settle("sam@agency.test", "192.0.2.1", wrongPassword)
	}
	if err := th.attempt("sam@agency.test", "192.0.2.1", now); !apperr.Is(err, apperr.RateLimited) {
		t.Fatalf("after %d wrong passwords: %v, want rate_limited", freeFailures, err)
	}
	for range freeFailures {
		if err := th.attempt("sam@agency.test", "192.0.2.1", now.Add(forgetAfter)); err != nil {
			t.Fatalf("a day later: %v, want the pair forgotten", err)
		}
	}
	if delay(100) != maxDelay || delay(freeFailures+3) != 8*time.Second {
		t.Fatalf("delays: %v after 100, %v after %d", delay(100), delay(freeFailures+3), freeFailures+3)
	}
}
