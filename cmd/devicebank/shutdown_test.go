package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// logLines collects what a server writes to standard error, line by line,
// and lets a test wait for a line.
type logLines struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced at each new line
	eof   chan struct{} // closed when r has ended
}

func watchLog(r io.Reader) *logLines {
	l := &logLines{more: make(chan struct{}), eof: make(chan struct{})}
	go func() {
		defer close(l.eof)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			close(l.more)
			l.more = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// waitFor waits for a line containing want and returns its index.
func (l *logLines) waitFor(t *testing.T, want string) int {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for i, line := range l.lines {
			if strings.Contains(line, want) {
				l.mu.Unlock()
				return i
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no log line %q:\n%s", want, l.String())
		}
	}
}

// stepsInOrder checks that the shutdown logged each step, in order.
func (l *logLines) stepsInOrder(t *testing.T) {
	t.Helper()
	last := -1
	for _, step := range []string{"shutting down: no longer accepting connections", "requests in flight finished",
		"schedules stopped", "scheduled jobs finished", "database closed"} {
		i := l.waitFor(t, step)
		if i < last {
			t.Errorf("the shutdown logged %q out of order:\n%s", step, l.String())
		}
		last = i
	}
}

// served is the built binary serving on a free port.
type served struct {
	cmd                             *exec.Cmd
	addr, adminEmail, adminPassword string // the first admin, on a new database
	stdout, logs                    *logLines
	done                            chan struct{} // closed once it has exited, with err
	err                             error
}

// startServing runs bin serve on a free port with env added to the
// environment, and waits until it listens. It is killed when the test ends
// if it is still running.
func startServing(t *testing.T, bin string, env ...string) *served {
	t.Helper()
	s := &served{cmd: exec.Command(bin, "serve", "--addr", "127.0.0.1:0"), done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), env...)
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = outW, errW
	s.stdout, s.logs = watchLog(outR), watchLog(errR)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait() // after copying all the output
		outW.Close()
		errW.Close()
		<-s.stdout.eof
		<-s.logs.eof
		close(s.done)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	i := s.stdout.waitFor(t, "listening on")
	s.stdout.mu.Lock()
	for _, line := range s.stdout.lines[:i+1] {
		if m := regexp.MustCompile(`email:\s+(\S+)`).FindStringSubmatch(line); m != nil {
			s.adminEmail = m[1]
		}
		if m := regexp.MustCompile(`one-time password:\s+(\S+)`).FindStringSubmatch(line); m != nil {
			s.adminPassword = m[1]
		}
		if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(line); m != nil {
			s.addr = m[1]
		}
	}
	s.stdout.mu.Unlock()
	return s
}

// stop sends sig and returns how the process exited, once all its output
// is read.
func (s *served) stop(sig os.Signal) error {
	s.cmd.Process.Signal(sig)
	<-s.done
	return s.err
}

// buildStamped compiles devicebank with version control information when
// the source is a clone (go build's default, which GOFLAGS may turn off).
func buildStamped(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "devicebank")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// SIGTERM to the real binary while a request is being received: the
// server stops accepting connections at once, but the request in flight
// completes and its change is committed; then the schedules stop, the
// database is closed, each step logged, and the process exits 0. The
// request is held open deterministically: it asks for "100 Continue" and
// sends the second half of its body only after the listener is closed.
// The binary's version command and /healthz name the same build.
func TestSIGTERMLetsARequestInFlightFinish(t *testing.T) {
	bin := buildStamped(t)
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			dbURL := dbtest.FreshURL(t, engine)
			srv := startServing(t, bin, "DATABASE_URL="+dbURL, "DEVICEBANK_ADMIN_EMAIL=it@agency.test", "DEVICEBANK_TIMEZONE=UTC")
			addr, password, logs := srv.addr, srv.adminPassword, srv.logs

			// The build's version, in /healthz as in devicebank version.
			res, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			var health map[string]any
			json.NewDecoder(res.Body).Decode(&health)
			res.Body.Close()
			versionOut, err := exec.Command(bin, "version").Output()
			if err != nil {
				t.Fatal(err)
			}
			if health["status"] != "ok" || !strings.HasPrefix(string(versionOut), fmt.Sprintf("devicebank %s\n", health["version"])) {
				t.Errorf("healthz %v; devicebank version printed %q; want the same version", health, versionOut)
			}
			// Go stamps the version and commit in a clone (a .git folder;
			// not in a git worktree, whose .git is a file); else "(devel)".
			if fi, err := os.Stat("../../.git"); err != nil || !fi.IsDir() {
				if health["version"] != "(devel)" {
					t.Errorf("healthz version %v outside a clone, want (devel)", health["version"])
				}
			} else {
				head, err := exec.Command("git", "rev-parse", "HEAD").Output()
				if err != nil {
					t.Fatalf("git rev-parse HEAD (go build needs git to stamp the commit): %v", err)
				}
				if !strings.Contains(string(versionOut), "commit:   "+strings.TrimSpace(string(head))) {
					t.Errorf("devicebank version printed %q, want the commit %s", versionOut, head)
				}
			}

			// The admin's first sign-in, which sets their password, begins.
			body, _ := json.Marshal(map[string]string{"email": "it@agency.test", "password": password, "new_password": "a passphrase set during shutdown"})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /api/v1/auth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
				"Expect: 100-continue\r\n\r\n", addr, len(body))
			replies := bufio.NewReader(conn)
			if cont, err := http.ReadResponse(replies, nil); err != nil || cont.StatusCode != http.StatusContinue {
				t.Fatalf("the server did not ask for the body: %v %v", cont, err)
			}
			half := len(body) / 2
			if _, err := conn.Write(body[:half]); err != nil {
				t.Fatal(err)
			}

			if err := syscall.Kill(srv.cmd.Process.Pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			logs.waitFor(t, "shutting down")
			// New connections are refused from now on.
			for refused := false; !refused; {
				c, err := net.Dial("tcp", addr)
				if refused = err != nil; !refused {
					c.Close()
					time.Sleep(10 * time.Millisecond)
				}
			}

			if _, err := conn.Write(body[half:]); err != nil {
				t.Fatal(err)
			}
			res, err = http.ReadResponse(replies, nil)
			if err != nil {
				t.Fatalf("the request in flight was not answered: %v\n%s", err, logs.String())
			}
			var signedIn map[string]any
			json.NewDecoder(res.Body).Decode(&signedIn)
			if res.StatusCode != http.StatusCreated || !strings.HasPrefix(fmt.Sprint(signedIn["token"]), "dbk_") {
				t.Fatalf("the request in flight: status %d, %v", res.StatusCode, signedIn)
			}
			if <-srv.done; srv.err != nil {
				t.Fatalf("serve after SIGTERM: %v\n%s", srv.err, logs.String())
			}
			logs.stepsInOrder(t)

			// Its change was committed: the new password is the admin's.
			db := dbtest.OpenURL(t, dbURL)
			acc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)}).Accounts
			if _, _, err := acc.SignIn(context.Background(), accounts.SignIn{Email: "it@agency.test", Password: "a passphrase set during shutdown"}, ""); err != nil {
				t.Errorf("the password set by the request in flight: %v", err)
			}
		})
	}
}

// blockingSMS is an SMS provider that tells when a message arrives and
// answers only when released.
type blockingSMS struct {
	arrived chan struct{}
	release chan struct{}
	mu      sync.Mutex
	bodies  []string
}

func newBlockingSMS(t *testing.T) (*blockingSMS, *httptest.Server) {
	p := &blockingSMS{arrived: make(chan struct{}, 10), release: make(chan struct{})}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func (p *blockingSMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	p.bodies = append(p.bodies, r.PostForm.Get("Body"))
	p.mu.Unlock()
	p.arrived <- struct{}{}
	select {
	case <-p.release:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"sid": "SM1", "status": "queued"}`)
}

func (p *blockingSMS) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bodies)
}

// reminderBeingSent prepares a database with one reminder due, by SMS, to
// a provider that answers only when released, and the settings to serve
// with it.
func reminderBeingSent(t *testing.T, engine storage.Dialect) (string, *blockingSMS) {
	t.Helper()
	url := dbtest.FreshURL(t, engine)
	seedDueLoan(t, url)
	provider, fake := newBlockingSMS(t)
	for k, v := range map[string]string{"DATABASE_URL": url, "DEVICEBANK_REMINDER_POLICY": noQuietHoursPolicy(t), "DEVICEBANK_AGENCY_PHONE": "312-555-0199",
		"DEVICEBANK_TIMEZONE": "UTC", "DEVICEBANK_SMS_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "DEVICEBANK_SMS_AUTH_TOKEN": "sms-test-token",
		"DEVICEBANK_SMS_FROM": "+13125550100", "DEVICEBANK_SMS_BASE_URL": fake.URL, "DEVICEBANK_SMS_WEBHOOK_URL": "https://agency.test/api/v1/sms/inbound"} {
		t.Setenv(k, v)
	}
	if out, _ := notifyPass(t, "sweep"); !strings.HasPrefix(out, "sweep: 1 created") {
		t.Fatalf("sweep: %q", out)
	}
	return url, provider
}

// serveDispatching runs serve in this process with only the dispatch
// scheduled, every second, until ctx ends (the signal); done gets its exit
// code.
func serveDispatching(ctx context.Context, args ...string) (logs *logLines, done chan int) {
	stderr, w := io.Pipe()
	logs, done = watchLog(stderr), make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--dispatch-schedule", "@every 1s", "--sweep-schedule", "off",
			"--digest-schedule", "off", "--report-schedule", "off"}, args...), nil, io.Discard, w)
		w.Close()
		done <- code
	}()
	return logs, done
}

// outboxRows reads the outbox, logging it for a failure's sake (no
// address, no text).
func outboxRows(t *testing.T, url string) []notifications.Notification {
	t.Helper()
	var rows []notifications.Notification
	if err := dbtest.OpenURL(t, url).NewSelect().Model(&rows).OrderExpr("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range rows {
		t.Logf("notification %d: %s, %d attempts, claimed until %v, last error %q", n.ID, n.Status, n.Attempts, n.ClaimedUntil, n.LastError)
	}
	return rows
}

// A reminder being sent when the signal comes is sent once and recorded
// as sent: the scheduled dispatch does not run on the signal's context, so
// the signal does not cut the send short, and serve waits for it. A later
// dispatch has nothing left to send.
func TestShutdownLetsAReminderBeingSentFinish(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url, provider := reminderBeingSent(t, engine)
			ctx, signal := context.WithCancel(context.Background())
			defer signal()
			logs, done := serveDispatching(ctx)
			<-provider.arrived // the dispatcher is sending the reminder
			signal()
			logs.waitFor(t, "waiting for the scheduled jobs running")
			close(provider.release)
			if code := <-done; code != 0 {
				t.Fatalf("serve exited %d:\n%s", code, logs.String())
			}
			logs.stepsInOrder(t)
			if n := provider.received(); n != 1 {
				t.Fatalf("the provider received %d messages, want 1", n)
			}
			if rows := outboxRows(t, url); len(rows) != 1 || rows[0].Status != notifications.Sent || rows[0].Attempts != 1 || rows[0].ClaimedUntil != nil {
				t.Fatalf("the outbox after the shutdown has %d rows, want 1 sent once", len(rows))
			}
			if out, _ := notifyPass(t, "dispatch"); !strings.HasPrefix(out, "dispatch: 0 created, 0 sent") || provider.received() != 1 {
				t.Fatalf("a dispatch after the shutdown: %q, the provider has %d messages", out, provider.received())
			}
		})
	}
}

// At the shutdown deadline a dispatch still running is cancelled: the
// send in the provider's hands finishes and is recorded (neither lost nor
// sent again), and the reminder claimed in the same batch but not reached
// goes back to pending, unsent and not counted as an attempt, for the next
// run, which sends it once. serve exits 1, saying what the deadline cut off.
func TestShutdownDeadlineReleasesUnsentReminders(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url, provider := reminderBeingSent(t, engine)
			// A second reminder, due as the first, claimed in the same batch.
			ctx := context.Background()
			db := dbtest.OpenURL(t, url)
			var first notifications.Notification
			if err := db.NewSelect().Model(&first).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			second := first
			second.ID, second.DedupKey = 0, first.DedupKey+":again"
			outbox := app.New(db, app.Options{Keys: dbtest.Keys(t, db)}).Notifications.Outbox
			if ok, err := outbox.Enqueue(ctx, db, &second); err != nil || !ok {
				t.Fatalf("enqueue a second reminder: %v %v", ok, err)
			}

			sigCtx, signal := context.WithCancel(ctx)
			defer signal()
			logs, done := serveDispatching(sigCtx, "--shutdown-timeout", "1s")
			<-provider.arrived // the first is with the provider, which does not answer yet
			signal()
			// The deadline passes with the send in progress: the dispatch is
			// cancelled, but a message handed to the provider is not cut off
			// (its outcome would be unknown, and a retry could send it
			// twice). The provider answers after the deadline.
			logs.waitFor(t, "scheduled jobs still running at the shutdown deadline are cancelled")
			close(provider.release)
			if code := <-done; code != 1 {
				t.Fatalf("serve exited %d, want 1:\n%s", code, logs.String())
			}
			logs.stepsInOrder(t)
			logs.waitFor(t, "scheduled jobs still running after --shutdown-timeout 1s were cancelled")
			rows := outboxRows(t, url)
			if len(rows) != 2 || rows[0].Status != notifications.Sent || rows[0].Attempts != 1 ||
				rows[1].Status != notifications.Pending || rows[1].Attempts != 0 || rows[1].ClaimedUntil != nil || rows[1].ID != second.ID {
				t.Fatalf("after the deadline the outbox has %d rows; want the first sent, the second back to pending unsent", len(rows))
			}
			if n := provider.received(); n != 1 {
				t.Fatalf("the provider received %d messages by the end of serve, want 1", n)
			}

			// The next run sends the released one, once, and not the first again.
			if out, _ := notifyPass(t, "dispatch"); !strings.HasPrefix(out, "dispatch: 0 created, 1 sent") || provider.received() != 2 {
				t.Fatalf("the next dispatch: %q, the provider has %d messages, want 2", out, provider.received())
			}
			if rows := outboxRows(t, url); rows[0].Attempts != 1 || rows[1].Status != notifications.Sent || rows[1].Attempts != 1 {
				t.Fatalf("after the next dispatch: %s with %d attempts, %s with %d", rows[0].Status, rows[0].Attempts, rows[1].Status, rows[1].Attempts)
			}
		})
	}
}

// A bad --shutdown-timeout stops serve before it starts, naming the setting.
func TestServeRefusesABadShutdownTimeout(t *testing.T) {
	url := dbtest.FreshURL(t, "sqlite")
	t.Setenv("DATABASE_URL", url)
	for _, bad := range []string{"soon", "0", "-5s", "20"} {
		var errOut bytes.Buffer
		if code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--shutdown-timeout", bad}, nil, io.Discard, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "--shutdown-timeout") {
			t.Errorf("serve --shutdown-timeout %s: exit %d, %q", bad, code, errOut.String())
		}
		t.Setenv("DEVICEBANK_SHUTDOWN_TIMEOUT", bad)
		errOut.Reset()
		if code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, nil, io.Discard, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "--shutdown-timeout") {
			t.Errorf("serve with DEVICEBANK_SHUTDOWN_TIMEOUT=%s: exit %d, %q", bad, code, errOut.String())
		}
		t.Setenv("DEVICEBANK_SHUTDOWN_TIMEOUT", "")
	}
	// Nothing was started: the database was not even created.
	if _, err := os.Stat(sqlitePath(url)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused serve touched the database: %v", err)
	}
}
