package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// syncBuffer is a bytes.Buffer safe to write from serve and read here.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve in this process with args until it listens, and
// returns a function that stops it (as SIGTERM would) and returns its exit
// code and standard error.
func startServe(t *testing.T, args ...string) (stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), nil, w, &stderr)
		w.Close()
		done <- code
	}()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.Contains(lines.Text(), "listening on") {
	}
	go io.Copy(io.Discard, stdout)
	return func() (int, string) {
		cancel()
		return <-done, stderr.String()
	}
}

func TestServeLinksTheAuditTrailAndAuditVerifyChecksIt(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			t.Setenv("DATABASE_URL", url)
			t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
			// serve creates the first admin (an audit event) and links it
			// within a second.
			stop := startServe(t, "--audit-chain-schedule", "@every 1s", "--timezone", "UTC")
			deadline := time.Now().Add(20 * time.Second)
			var out string
			for {
				code, o, errOut := runCmd(t, "audit", "verify")
				out = o
				if code != 0 {
					t.Fatalf("audit verify: exit %d, %s%s", code, o, errOut)
				}
				if strings.Contains(out, "Not linked yet: 0 ") && !strings.Contains(out, "Linked events: 0") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("serve did not link the audit trail in 20 s: %s", out)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if code, errOut := stop(); code != 0 {
				t.Fatalf("serve: exit %d, %s", code, errOut)
			}
			if !strings.Contains(out, "The audit trail is intact. Linked events: 1; the last, at place 1, has the MAC") {
				t.Errorf("audit verify said %q", out)
			}
			// The checkpoint it printed holds; a half one is refused.
			mac := regexp.MustCompile(`--expect-mac (\S+):`).FindStringSubmatch(out)
			if mac == nil {
				t.Fatalf("no checkpoint in %q", out)
			}
			if code, o, errOut := runCmd(t, "audit", "verify", "--expect-place", "1", "--expect-mac", mac[1]); code != 0 {
				t.Errorf("against its checkpoint: exit %d, %s%s", code, o, errOut)
			}
			if code, _, errOut := runCmd(t, "audit", "verify", "--expect-place", "1"); code != 1 || !strings.Contains(errOut, "go together") {
				t.Errorf("--expect-place alone: exit %d, %s", code, errOut)
			}

			// Edited behind the service's back: found, exit 1.
			db := dbtest.OpenURL(t, url)
			if _, err := db.ExecContext(context.Background(), "UPDATE audit_events SET action = 'user.deactivated'"); err != nil {
				t.Fatal(err)
			}
			code, o, errOut := runCmd(t, "audit", "verify")
			if code != 1 || !strings.Contains(errOut, "the audit trail is broken at place 1: event 1 was changed after it was linked") || o != "" {
				t.Errorf("after an edit: exit %d, stdout %q, stderr %q", code, o, errOut)
			}
			// Without the data key it cannot be checked, and says so.
			t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
			if code, _, errOut := runCmd(t, "audit", "verify"); code != 1 || !strings.Contains(errOut, "not the one this database's keys were made with") {
				t.Errorf("another key: exit %d, %s", code, errOut)
			}
		})
	}
}

func TestABadAuditChainScheduleIsRefused(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	code, _, errOut := runCmd(t, "serve", "--addr", "127.0.0.1:0", "--audit-chain-schedule", "every minute")
	if code != 1 || !strings.Contains(errOut, `--audit-chain-schedule "every minute"`) {
		t.Errorf("exit %d, %s", code, errOut)
	}
}
