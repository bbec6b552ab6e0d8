package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBuffer holds the service's log lines for a moment and writes them out
// together: every flushEvery, as soon as logBufferLimit bytes wait, at a
// warning or an error (so what explains a failure is never held back), and
// at Close. One request log line per request written straight out was a
// write system call each, taken under the log handler's lock; under load
// that was a tenth of the server's CPU time (docs/PERFORMANCE.md).
type logBuffer struct {
	mu  sync.Mutex
	out io.Writer
	buf []byte
	err error // the first write error, after which lines are dropped
	// closed: lines are written straight out.
	closed    bool
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// logBufferLimit is how much the buffer holds before it is written out
// at once; flushEvery how long a line may wait.
const (
	logBufferLimit = 32 << 10
	flushEvery     = 100 * time.Millisecond
)

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out, buf: make([]byte, 0, logBufferLimit), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushPeriodically()
	return b
}

func (b *logBuffer) flushPeriodically() {
	defer close(b.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write keeps p (one log record: handlers write each in one call) for the
// next flush. It never fails: a logger has nowhere to report a failure.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if b.closed || len(b.buf) >= logBufferLimit {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes out what waits.
func (b *logBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// flushLocked writes out what waits. A batch the writer refuses is lost,
// as a line would be that slog could not write; the next is tried anew.
func (b *logBuffer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.out.Write(b.buf)
	if cap(b.buf) > 4*logBufferLimit { // one huge line: not kept for ever
		b.buf = make([]byte, 0, logBufferLimit)
	} else {
		b.buf = b.buf[:0]
	}
}

// Close stops the periodic flush and writes out what waits; lines written
// after it are written straight out.
func (b *logBuffer) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		b.flushLocked()
		b.closed = true
	})
}

// flushAtWarnings is a handler that flushes its logBuffer after each record
// at warning level or above.
type flushAtWarnings struct {
	slog.Handler
	buf *logBuffer
}

func (h flushAtWarnings) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.buf.Flush()
	}
	return err
}

func (h flushAtWarnings) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushAtWarnings{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushAtWarnings) WithGroup(name string) slog.Handler {
	return flushAtWarnings{h.Handler.WithGroup(name), h.buf}
}
