package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/metrics"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/web"
)

// scrape is one read of the metrics: the text a scraper gets, and the
// same metrics by name.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func scrapeMetrics(t *testing.T, m *metrics.Metrics) scrape {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	gathered, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := scrape{text: string(b), families: map[string]*dto.MetricFamily{}}
	for _, f := range gathered {
		s.families[f.GetName()] = f
	}
	return s
}

// value is the value of the series of name with exactly labels (name,
// value pairs): a counter's or gauge's value, a histogram's count. ok is
// false when there is no such series.
func (s scrape) value(name string, labels ...string) (v float64, ok bool) {
	f := s.families[name]
	if f == nil {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// family is the text of name's series in the scrape.
func (s scrape) family(name string) string {
	var out []string
	for _, line := range strings.Split(s.text, "\n") {
		if strings.HasPrefix(line, name) && !strings.HasPrefix(line, name+"_bucket") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// want fails the test unless the series of name with labels has value v.
func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	if got, ok := s.value(name, labels...); !ok || got != v {
		t.Errorf("%s%v = %v (present: %v), want %v; the series of %s:\n%s", name, labels, got, ok, v, name, s.family(name))
	}
}

// The metrics count requests by route pattern and the status the client
// got, the refused sign-ins by reason, the outbox by status, the scheduled
// jobs and the database pool; no label carries a client detail, and the
// public server does not answer /metrics.
func TestMetrics(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := metrics.New(metrics.Options{DB: e.db, Now: e.clock.Now})
		e.svc.Notifications.Observer = m
		me := e.with(web.Config{Metrics: m, SignInPerMinute: 3})
		_, worker := me.user(accounts.SocialWorker)
		_, email := me.staff(accounts.Coordinator, browserPassword)

		// Two clients with names and numbers no label may carry.
		var ids []int64
		for _, last := range []string{"Quillfeather", "Thistlewaite"} {
			ids = append(ids, me.must(201, worker, "POST", "/api/v1/clients", map[string]any{
				"case_number": "CASE-" + last, "first_name": "Zephyrine", "last_name": last,
				"phone": "+1 312 555 0199", "preferred_channel": "sms", "household_size": 2}).ID(t))
		}
		for _, id := range ids {
			me.must(200, worker, "GET", path("/api/v1/clients/%d", id), nil)
		}
		me.must(404, worker, "GET", "/api/v1/clients/99999999", nil)
		me.must(404, "", "GET", "/Zephyrine/Quillfeather", nil)
		me.must(404, "", "GET", "/metrics", nil)
		me.must(200, "", "GET", "/login", nil)
		home, _ := me.pageClient().send("GET", "/", nil) // to the sign-in page

		// Sign-ins refused: a wrong password on the API and on the form,
		// then the address's limit (3 a minute here).
		me.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": "wrong one"})
		p := me.pageClient()
		if res, _ := p.send("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "email": {email}, "password": {"wrong two"}}); res.StatusCode != 401 {
			t.Fatalf("wrong password on the form: %d", res.StatusCode)
		}
		me.must(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": "zephyrine@client.test", "password": "wrong three"})
		me.must(429, "", "POST", "/api/v1/auth/token", map[string]any{"email": email, "password": browserPassword})

		// Two reminders due, the oldest an hour ago, and one for later.
		for key, at := range map[string]time.Duration{"metrics:1": -time.Hour, "metrics:2": -time.Minute, "metrics:later": time.Hour} {
			if _, err := e.svc.Notifications.Outbox.Enqueue(ctx, e.db, &notifications.Notification{Kind: notifications.LoanDueSoon,
				DedupKey: key, ClientID: &ids[0], Channel: "sms", Address: "+13125550199", Language: "en",
				ScheduledAt: e.clock.Now().Add(at)}); err != nil {
				t.Fatal(err)
			}
		}

		s := scrapeMetrics(t, m)
		const requests, latency = "devicebank_http_requests_total", "devicebank_http_request_duration_seconds"
		s.want(t, 2, requests, "method", "GET", "route", "/api/v1/clients/:id", "status", "200")
		s.want(t, 2, latency, "method", "GET", "route", "/api/v1/clients/:id", "status", "200")
		// An error is counted with the status the error handler gave it.
		s.want(t, 1, requests, "method", "GET", "route", "/api/v1/clients/:id", "status", "404")
		s.want(t, 2, requests, "method", "POST", "route", "/api/v1/clients", "status", "201")
		s.want(t, 2, requests, "method", "GET", "route", metrics.Unmatched, "status", "404")
		s.want(t, 1, requests, "method", "POST", "route", "/api/v1/auth/token", "status", "429")
		s.want(t, 2, requests, "method", "POST", "route", "/api/v1/auth/token", "status", "401")
		s.want(t, 1, requests, "method", "POST", "route", "/login", "status", "401")
		if v, _ := s.value(requests, "method", "GET", "route", "/login", "status", "200"); v < 2 {
			t.Errorf("GET /login counted %v times, want at least 2", v)
		}
		// The home page is a route of its own, not the unmatched paths.
		s.want(t, 1, requests, "method", "GET", "route", "/", "status", path("%d", home.StatusCode))
		if !strings.Contains(s.text, latency+`_bucket{method="GET",route="/api/v1/clients/:id",status="200",le="0.005"}`) {
			t.Errorf("no latency histogram buckets in the scrape")
		}

		const signIn = "devicebank_signin_failures_total"
		s.want(t, 3, signIn, "reason", metrics.BadCredentials)
		s.want(t, 1, signIn, "reason", metrics.Throttled)
		s.want(t, 0, signIn, "reason", metrics.InvalidInput)

		const outbox = "devicebank_outbox_notifications"
		s.want(t, 3, outbox, "status", "pending")
		s.want(t, 0, outbox, "status", "sent")
		s.want(t, 3600, "devicebank_outbox_oldest_pending_age_seconds")

		if v, ok := s.value("go_sql_open_connections", "db_name", "devicebank"); !ok || v < 1 {
			t.Errorf("database pool: %v open connections (present: %v)", v, ok)
		}
		if _, ok := s.value("go_sql_wait_count_total", "db_name", "devicebank"); !ok {
			t.Errorf("no pool wait count")
		}
		if _, ok := s.value("go_goroutines"); !ok {
			t.Errorf("no Go runtime metrics")
		}

		// The scheduled sweep and dispatch, run as the scheduler runs them.
		sched, err := e.svc.Notifications.NewScheduler(ctx, notifications.Schedules{Sweep: "@every 1h", Dispatch: "@every 1h"},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		for _, entry := range sched.Entries() {
			entry.WrappedJob.Run()
		}
		s = scrapeMetrics(t, m)
		for _, job := range []string{"sweep", "dispatch"} {
			s.want(t, 1, "devicebank_job_duration_seconds", "job", job)
			s.want(t, 0, "devicebank_job_failures_total", "job", job)
		}
		// Both handled: sent, or cancelled as about no loan.
		handled := 0.0
		for _, outcome := range []string{"sent", "cancelled"} {
			v, _ := s.value("devicebank_outbox_deliveries_total", "channel", "sms", "outcome", outcome)
			handled += v
		}
		sent, _ := s.value(outbox, "status", "sent")
		cancelled, _ := s.value(outbox, "status", "cancelled")
		if handled != 2 || sent+cancelled != 2 {
			t.Errorf("dispatched: %v deliveries counted, %v sent and %v cancelled in the outbox; want 2", handled, sent, cancelled)
		}
		s.want(t, 1, outbox, "status", "pending") // the one for later, not yet due
		s.want(t, 0, "devicebank_outbox_oldest_pending_age_seconds")

		// A run that fails is counted as a failure: the dispatcher without
		// its table.
		rename := func(from, to string) {
			if _, err := e.db.ExecContext(ctx, "ALTER TABLE "+from+" RENAME TO "+to); err != nil {
				t.Fatal(err)
			}
		}
		rename("notifications", "notifications_gone")
		for _, entry := range sched.Entries() {
			entry.WrappedJob.Run()
		}
		rename("notifications_gone", "notifications")
		s = scrapeMetrics(t, m)
		s.want(t, 1, "devicebank_job_failures_total", "job", "dispatch")
		s.want(t, 2, "devicebank_job_duration_seconds", "job", "dispatch")

		for _, secret := range []string{"Zephyrine", "Quillfeather", "Thistlewaite", "CASE-", "+13125550199", "312 555 0199", email, "zephyrine"} {
			if strings.Contains(s.text, secret) {
				t.Errorf("the metrics carry %q:\n%s", secret, s.text)
			}
		}
		for _, id := range ids {
			if strings.Contains(s.text, path("/api/v1/clients/%d", id)) {
				t.Errorf("the metrics carry the path of client %d", id)
			}
		}
	})
}

// A replayed Idempotency-Key request is counted once, under the route it
// was sent to.
func TestMetricsCountAReplayOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		m := metrics.New(metrics.Options{DB: e.db, Now: e.clock.Now})
		me := e.with(web.Config{Metrics: m})
		_, worker := me.user(accounts.SocialWorker)
		body := map[string]any{"case_number": "CASE-R", "first_name": "Ana", "last_name": "Replay", "household_size": 1,
			"phone": "+1 312 555 0100", "preferred_channel": "sms"}
		first := me.must(201, worker, "POST", "/api/v1/clients", body, "Idempotency-Key", "metrics-replay")
		again := me.must(201, worker, "POST", "/api/v1/clients", body, "Idempotency-Key", "metrics-replay")
		if again.ID(t) != first.ID(t) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("not a replay: %s %v", again.Body, again.Header)
		}
		s := scrapeMetrics(t, m)
		s.want(t, 2, "devicebank_http_requests_total", "method", "POST", "route", "/api/v1/clients", "status", "201")
		if _, ok := s.value("devicebank_http_requests_total", "method", "GET", "route", "/api/v1/clients/:id", "status", "200"); ok {
			t.Errorf("the replay's second pass was counted as a GET")
		}
	})
}
