package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/metrics"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("scrape: %d\n%s", res.StatusCode, b)
	}
	return string(b)
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("the scrape lacks %q", l)
		}
	}
}

// Requests are counted per (method, route, status) from many goroutines
// at once; the method label is one of a fixed set.
func TestRequestsConcurrently(t *testing.T) {
	m := metrics.New(metrics.Options{})
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 100; i++ {
				m.Request(metrics.Method("GET"), "/api/v1/devices/:id", 200+i%2*204, time.Millisecond)
				m.Request(metrics.Method("BREW"), metrics.Unmatched, 405, time.Millisecond)
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	wantLines(t, scrape(t, m),
		`devicebank_http_requests_total{method="GET",route="/api/v1/devices/:id",status="200"} 200`,
		`devicebank_http_requests_total{method="GET",route="/api/v1/devices/:id",status="404"} 200`,
		`devicebank_http_requests_total{method="OTHER",route="unmatched",status="405"} 400`,
		`devicebank_http_request_duration_seconds_count{method="GET",route="/api/v1/devices/:id",status="200"} 200`,
	)
}

// Counting a request of a route seen before allocates nothing: it is on
// every request's path.
func TestRequestAllocatesNothing(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Request("GET", "/api/v1/devices/:id", 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() {
		m.Request(metrics.Method("GET"), "/api/v1/devices/:id", 200, time.Millisecond)
	}); n != 0 {
		t.Errorf("a request's metrics cost %v allocations, want 0", n)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(metrics.Method("GET"), "/api/v1/devices/:id", 200, time.Millisecond)
		}
	})
}

// A failed job run is counted as a failure, and every run's duration.
func TestJobRuns(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.JobRun("sweep", time.Second, nil)
	m.JobRun("sweep", time.Second, errors.New("database gone"))
	m.JobRun("dispatch", time.Second, nil)
	m.Delivery("sms", "sent")
	wantLines(t, scrape(t, m),
		`devicebank_job_duration_seconds_count{job="sweep"} 2`,
		`devicebank_job_failures_total{job="sweep"} 1`,
		`devicebank_job_failures_total{job="dispatch"} 0`,
		`devicebank_outbox_deliveries_total{channel="sms",outcome="sent"} 1`,
	)
}

// Refused sign-ins are classed by the error's code, never by its text.
func TestSignInReasons(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{apperr.New(apperr.Unauthorized, "the email or password is wrong"), metrics.BadCredentials},
		{apperr.New(apperr.RateLimited, "too many"), metrics.Throttled},
		{apperr.Fields{"new_password": "too short"}.Err(), metrics.InvalidInput},
		{apperr.New(apperr.Unavailable, "busy"), metrics.Busy},
		{errors.New("connection refused"), metrics.OtherFailure},
	} {
		if got := metrics.SignInReason(c.err); got != c.want {
			t.Errorf("SignInReason(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	var off *metrics.Metrics // metrics off: every record is a no-op
	off.SignInFailed(apperr.New(apperr.Unauthorized, "wrong"))
	off.Request("GET", "/", 200, time.Millisecond)
	off.JobRun("sweep", time.Second, nil)
	off.Delivery("sms", "sent")
}

// When the outbox cannot be read, the scrape still serves everything
// else, and says what went missing in its own error counter.
func TestOutboxUnreadable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		m := metrics.New(metrics.Options{DB: db, Now: time.Now})
		wantLines(t, scrape(t, m), `devicebank_outbox_notifications{status="pending"} 0`,
			`devicebank_outbox_oldest_pending_age_seconds 0`)
		if _, err := db.ExecContext(context.Background(), "ALTER TABLE notifications RENAME TO notifications_gone"); err != nil {
			t.Fatal(err)
		}
		text := scrape(t, m)
		if strings.Contains(text, "devicebank_outbox_notifications{") || !strings.Contains(text, "go_goroutines ") ||
			!strings.Contains(text, `go_sql_open_connections{db_name="devicebank"}`) {
			t.Errorf("an unreadable outbox:\n%s", text)
		}
		// The counter as of the scrape before.
		wantLines(t, scrape(t, m), `promhttp_metric_handler_errors_total{cause="gathering"} 1`)
	})
}

// Scrapes at the same moment (two Prometheus servers) are all answered,
// none refused as busy, each with the outbox read from the database.
func TestConcurrentScrapesAreAllAnswered(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		m := metrics.New(metrics.Options{DB: db, Now: time.Now})
		srv := httptest.NewServer(m.Handler())
		defer srv.Close()
		codes := make(chan string, 8)
		for range 8 {
			go func() {
				res, err := http.Get(srv.URL)
				if err != nil {
					codes <- err.Error()
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "devicebank_outbox_oldest_pending_age_seconds") {
					codes <- res.Status
					return
				}
				codes <- "ok"
			}()
		}
		for range 8 {
			if got := <-codes; got != "ok" {
				t.Errorf("a scrape among eight at once: %s", got)
			}
		}
	})
}

type tokenCache struct {
	hits, misses uint64
	listening    bool
}

func (c *tokenCache) Hits() uint64    { return c.hits }
func (c *tokenCache) Misses() uint64  { return c.misses }
func (c *tokenCache) Listening() bool { return c.listening }

// The token cache's counters and state are read when scraped.
func TestTokenCache(t *testing.T) {
	m := metrics.New(metrics.Options{})
	c := &tokenCache{hits: 7, misses: 2}
	m.WatchTokenCache(c)
	wantLines(t, scrape(t, m),
		`devicebank_token_cache_lookups_total{result="hit"} 7`,
		`devicebank_token_cache_lookups_total{result="miss"} 2`,
		`devicebank_token_cache_listening 0`,
	)
	c.hits, c.listening = 9, true
	wantLines(t, scrape(t, m),
		`devicebank_token_cache_lookups_total{result="hit"} 9`,
		`devicebank_token_cache_listening 1`,
	)
}
