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

// newOutbox is an outbox (an instance) whose clock and database clock are
// both clk; tests of clock skew give instances clocks of their own.
func newOutbox(t testing.TB, db *storage.DB, clk *testClock, ch Channel) *Outbox {
	return &Outbox{DB: db, Now: clk.Now, Channels: map[string]Channel{"sms": ch}, Lease: time.Minute, MaxAttempts: 3,
		DatabaseNow: storage.FollowClock(clk.Now), Keys: dbtest.Keys(t, db)}
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
		o := newOutbox(t, db, clk, &recorder{})
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
		o := newOutbox(t, db, clk, ch)
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
		o := newOutbox(t, db, clk, ch)
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
				d := newOutbox(t, db, clk, ch)
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
// once its lease expires, by the database's clock, another instance takes
// the work over and sends it once. Until then it is left alone, however
// far the other instance's own clock has run ahead.
func TestAnExpiredClaimIsTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		dbClock := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &recorder{}
		dead := newOutbox(t, db, dbClock, ch)
		dead.Enqueue(ctx, db, note("orphan", dbClock.Now()))
		if claimed, _, err := dead.claim(ctx, 10, 0); err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		// The claimant "dies". Within the lease nobody else sends it, even
		// an instance whose clock is an hour ahead.
		aheadClock := &testClock{t: dbClock.Now().Add(time.Hour)}
		other := newOutbox(t, db, dbClock, ch)
		other.Now = aheadClock.Now
		if res, err := other.Dispatch(ctx, 10); err != nil || res != (DispatchResult{}) {
			t.Fatalf("a live claim was taken over: %+v %v", res, err)
		}
		dbClock.Add(other.Lease - time.Second)
		if res, _ := other.Dispatch(ctx, 10); res.Sent != 0 {
			t.Fatalf("a claim was taken over a second before its lease ended: %+v", res)
		}
		dbClock.Add(2 * time.Second)
		if res, err := other.Dispatch(ctx, 10); err != nil || res.Sent != 1 {
			t.Fatalf("the expired claim was not taken over: %+v %v", res, err)
		}
		if s := status(t, db, "orphan"); s.Status != Sent || s.ClaimedUntil != nil || len(ch.delivered) != 1 || ch.delivered[s.ID] != 1 {
			t.Fatalf("after the takeover: %+v, deliveries %v", s, ch.delivered)
		}
	})
}

// Two instances whose clocks disagree by an hour, timed by the real
// database clock: the one running ahead does not take the other's live
// claim, and the row is sent once, by its claimant.
func TestClockSkewDoesNotStealALiveClaim(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ch := &recorder{}
		keys := dbtest.Keys(t, db)
		behind := &Outbox{DB: db, Now: time.Now, Channels: map[string]Channel{"sms": ch}, Lease: time.Minute, Keys: keys}
		ahead := &Outbox{DB: db, Now: func() time.Time { return time.Now().Add(time.Hour) }, Channels: map[string]Channel{"sms": ch},
			Lease: time.Minute, Keys: keys}
		behind.Enqueue(ctx, db, note("skewed", time.Now().Add(-time.Minute)))
		claimed, until, err := behind.claim(ctx, 10, 0)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		if res, err := ahead.Dispatch(ctx, 10); err != nil || res != (DispatchResult{}) {
			t.Fatalf("the instance an hour ahead took a claim with a minute of its lease left: %+v %v", res, err)
		}
		var res DispatchResult
		if err := behind.deliver(ctx, &claimed[0], until, &res); err != nil || res.Sent != 1 {
			t.Fatalf("the claimant could not send its row: %+v %v", res, err)
		}
		if len(ch.delivered) != 1 || ch.delivered[claimed[0].ID] != 1 {
			t.Fatalf("deliveries: %v, want one", ch.delivered)
		}
		// The lease itself is the database's: a minute from its clock, not
		// from either instance's.
		dbNow, err := storage.DatabaseNow(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if lease := until.Sub(dbNow); lease > time.Minute || lease < 50*time.Second {
			t.Fatalf("the claim ran until %v, %v after the database's now; want about a minute", until, lease)
		}
	})
}

// cancelling is a channel that delivers, then cancels the dispatch that
// called it, as SIGTERM or the job's deadline would between the provider's
// answer and the outcome's write.
type cancelling struct {
	recorder
	cancel context.CancelFunc
}

func (c *cancelling) Send(ctx context.Context, n *Notification) error {
	err := c.recorder.Send(ctx, n)
	c.cancel()
	return err
}

// A dispatch cancelled after a message went still records it as sent, so
// no instance sends it again after the lease; the rows it had not reached
// go straight back to pending, and another instance sends each of them
// once without waiting for the lease.
func TestCancelledDispatchRecordsWhatItSent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &cancelling{}
		first, second := newOutbox(t, db, clk, ch), newOutbox(t, db, clk, ch)
		for i := range 3 {
			first.Enqueue(context.Background(), db, note(fmt.Sprint("batch-", i), clk.Now()))
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch.cancel = cancel
		res, err := first.Dispatch(ctx, 10)
		if !errors.Is(err, context.Canceled) || res != (DispatchResult{Sent: 1}) {
			t.Fatalf("the cancelled dispatch: %+v %v, want 1 sent and context.Canceled", res, err)
		}
		if s := status(t, db, "batch-0"); s.Status != Sent || s.SentAt == nil || s.Attempts != 1 || s.ClaimedUntil != nil {
			t.Fatalf("the row sent before the cancellation: %+v, want it recorded as sent", s)
		}
		for _, key := range []string{"batch-1", "batch-2"} {
			if s := status(t, db, key); s.Status != Pending || s.ClaimedUntil != nil || s.Attempts != 0 {
				t.Fatalf("a row not reached: %+v, want it pending again, no attempt counted", s)
			}
		}
		// Another instance at once, and again after the first's lease.
		ch.cancel = func() {}
		if res, err := second.Dispatch(context.Background(), 10); err != nil || res.Sent != 2 {
			t.Fatalf("the other instance: %+v %v, want the 2 rows not reached", res, err)
		}
		clk.Add(first.Lease + time.Second)
		if res, err := second.Dispatch(context.Background(), 10); err != nil || res != (DispatchResult{}) {
			t.Fatalf("after the lease: %+v %v, want nothing left", res, err)
		}
		if len(ch.delivered) != 3 {
			t.Fatalf("deliveries: %v, want 3", ch.delivered)
		}
		for id, n := range ch.delivered {
			if n != 1 {
				t.Errorf("notification %d delivered %d times", id, n)
			}
		}
	})
}

// midSend is a channel whose send is in progress when the dispatch that
// called it is cancelled (SIGTERM past serve's deadline): it reports
// whether its own context was cancelled with the dispatch's.
type midSend struct {
	recorder
	cancelDispatch context.CancelFunc
	sendCancelled  bool
}

func (c *midSend) Send(ctx context.Context, n *Notification) error {
	c.cancelDispatch()
	select {
	case <-ctx.Done():
		c.sendCancelled = true
		return ctx.Err()
	case <-time.After(100 * time.Millisecond): // the provider answers
	}
	return c.recorder.Send(ctx, n)
}

// Cancelled while a message is in the provider's hands, the dispatch lets
// that send finish and records it: cut off, it could have arrived anyway
// and would be sent again at its retry. The rows not reached go back.
func TestCancelledDuringTheSendLetsItFinish(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ctx, cancel := context.WithCancel(context.Background())
		ch := &midSend{cancelDispatch: cancel}
		o := newOutbox(t, db, clk, ch)
		o.Enqueue(context.Background(), db, note("in-flight", clk.Now()))
		o.Enqueue(context.Background(), db, note("not-reached", clk.Now()))
		res, err := o.Dispatch(ctx, 10)
		if !errors.Is(err, context.Canceled) || res != (DispatchResult{Sent: 1}) || ch.sendCancelled {
			t.Fatalf("dispatch cancelled mid-send: %+v %v (send cancelled: %v), want the send finished and recorded", res, err, ch.sendCancelled)
		}
		sent, other := status(t, db, "in-flight"), status(t, db, "not-reached")
		if sent.Status != Sent || sent.Attempts != 1 || other.Status != Pending || other.Attempts != 0 || other.ClaimedUntil != nil {
			t.Fatalf("after the cancelled dispatch: %+v and %+v", sent, other)
		}
		ch.cancelDispatch = func() {}
		if res, err := o.Dispatch(context.Background(), 10); err != nil || res.Sent != 1 {
			t.Fatalf("the next dispatch: %+v %v, want the row not reached", res, err)
		}
		for id, n := range ch.delivered {
			if n != 1 {
				t.Errorf("notification %d delivered %d times", id, n)
			}
		}
	})
}

// Cancelled while the message is being prepared, the dispatch sends
// nothing: cancellation is checked before the send, not after.
func TestCancelledBeforeTheSendSendsNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		clk := &testClock{t: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
		ch := &recorder{}
		o := newOutbox(t, db, clk, ch)
		o.Enqueue(context.Background(), db, note("prepared", clk.Now()))
		ctx, cancel := context.WithCancel(context.Background())
		o.Prepare = func(context.Context, *Notification) (Verdict, error) {
			cancel()
			return Verdict{}, nil
		}
		if res, err := o.Dispatch(ctx, 10); !errors.Is(err, context.Canceled) || res != (DispatchResult{}) {
			t.Fatalf("dispatch cancelled in Prepare: %+v %v", res, err)
		}
		if len(ch.delivered) != 0 {
			t.Fatalf("sent after cancellation: %v", ch.delivered)
		}
		if s := status(t, db, "prepared"); s.Status != Pending || s.ClaimedUntil != nil || s.Attempts != 0 {
			t.Fatalf("the row: %+v, want pending, unclaimed, no attempt counted", s)
		}
		o.Prepare = nil
		if res, err := o.Dispatch(context.Background(), 10); err != nil || res.Sent != 1 || len(ch.delivered) != 1 {
			t.Fatalf("the next dispatch: %+v %v %v", res, err, ch.delivered)
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
		slow, other := newOutbox(t, db, clk, ch), newOutbox(t, db, clk, ch)
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
