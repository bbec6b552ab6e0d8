package audit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 123456000, time.UTC)

func ring(t *testing.T, db *storage.DB) *keyring.Ring {
	t.Helper()
	kek, err := keyring.ParseKEK(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	r, err := keyring.Open(context.Background(), db, kek, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func record(t *testing.T, db *storage.DB, n int) {
	t.Helper()
	for i := range n {
		client := int64(i + 1)
		ev := audit.Event{OccurredAt: t0.Add(time.Duration(i) * time.Second), Action: "client.read", SubjectType: "client", SubjectID: client, ClientID: &client}
		if err := audit.Record(context.Background(), db, ev, map[string]any{"fields": []string{"phone"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// recordAndLink writes n events and links them, as serve's job would.
func recordAndLink(t *testing.T, db *storage.DB, k audit.Keyed, n int) {
	t.Helper()
	record(t, db, n)
	if _, err := audit.Link(context.Background(), db, k, t0); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, db *storage.DB, k audit.Keyed) audit.Verification {
	t.Helper()
	return verifyAgainst(t, db, k, nil)
}

func verifyAgainst(t *testing.T, db *storage.DB, k audit.Keyed, expect *audit.Checkpoint) audit.Verification {
	t.Helper()
	v, err := audit.Verify(context.Background(), db, k, expect)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func exec(t *testing.T, db *storage.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestTheChainLinksEveryEventAndVerifies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		if v := mustVerify(t, db, k); v.Broken != "" || v.Linked != 0 {
			t.Fatalf("an empty trail: %+v", v)
		}
		record(t, db, 7)
		if v := mustVerify(t, db, k); v.Broken != "" || v.Linked != 0 || v.Unlinked != 7 {
			t.Fatalf("before linking: %+v, want 7 unlinked and nothing broken", v)
		}
		if n, err := audit.Link(ctx, db, k, t0); n != 7 || err != nil {
			t.Fatalf("Link = %d, %v; want 7", n, err)
		}
		if n, err := audit.Link(ctx, db, k, t0); n != 0 || err != nil {
			t.Fatalf("a second Link = %d, %v; want 0", n, err)
		}
		record(t, db, 3)
		if n, err := audit.Link(ctx, db, k, t0); n != 3 || err != nil {
			t.Fatalf("Link after three more = %d, %v", n, err)
		}
		v := mustVerify(t, db, k)
		if v.Broken != "" || v.Linked != 10 || v.Unlinked != 0 || v.LastSeq != 10 || v.LastMAC == "" {
			t.Fatalf("%+v, want 10 linked and intact", v)
		}
		// Another key cannot vouch for the chain: the first link fails.
		if v := mustVerify(t, db, ring(t, dbtest.Open(t, db.Engine))); v.Broken == "" || v.Linked != 0 {
			t.Errorf("verified under another key: %+v", v)
		}
	})
}

func TestVerifyFindsTheFirstBrokenLink(t *testing.T) {
	for _, c := range []struct {
		name    string
		tamper  string
		seq     int64
		event   int64
		saysWhy string
	}{
		{"an event's changes edited", "UPDATE audit_events SET changes = '{\"fields\":[\"email\"]}' WHERE id = 4", 4, 4, "event 4 was changed"},
		{"an event's time edited", "UPDATE audit_events SET occurred_at = occurred_at + INTERVAL '1 hour' WHERE id = 2", 2, 2, "event 2 was changed"},
		{"an event given to another actor", "UPDATE audit_events SET actor_id = 99 WHERE id = 6", 6, 6, "event 6 was changed"},
		{"an event removed", "DELETE FROM audit_events WHERE id = 3", 3, 0, "place 3 is missing"},
		{"an event unlinked", "UPDATE audit_events SET chain_seq = NULL, chain_mac = NULL WHERE id = 5", 5, 0, "place 5 is missing"},
		{"the last event removed", "DELETE FROM audit_events WHERE id = 8", 8, 0, "the chain ends at place 7, and its head says 8"},
		{"two events swapped in the chain", "UPDATE audit_events SET chain_seq = 100 + chain_seq WHERE id IN (2, 3)", 2, 0, "place 2 is missing"},
		{"a MAC copied from another event", "UPDATE audit_events SET chain_mac = (SELECT chain_mac FROM audit_events WHERE id = 1) WHERE id = 2", 2, 2, "event 2 was changed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *storage.DB) {
				k := ring(t, db)
				recordAndLink(t, db, k, 8)
				tamper := c.tamper
				if db.Engine == storage.SQLite {
					tamper = strings.Replace(tamper, "occurred_at + INTERVAL '1 hour'", "datetime(occurred_at, '+1 hour')", 1)
				}
				exec(t, db, tamper)
				v := mustVerify(t, db, k)
				if v.BrokenSeq != c.seq || v.BrokenEvent != c.event || !strings.Contains(v.Broken, c.saysWhy) || v.Linked != c.seq-1 {
					t.Errorf("%+v; want broken at place %d (event %d), saying %q, after %d good links", v, c.seq, c.event, c.saysWhy, c.seq-1)
				}
			})
		})
	}
}

func TestInstancesLinkingWhileEventsAreWrittenKeepOneChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		const writers, each = 4, 40
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 16)
		for range 3 { // three instances' linking jobs
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := audit.Link(ctx, db, k, t0); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var writing sync.WaitGroup
		for w := range writers {
			writing.Add(1)
			go func() {
				defer writing.Done()
				for i := range each {
					id := int64(w*1000 + i)
					err := storage.InTx(ctx, db, func(tx bun.Tx) error {
						return audit.Record(ctx, tx, audit.Event{OccurredAt: t0, Action: "device.read", SubjectType: "device", SubjectID: id}, nil)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		writing.Wait()
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if _, err := audit.Link(ctx, db, k, t0); err != nil {
			t.Fatal(err)
		}
		v := mustVerify(t, db, k)
		if v.Broken != "" || v.Linked != writers*each || v.Unlinked != 0 || v.LastSeq != writers*each {
			t.Fatalf("%+v; want all %d events in one unbroken chain", v, writers*each)
		}
	})
}

func TestFieldsNameWhatChangedAndNeverTheValues(t *testing.T) {
	nothing := int64(0) // a disclosed income of nothing is given
	given := audit.FieldsGiven(map[string]any{"first_name": "Ana", "email": "", "programs": []string{}, "needs": []string{"disability"},
		"annual_income_cents": &nothing, "household_id": (*int64)(nil), "sms_opted_out": false, "household_size": 3})
	if strings.Join(given, ",") != "annual_income_cents,first_name,household_size,needs" {
		t.Errorf("FieldsGiven = %v", given)
	}
	changed := audit.FieldsChanged(map[string]any{"phone": "+13125550101", "last_name": "Ruiz", "programs": []string{"snap"}},
		map[string]any{"phone": "+13125550102", "last_name": "Ruiz", "programs": []string{"snap"}, "email": "a@b.example"})
	if strings.Join(changed, ",") != "email,phone" {
		t.Errorf("FieldsChanged = %v", changed)
	}
}

// BenchmarkLink links b.N events written beforehand (reported per event).
func BenchmarkLink(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) {
			db := dbtest.Open(b, engine)
			kek, _ := keyring.ParseKEK(keyring.Generate())
			k, err := keyring.Open(context.Background(), db, kek, t0)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			err = storage.InTx(ctx, db, func(tx bun.Tx) error {
				for i := range b.N {
					client := int64(i)
					if err := audit.Record(ctx, tx, audit.Event{OccurredAt: t0, Action: "client.viewed", SubjectType: "client", SubjectID: client, ClientID: &client}, nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if n, err := audit.Link(ctx, db, k, t0); err != nil || n != b.N {
				b.Fatalf("linked %d of %d: %v", n, b.N, err)
			}
		})
	}
}

// rewindHead points the chain's head at the linked event at place seq,
// using only what the database holds (no key).
func rewindHead(t *testing.T, db *storage.DB, seq int) {
	exec(t, db, "UPDATE audit_chain SET last_seq = ?, last_mac = (SELECT chain_mac FROM audit_events WHERE chain_seq = ?) WHERE id = 1", seq, seq)
}

func TestAHeadMovedBackWithoutTheKeyIsFoundAndNothingIsRelinked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		recordAndLink(t, db, k, 8)
		// The last two events changed and unlinked, the head moved back to
		// place 6: the next Link must not seal the forgery.
		exec(t, db, "UPDATE audit_events SET actor_id = 99, changes = '{\"forged\":true}', chain_seq = NULL, chain_mac = NULL WHERE chain_seq > 6")
		rewindHead(t, db, 6)
		if n, err := audit.Link(ctx, db, k, t0); !errors.Is(err, audit.ErrHeadChanged) || n != 0 {
			t.Errorf("Link after the head was moved back: %d, %v; want ErrHeadChanged and nothing linked", n, err)
		}
		if v := mustVerify(t, db, k); !strings.Contains(v.Broken, "head was changed without the key") || v.BrokenSeq != 6 {
			t.Errorf("%+v", v)
		}
	})
}

func TestACheckpointNoticesAnEmptiedOrOlderTrail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		recordAndLink(t, db, k, 3)
		// An old copy of the database: the head as it was after three events.
		var old struct {
			LastSeq int64  `bun:"last_seq"`
			LastMAC string `bun:"last_mac"`
			HeadMAC string `bun:"head_mac"`
		}
		if err := db.NewRaw("SELECT last_seq, last_mac, head_mac FROM audit_chain").Scan(ctx, &old); err != nil {
			t.Fatal(err)
		}
		recordAndLink(t, db, k, 2)
		v := mustVerify(t, db, k)
		checkpoint := &audit.Checkpoint{Seq: v.LastSeq, MAC: v.LastMAC}
		if v.Broken != "" || v.LastSeq != 5 {
			t.Fatalf("%+v", v)
		}
		if v := verifyAgainst(t, db, k, checkpoint); v.Broken != "" {
			t.Fatalf("against its own checkpoint: %+v", v)
		}
		if v := verifyAgainst(t, db, k, &audit.Checkpoint{Seq: 5, MAC: "forged"}); !strings.Contains(v.Broken, "not the one the checkpoint names") {
			t.Errorf("against a checkpoint that does not match: %+v", v)
		}

		// The older copy put back: the last two events gone, the old head.
		exec(t, db, "DELETE FROM audit_events WHERE chain_seq > 3")
		exec(t, db, "UPDATE audit_chain SET last_seq = ?, last_mac = ?, head_mac = ?", old.LastSeq, old.LastMAC, old.HeadMAC)
		if v := mustVerify(t, db, k); v.Broken != "" {
			t.Errorf("without a checkpoint an older copy looks intact (as docs/privacy.md says): %+v", v)
		}
		if v := verifyAgainst(t, db, k, checkpoint); v.BrokenSeq != 4 || !strings.Contains(v.Broken, "before the checkpoint's place 5") {
			t.Errorf("an older copy against the checkpoint: %+v", v)
		}
		// The trail emptied, head and all.
		exec(t, db, "DELETE FROM audit_events")
		exec(t, db, "DELETE FROM audit_chain")
		if v := verifyAgainst(t, db, k, checkpoint); v.BrokenSeq != 1 || !strings.Contains(v.Broken, "before the checkpoint's place 5") {
			t.Errorf("an emptied trail against the checkpoint: %+v", v)
		}
	})
}

// linkingMidway is a key that, the first time Verify uses it, lets serve's
// job link the events written meanwhile, as it does every minute.
type linkingMidway struct {
	audit.Keyed
	once sync.Once
	run  func()
}

func (l *linkingMidway) Digest(domain string, data []byte) string {
	d := l.Keyed.Digest(domain, data)
	l.once.Do(l.run)
	return d
}

// audit verify run while serve links is no false alarm.
func TestVerifyWhileLinkRunsIsNoFalseAlarm(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		recordAndLink(t, db, k, 5)
		record(t, db, 3) // written since, linked by the next run
		mid := &linkingMidway{Keyed: k, run: func() {
			if n, err := audit.Link(ctx, db, k, t0); err != nil || n != 3 {
				t.Errorf("Link midway: %d, %v", n, err)
			}
		}}
		if v := mustVerify(t, db, mid); v.Broken != "" || v.Linked != 5 {
			t.Errorf("nothing was tampered with: %+v", v)
		}
		if v := mustVerify(t, db, k); v.Broken != "" || v.Linked != 8 {
			t.Fatalf("afterwards: %+v", v)
		}
	})
}

// The head removed (no key needed) is named, and Link does not make a new
// one over linked events: that would let unlinked forgeries be sealed.
func TestAHeadRemovedIsNamedAndNotMadeAnew(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		k := ring(t, db)
		recordAndLink(t, db, k, 5)
		v := mustVerify(t, db, k)
		checkpoint := audit.Checkpoint{Seq: v.LastSeq, MAC: v.LastMAC}
		exec(t, db, "DELETE FROM audit_chain")
		exec(t, db, "UPDATE audit_events SET changes = '{\"forged\":true}', chain_seq = NULL, chain_mac = NULL WHERE id = 5")
		if n, err := audit.Link(ctx, db, k, t0); !errors.Is(err, audit.ErrHeadChanged) || n != 0 {
			t.Errorf("Link without a head: %d, %v; want ErrHeadChanged", n, err)
		}
		if v := mustVerify(t, db, k); !strings.Contains(v.Broken, "head is missing") {
			t.Errorf("%+v", v)
		}
		// Everything unlinked as well: the chain looks new, and only a
		// checkpoint tells (docs/privacy.md).
		exec(t, db, "UPDATE audit_events SET chain_seq = NULL, chain_mac = NULL")
		if _, err := audit.Link(ctx, db, k, t0); err != nil {
			t.Fatal(err)
		}
		if v := mustVerify(t, db, k); v.Broken != "" {
			t.Errorf("without a checkpoint a relinked trail looks intact (as docs/privacy.md says): %+v", v)
		}
		if v := verifyAgainst(t, db, k, &checkpoint); v.BrokenSeq != 5 || !strings.Contains(v.Broken, "not the one the checkpoint names") {
			t.Errorf("a relinked trail against a checkpoint: %+v", v)
		}
	})
}
