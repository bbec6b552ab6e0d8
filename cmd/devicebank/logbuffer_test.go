package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer whose content may be read while it is written.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogLinesWaitAMomentButWarningsGoOutAtOnce(t *testing.T) {
	var out lockedBuffer
	buf := newLogBuffer(&out)
	defer buf.Close()
	cfg := config{LogLevel: "info", LogFormat: "text"}
	log, err := cfg.logger(buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request", "route", "/api/v1/devices/:id")
	// Held: written out by the next flush, not by this call. (The periodic
	// flush could come between the two lines; then this check is skipped.)
	held := out.String() == ""
	log.With("part", "sweep").Warn("the sweep failed")
	got := out.String()
	if !strings.Contains(got, "msg=request") || !strings.Contains(got, "the sweep failed") || strings.Index(got, "msg=request") > strings.Index(got, "the sweep failed") {
		t.Fatalf("after a warning the log holds %q, want the request line then the warning", got)
	}
	if held && out.writes != 1 {
		t.Errorf("the two lines took %d writes, want one", out.writes)
	}

	// A line without a warning after it is written out within a flush period.
	log.Info("request", "route", "/api/v1/loans")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "/api/v1/loans") {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not written out in 5 s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogBufferKeepsEveryLineWholeUnderConcurrency(t *testing.T) {
	var out lockedBuffer
	buf := newLogBuffer(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				fmt.Fprintf(buf, "goroutine=%d line=%d %s\n", g, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	buf.Close()
	// Written after Close: straight out.
	fmt.Fprintf(buf, "after close\n")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*2000+1 || lines[len(lines)-1] != "after close" {
		t.Fatalf("%d lines, the last %q; want %d and the line written after Close", len(lines), lines[len(lines)-1], 8*2000+1)
	}
	next := make([]int, 8)
	for _, l := range lines[:len(lines)-1] {
		var g, i int
		if _, err := fmt.Sscanf(l, "goroutine=%d line=%d", &g, &i); err != nil || g < 0 || g >= 8 || i != next[g] || len(l) != len(fmt.Sprintf("goroutine=%d line=%d ", g, i))+40 {
			t.Fatalf("line %q: broken, or out of its goroutine's order (want line %d)", l, next[min(max(g, 0), 7)])
		}
		next[g]++
	}
	// 8 × 2000 lines of about 60 bytes is about 30 buffers' worth: written
	// in large writes, not one per line.
	if out.writes > 200 {
		t.Errorf("%d writes for %d lines, want them gathered", out.writes, len(lines))
	}
}
