// Package metrics is DeviceBank's Prometheus metrics: what the HTTP
// server, the sign-in, the scheduled jobs and the outbox did, with the
// database pool's statistics and the Go runtime's, in the Prometheus text
// format (github.com/prometheus/client_golang, the library issue 13 names:
// the standard exposition every Prometheus-compatible scraper reads).
//
// Each Metrics has its own registry, so several servers (tests) can live in
// one process. No label ever carries a client detail: routes are patterns
// ("/api/v1/clients/:id"), never paths, and every other label takes a value
// from a small fixed set.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
)

const namespace = "devicebank"

// Unmatched is the route label of a request no route matched (a 404 on a
// made-up path), so that paths never become labels.
const Unmatched = "unmatched"

// Sign-in failure reasons, the values of devicebank_signin_failures_total's
// reason label. An inactive account is answered as a wrong password, on
// purpose, and counted as one.
const (
	BadCredentials = "bad_credentials" // wrong email or password
	Throttled      = "throttled"       // too many failures: per account, or per client address
	InvalidInput   = "invalid_input"   // such as a one-time password used without a new one
	Busy           = "busy"            // every password-hashing slot taken
	OtherFailure   = "error"           // anything else (a database error)
)

// Options are what the metrics read from the service.
type Options struct {
	// DB is the database whose pool statistics and outbox are reported.
	DB *storage.DB
	// Now is the service's clock, which the outbox's age is measured by;
	// nil means time.Now.
	Now func() time.Time
	// Logger receives errors met while gathering; nil means slog.Default().
	Logger *slog.Logger
}

// Metrics holds the collectors of one service. A nil *Metrics records
// nothing, so callers need not check whether metrics are on.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series caches each (method, route, status)'s counter and histogram,
	// so a request does not hash its labels: read without a lock, replaced
	// whole on the rare miss (the set is bounded by the routes).
	series   atomic.Pointer[map[seriesKey]requestSeries]
	seriesMu sync.Mutex

	signIn      *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	jobFailures *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
}

type seriesKey struct {
	method, route string
	status        int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New builds the metrics and registers them with the Go runtime's, the
// process's and the database pool's collectors on a registry of their own.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: opts.Logger}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by method, route pattern and status code.",
	}, []string{"method", "route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help: "Time to answer an HTTP request, by method, route pattern and status code.",
		// From a cached read (a millisecond) to a large PDF or CSV export.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	m.signIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "signin_failures_total",
		Help: "Password sign-ins refused (API tokens and browser sessions), by reason.",
	}, []string{"reason"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "job", Name: "duration_seconds",
		Help:    "Time a scheduled job run took (sweep, dispatch, digest, reports), failed or not.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 120, 300},
	}, []string{"job"})
	m.jobFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "job", Name: "failures_total",
		Help: "Scheduled job runs that ended in an error, by job.",
	}, []string{"job"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "outbox", Name: "deliveries_total",
		Help: "Notifications the dispatcher handled, by channel and outcome (sent, retrying, failed, cancelled, deferred).",
	}, []string{"channel", "outcome"})
	// Series that exist before their first event, so that rate() and
	// alerts see a zero rather than nothing.
	for _, r := range []string{BadCredentials, Throttled, InvalidInput, Busy, OtherFailure} {
		m.signIn.WithLabelValues(r)
	}
	for _, j := range []string{"sweep", "dispatch", "digest", "reports"} {
		m.jobFailures.WithLabelValues(j)
	}
	m.series.Store(&map[seriesKey]requestSeries{})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		// Under their standard names (go_*, process_*), which dashboards know.
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.signIn, m.jobDuration, m.jobFailures, m.deliveries,
	)
	if opts.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(opts.DB.DB.DB, namespace), newOutboxCollector(opts.DB, opts.Now))
	}
	return m
}

// TokenCache is what the token cache (accounts.TokenCache) tells.
type TokenCache interface {
	Hits() uint64
	Misses() uint64
	Listening() bool
}

// WatchTokenCache adds c's lookups, answered from memory or from the
// database, and whether it is in use, read when scraped.
func (m *Metrics) WatchTokenCache(c TokenCache) {
	lookups := func(result string, n func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "token_cache", Name: "lookups_total",
			Help:        "Bearer-token lookups while the token cache is on, by result: hit (answered from memory) or miss (read from the database).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(n()) })
	}
	in := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "token_cache", Name: "listening",
		Help: "1 while the token cache's listener hears the database's notifications (the cache is in use), 0 while it is bypassed.",
	}, func() float64 {
		if c.Listening() {
			return 1
		}
		return 0
	})
	m.reg.MustRegister(lookups("hit", c.Hits), lookups("miss", c.Misses), in)
}

// Registry is where the metrics are registered, to add more or to gather
// them in a test.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format. A collector
// that fails (the outbox query) is logged and left out; the rest are
// served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{m.log},
		ErrorHandling: promhttp.ContinueOnError,
		// Counts the handler's own errors (promhttp_metric_handler_errors_total).
		Registry: m.reg,
		// Scrapes at the same moment (two Prometheus servers, an agent)
		// share one gathering, so they never pile up outbox queries, and
		// none is refused.
		CoalesceGather: true,
		Timeout:        10 * time.Second,
	})
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("gather metrics", "error", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// Request records one answered HTTP request. method must be one of the
// fixed method names (Method) and route a route pattern or Unmatched,
// never a path.
func (m *Metrics) Request(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	k := seriesKey{method, route, status}
	s, ok := (*m.series.Load())[k]
	if !ok {
		s = m.addSeries(k)
	}
	s.count.Inc()
	s.latency.Observe(took.Seconds())
}

// addSeries makes k's series and publishes a copy of the cache with it.
func (m *Metrics) addSeries(k seriesKey) requestSeries {
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	old := *m.series.Load()
	if s, ok := old[k]; ok {
		return s
	}
	status := statusText(k.status)
	s := requestSeries{count: m.requests.WithLabelValues(k.method, k.route, status),
		latency: m.latency.WithLabelValues(k.method, k.route, status)}
	next := make(map[seriesKey]requestSeries, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	m.series.Store(&next)
	return s
}

// statusText is a status code's label; anything outside 100-599 (no
// status written) is "0".
func statusText(code int) string {
	if code < 100 || code > 599 {
		return "0"
	}
	b := []byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}
	return string(b)
}

// Method is method's label: the standard methods as themselves, anything
// else as "OTHER". The result never shares memory with the request.
func Method(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return "OTHER"
}

// SignInFailed counts a refused password sign-in by the class of err.
func (m *Metrics) SignInFailed(err error) {
	if m == nil || err == nil {
		return
	}
	m.signIn.WithLabelValues(SignInReason(err)).Inc()
}

// SignInReason is the reason label of a sign-in refused with err.
func SignInReason(err error) string {
	switch apperr.CodeOf(err) {
	case apperr.Unauthorized:
		return BadCredentials
	case apperr.RateLimited:
		return Throttled
	case apperr.Invalid, apperr.Malformed:
		return InvalidInput
	case apperr.Unavailable:
		return Busy
	}
	return OtherFailure
}

// JobRun records one run of a scheduled job (notifications.Observer).
func (m *Metrics) JobRun(job string, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.jobDuration.WithLabelValues(job).Observe(took.Seconds())
	if err != nil {
		m.jobFailures.WithLabelValues(job).Inc()
	}
}

// Delivery records what the dispatcher did with one notification
// (notifications.Observer).
func (m *Metrics) Delivery(channel, outcome string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(channel, outcome).Inc()
}
