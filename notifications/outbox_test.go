package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// recorder is a channel that counts deliveries per notification, and
// fails while failing is set.
type recorder struct {
	mu        sync.Mutex
	delivered map[int64]int
	failing   bool
}

func (r *recorder) Send(ctx context.Context, n *Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("provider said 503")
	}
	if r.delivered == nil {
		r.delivered = map[int64]int{}
	}
	r.delivered[n.ID]++
	return nil
}

func newOutbox(db *storage.DB, clk *testClock, ch Channel) *Outbox {
	return &Outbox{DB: db, Now: clk.Now, Channels: map[string]Channel{"sms": ch}, Lease: time.Minute, MaxAttempts: 3}
}

func note(key string, at time.Time) *Notification {
	return &Notification{Kind: LoanDueSoon, DedupKey: key, Channel: "sms", Address: "+15550100", Language: "en",
		Body: "Hi Rosa", ScheduledAt: at}
}

func status(t *testing.T, db *storage.DB, key string) Notification {
	t.Helper()
	var n Notification
	if err := db.NewSelect().Model(&n).Where("dedup_key = ?", key).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnqueueIsDeduplicated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		o := newOutbox(db, clk, &recorder{})
		for i, want := range []bool{true, false, false} {
			fresh, err := o.Enqueue(context.Background(), db, note("loan:1:due_soon:3", clk.Now()))
			if err != nil || fresh != want {
				t.Fatalf("enqueue %d: new=%v err=%v, want new=%v", i, fresh, err, want)
			}
		}
		n, _ := db.NewSelect().Model((*Notification)(nil)).Count(context.Background())
		if n != 1 {
			t.Fatalf("%d rows for one dedup key", n)
		}
	})
}

func TestDispatchSendsWhatIsDueAndRetriesFailures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &recorder{}
		o := newOutbox(db, clk, ch)
		o.Enqueue(ctx, db, note("now", clk.Now()))
		o.Enqueue(ctx, db, note("later", clk.Now().Add(time.Hour)))
		res, err := o.Dispatch(ctx, 10)
		if err != nil || res.Sent != 1 {
			t.Fatalf("first pass: %+v %v", res, err)
		}
		if s := status(t, db, "now"); s.Status != Sent || s.SentAt == nil || s.Attempts != 1 {
			t.Fatalf("sent notification: %+v", s)
		}
		if s := status(t, db, "later"); s.Status != Pending {
			t.Fatalf("a notification not yet due was touched: %+v", s)
		}

		// A failing provider: retried with backoff, then given up on.
		ch.failing = true
		clk.Add(time.Hour)
		if res, _ := o.Dispatch(ctx, 10); res.Retrying != 1 {
			t.Fatalf("first failure: %+v", res)
		}
		s := status(t, db, "later")
		if s.Status != Pending || s.Attempts != 1 || s.LastError == "" || !s.NextAttemptAt.Equal(clk.Now().Add(Backoff(1))) {
			t.Fatalf("after one failure: %+v", s)
		}
		if res, _ := o.Dispatch(ctx, 10); res != (DispatchResult{}) {
			t.Fatalf("a retry before its backoff: %+v", res)
		}
		clk.Add(Backoff(1))
		o.Dispatch(ctx, 10)
		clk.Add(Backoff(2))
		if res, _ := o.Dispatch(ctx, 10); res.Failed != 1 {
			t.Fatalf("third failure with MaxAttempts 3: %+v", res)
		}
		if s := status(t, db, "later"); s.Status != Failed || s.Attempts != 3 {
			t.Fatalf("after giving up: %+v", s)
		}
	})
}

// Two dispatchers on one database deliver every notification exactly once.
func TestTwoDispatchersNeverSendTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &recorder{}
		const total = 200
		o := newOutbox(db, clk, ch)
		for i := 0; i < total; i++ {
			if _, err := o.Enqueue(ctx, db, note(fmt.Sprintf("k%d", i), clk.Now())); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := newOutbox(db, clk, ch)
				for {
					res, err := d.Dispatch(ctx, 7)
					if err != nil {
						errs <- err
						return
					}
					if res == (DispatchResult{}) {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(ch.delivered) != total {
			t.Fatalf("%d of %d delivered", len(ch.delivered), total)
		}
		for id, n := range ch.delivered {
			if n != 1 {
				t.Fatalf("notification %d delivered %d times", id, n)
			}
		}
	})
}

// A dispatcher that dies after claiming leaves nothing behind for good:
// once its lease expires another takes the work over.
func TestAnExpiredClaimIsTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &recorder{}
		o := newOutbox(db, clk, ch)
		o.Enqueue(ctx, db, note("orphan", clk.Now()))
		if claimed, _, err := o.claim(ctx, 10, 0); err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		// The claimer "dies". Within the lease nobody else sends it.
		if res, _ := o.Dispatch(ctx, 10); res.Sent != 0 {
			t.Fatalf("a live claim was taken over: %+v", res)
		}
		clk.Add(o.Lease + time.Second)
		if res, _ := o.Dispatch(ctx, 10); res.Sent != 1 {
			t.Fatalf("the expired claim was not taken over: %+v", res)
		}
	})
}

// hookChannel runs a function on each send, then records the delivery.
type hookChannel struct {
	recorder
	onSend func(n *Notification)
}

func (h *hookChannel) Send(ctx context.Context, n *Notification) error {
	if h.onSend != nil {
		h.onSend(n)
	}
	return h.recorder.Send(ctx, n)
}

// A batch slower than its lease: the rows whose claim lapsed are taken
// over by another dispatcher, and the slow one does not send them again.
func TestASlowBatchDoesNotSendRowsTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &hookChannel{}
		slow, other := newOutbox(db, clk, ch), newOutbox(db, clk, ch)
		for i := range 3 {
			slow.Enqueue(ctx, db, note(fmt.Sprint("slow-", i), clk.Now()))
		}
		// Each send takes 60% of the lease. During the second one the
		// third row's claim lapses and the other dispatcher runs.
		var takenOver DispatchResult
		sends := 0
		ch.onSend = func(n *Notification) {
			sends++
			clk.Add(slow.Lease * 6 / 10)
			if sends == 2 {
				var err error
				if takenOver, err = other.Dispatch(ctx, 10); err != nil {
					t.Error(err)
				}
			}
		}
		res, err := slow.Dispatch(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 2 || takenOver.Sent != 1 {
			t.Fatalf("the slow dispatcher sent %d, the other %d; want 2 and 1", res.Sent, takenOver.Sent)
		}
		for id, n := range ch.delivered {
			if n != 1 {
				t.Errorf("notification %d delivered %d times", id, n)
			}
		}
		if len(ch.delivered) != 3 {
			t.Fatalf("delivered: %v", ch.delivered)
		}
	})
}

func TestTruncateKeepsCharactersWhole(t *testing.T) {
	if got := truncate("añb", 2); got != "a" {
		t.Fatalf("truncate split a character: %q", got)
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Fatalf("%q", got)
	}
}
