package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/web"
)

// testNow is the moment tests stand on unless they move the clock.
var testNow = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

// clock is a settable clock shared by the services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// logBuffer collects what a server logs; safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is a running DeviceBank server on a fresh database, reached over real HTTP.
type env struct {
	t     *testing.T
	db    *storage.DB
	svc   *app.Services
	clock *clock
	base  string
	httpc *http.Client
	seq   atomic.Int64
}

// eachEnv runs fn against a server on every reachable database.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		fn(t, newEnv(t, db))
	})
}

// newEnv is a server on db whose clock, and database clock, is the env's
// clock, starting at testNow. "Remind now" has no limit here, so tests may
// remind about a loan again at once; TestRemindNowLimit sets one.
func newEnv(t *testing.T, db *storage.DB) *env {
	return newEnvWith(t, db, app.Options{RemindNowInterval: -1})
}

// newEnvWith is newEnv with the services built with opts (their clocks
// are the env's).
func newEnvWith(t *testing.T, db *storage.DB, opts app.Options) *env {
	t.Helper()
	clk := &clock{t: testNow}
	opts.Now, opts.DatabaseNow = clk.Now, storage.FollowClock(clk.Now)
	svc := testServices(t, db, opts)
	e := &env{t: t, db: db, svc: svc, clock: clk, httpc: &http.Client{Timeout: 30 * time.Second}}
	e.base = serve(t, svc, web.Config{SignInPerMinute: 1000})
	return e
}

// testServices are the services on db as tests use them: with cheap
// hashes (production uses argon2id's defaults) that wait as long as they
// need for a slot, and tokens that outlive the months tests move the clock
// by. The tests of those limits set their own.
func testServices(t testing.TB, db *storage.DB, opts app.Options) *app.Services {
	opts.TokenLifetime, opts.TokenIdleTimeout = 100*365*24*time.Hour, 100*365*24*time.Hour
	opts.Keys = dbtest.Keys(t, db)
	svc := app.New(db, opts)
	svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	svc.Accounts.Hashing = accounts.NewHashLimit(runtime.GOMAXPROCS(0), time.Minute)
	return svc
}

// serve starts a server on the services with cfg (logging nowhere) and
// returns its base URL; it stops when the test ends.
func serve(t *testing.T, svc *app.Services, cfg web.Config) string {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := web.New(svc, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App().Listener(ln)
	t.Cleanup(func() { srv.App().ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

// with returns an env on the same database whose requests go to another
// server on the same services, configured with cfg.
func (e *env) with(cfg web.Config) *env {
	return &env{t: e.t, db: e.db, svc: e.svc, clock: e.clock, httpc: e.httpc, base: serve(e.t, e.svc, cfg)}
}

// user creates a staff member with role and returns their id and a token.
func (e *env) user(role accounts.Role) (int64, string) {
	e.t.Helper()
	n := e.seq.Add(1)
	u, err := e.svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{
		Email: fmt.Sprintf("%s%d@agency.test", role, n), Name: fmt.Sprintf("%s %d", role, n),
		Role: role, Password: "correct horse battery"})
	if err != nil {
		e.t.Fatalf("create %s: %v", role, err)
	}
	token, _, err := e.svc.Accounts.CreateToken(context.Background(), nil, u.ID, "test")
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	return u.ID, token
}

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r *response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// ID is the numeric "id" of a JSON object response.
func (r *response) ID(t testing.TB) int64 {
	t.Helper()
	id, ok := r.JSON(t)["id"].(float64)
	if !ok {
		t.Fatalf("response has no id: %s", r.Body)
	}
	return int64(id)
}

// ErrorCode is error.code of an error response.
func (r *response) ErrorCode(t testing.TB) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// ErrorFields is error.fields of an error response.
func (r *response) ErrorFields(t testing.TB) map[string]any {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

// do sends a request. body may be nil, a string (sent as is) or a value
// (sent as JSON). headers come in name, value pairs; a name given twice is
// sent as two header lines.
func (e *env) do(token, method, path string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// A header named twice is sent as two lines.
	named := map[string]bool{}
	for i := 0; i+1 < len(headers); i += 2 {
		if named[http.CanonicalHeaderKey(headers[i])] {
			req.Header.Add(headers[i], headers[i+1])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
		named[http.CanonicalHeaderKey(headers[i])] = true
	}
	res, err := e.httpc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *env) must(want int, token, method, path string, body any, headers ...string) *response {
	e.t.Helper()
	r := e.do(token, method, path, body, headers...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.Status, want, r.Body)
	}
	return r
}

// device takes a device into the pool and returns its id.
func (e *env) device(coordinator string, kind string) int64 {
	e.t.Helper()
	n := e.seq.Add(1)
	return e.must(201, coordinator, "POST", "/api/v1/devices", map[string]any{
		"kind": kind, "make": "Acme", "model": "One", "serial": fmt.Sprintf("SN-%d", n)}).ID(e.t)
}

// client records a client for the social worker and returns its id.
func (e *env) client(worker string) int64 {
	e.t.Helper()
	n := e.seq.Add(1)
	return e.must(201, worker, "POST", "/api/v1/clients", map[string]any{
		"case_number": fmt.Sprintf("CASE-%d", n), "first_name": "Ana", "last_name": fmt.Sprintf("Client%d", n),
		"phone": "+1 312 555 0100", "preferred_channel": "sms", "household_size": 3}).ID(e.t)
}

// walkIn is the written justification of a loan issued without a device
// request.
const walkIn = "came to the front desk without a request"

// referred records a client for the social worker and refers them to the
// program, as a coordinator needs before serving them; it returns the
// client's id.
func (e *env) referred(worker string) int64 {
	e.t.Helper()
	id := e.client(worker)
	e.refer(worker, id)
	return id
}

// refer has the social worker refer their client to the program by asking
// for a device of kind "other" (which no test takes in) for them, and
// returns the request's id. Until it is cancelled, coordinators see the
// client.
func (e *env) refer(worker string, client int64) int64 {
	e.t.Helper()
	return e.must(201, worker, "POST", "/api/v1/requests", map[string]any{
		"client_id": client, "device_kind": "other", "reason": "referral"}).ID(e.t)
}

// loan issues a device to a client as a walk-in, due in a month, and
// returns the loan id.
func (e *env) loan(coordinator string, clientID, deviceID int64) int64 {
	e.t.Helper()
	return e.must(201, coordinator, "POST", "/api/v1/loans", map[string]any{
		"client_id": clientID, "device_id": deviceID, "due_on": "2026-04-10", "walk_in_justification": walkIn}).ID(e.t)
}

func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }
