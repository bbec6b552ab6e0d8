package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Resending a request with the same Idempotency-Key must never act twice.

// idemBody is v as JSON bytes, so that a resend is byte for byte the same.
func idemBody(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectReplay fails unless r repeats first exactly and says it is a replay.
func expectReplay(t testing.TB, first, r *response) {
	t.Helper()
	if r.Status != first.Status {
		t.Fatalf("replay status %d, want %d\n%s", r.Status, first.Status, r.Body)
	}
	if !bytes.Equal(r.Body, first.Body) {
		t.Fatalf("replay body differs:\nfirst  %s\nreplay %s", first.Body, r.Body)
	}
	if got := r.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Fatalf("Idempotent-Replayed %q on a replay, want true", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("replay Content-Type %q", ct)
	}
}

// expectFresh fails if r says it is a replay.
func expectFresh(t testing.TB, r *response) {
	t.Helper()
	if got := r.Header.Get("Idempotent-Replayed"); got != "" {
		t.Fatalf("Idempotent-Replayed %q on a first answer\n%s", got, r.Body)
	}
}

func TestIdempotentIssue(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, co2 := e.user(accounts.Coordinator)
		_, co3 := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.referred(sw)
		device := e.device(co, "phone")
		other := e.device(co, "tablet")
		body := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})

		first := e.must(201, co, "POST", "/api/v1/loans", body, "Idempotency-Key", "issue-1")
		expectFresh(t, first)
		loan := first.ID(t)
		after := e.world(admin)

		// Resent, even several times: the same answer, nothing done again.
		for i := 0; i < 3; i++ {
			r := e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "issue-1")
			expectReplay(t, first, r)
			if want := path("/api/v1/loans/%d", loan); first.Header.Get("Location") != want || r.Header.Get("Location") != want {
				t.Fatalf("Location %q first, %q replayed; want %s both times", first.Header.Get("Location"), r.Header.Get("Location"), want)
			}
		}
		e.unchanged(admin, after, "replays")
		if n := e.totalAt(co, path("/api/v1/loans?device_id=%d", device)); n != 1 {
			t.Fatalf("%d loans of the device, want 1", n)
		}
		if n := countAction(e.historyAt(co, path("/api/v1/devices/%d/history", device)), "loan.issued"); n != 1 {
			t.Fatalf("%d loan.issued events in the device's history, want 1", n)
		}
		if n := countAction(e.historyAt(sw, path("/api/v1/clients/%d/history", client)), "loan.issued"); n != 1 {
			t.Fatalf("%d loan.issued events in the client's history, want 1", n)
		}

		// The same key with another request is refused and changes nothing.
		for name, b := range map[string][]byte{
			"another due date": idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-11", "walk_in_justification": walkIn}),
			"another device":   idemBody(t, map[string]any{"client_id": client, "device_id": other, "due_on": "2026-04-10", "walk_in_justification": walkIn}),
			"an invalid body":  idemBody(t, map[string]any{"client_id": client}),
			"a broken body":    []byte(`{"client_id":`),
		} {
			t.Run("same key with "+name, func(t *testing.T) {
				r := e.do(co, "POST", "/api/v1/loans", b, "Idempotency-Key", "issue-1")
				expectError(t, r, 422, "invalid", "Idempotency-Key")
				expectFresh(t, r)
			})
		}
		// ... and so is the same key and body on another route.
		r := e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "issue-1")
		expectError(t, r, 422, "invalid", "Idempotency-Key")
		e.unchanged(admin, after, "a reused key")
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", other), nil).JSON(t)["status"]; st != "available" {
			t.Fatalf("the other device is %v, want available", st)
		}
		// The first answer still replays after the refusals.
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "issue-1"))

		// Keys are each user's own: another coordinator's different request
		// with the same key is not a reuse, and is acted on.
		mine := e.must(201, co2, "POST", "/api/v1/loans",
			idemBody(t, map[string]any{"client_id": client, "device_id": other, "due_on": "2026-04-10", "walk_in_justification": walkIn}),
			"Idempotency-Key", "issue-1")
		expectFresh(t, mine)
		if mine.ID(t) == loan {
			t.Fatalf("another user's key returned the first user's loan")
		}
		if n := e.totalAt(co, "/api/v1/loans"); n != 2 {
			t.Fatalf("%d loans, want 2", n)
		}
		// A third coordinator's identical request with the same key is not
		// answered with the first loan either: it is acted on, and the
		// device is on loan already.
		r = e.do(co3, "POST", "/api/v1/loans", body, "Idempotency-Key", "issue-1")
		expectError(t, r, 409, "conflict")
		expectFresh(t, r)
		// Each user's key still replays their own answer.
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "issue-1"))
		// Without a key, the same request is acted on: the device is taken.
		expectError(t, e.do(co, "POST", "/api/v1/loans", body), 409, "conflict")
	})
}

func TestIdempotentReturn(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.referred(sw)
		device := e.device(co, "laptop")
		loan := e.loan(co, client, e.device(co, "phone"))
		loan2 := e.loan(co, client, device)
		body := idemBody(t, map[string]any{"condition": "fair", "notes": "scratched lid"})
		url := path("/api/v1/loans/%d/return", loan2)

		first := e.must(200, co, "POST", url, body, "Idempotency-Key", "return-1")
		expectFresh(t, first)
		if first.JSON(t)["status"] != "returned" {
			t.Fatalf("returned loan: %s", first.Body)
		}
		after := e.world(admin)
		for i := 0; i < 3; i++ {
			expectReplay(t, first, e.do(co, "POST", url, body, "Idempotency-Key", "return-1"))
		}
		e.unchanged(admin, after, "replayed returns")
		hist := e.historyAt(co, path("/api/v1/devices/%d/history", device))
		if n := countAction(hist, "loan.returned"); n != 1 {
			t.Fatalf("%d loan.returned events, want 1: %v", n, actionsOf(hist))
		}
		if d := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t); d["status"] != "inspection" || d["condition"] != "fair" {
			t.Fatalf("device after return: %v", d)
		}

		// The same key and body for another loan is another request.
		r := e.do(co, "POST", path("/api/v1/loans/%d/return", loan), body, "Idempotency-Key", "return-1")
		expectError(t, r, 422, "invalid", "Idempotency-Key")
		// So is another body for the same loan.
		r = e.do(co, "POST", url, idemBody(t, map[string]any{"condition": "poor"}), "Idempotency-Key", "return-1")
		expectError(t, r, 422, "invalid", "Idempotency-Key")
		e.unchanged(admin, after, "a reused key")
		if st := e.must(200, co, "GET", path("/api/v1/loans/%d", loan), nil).JSON(t)["status"]; st != "open" {
			t.Fatalf("the other loan is %v, want open", st)
		}
		if c := e.must(200, co, "GET", path("/api/v1/loans/%d", loan2), nil).JSON(t)["return_condition"]; c != "fair" {
			t.Fatalf("return condition %v, want fair", c)
		}
		// Without a key, returning again is refused: the first return acted.
		expectError(t, e.do(co, "POST", url, body), 409, "conflict")
		// A new key is a new request, refused the same way, and then replayed.
		r = e.do(co, "POST", url, body, "Idempotency-Key", "return-2")
		expectError(t, r, 409, "conflict")
		expectFresh(t, r)
		expectReplay(t, r, e.do(co, "POST", url, body, "Idempotency-Key", "return-2"))
	})
}

func TestIdempotentFailureReplays(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.referred(sw)
		device := e.device(co, "hotspot")
		before := e.world(admin)

		// A first request that fails validation gets the same answer when
		// resent with the same key, and is not acted on.
		bad := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-03-01", "walk_in_justification": walkIn})
		first := e.do(co, "POST", "/api/v1/loans", bad, "Idempotency-Key", "bad-1")
		expectError(t, first, 422, "invalid", "due_on")
		expectFresh(t, first)
		for i := 0; i < 2; i++ {
			expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", bad, "Idempotency-Key", "bad-1"))
		}
		// A malformed first request too.
		broken := []byte(`{"client_id": `)
		first = e.do(co, "POST", "/api/v1/loans", broken, "Idempotency-Key", "bad-2")
		expectError(t, first, 400, "malformed")
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", broken, "Idempotency-Key", "bad-2"))
		// A reference to nothing.
		missing := idemBody(t, map[string]any{"client_id": 999999, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		first = e.do(co, "POST", "/api/v1/loans", missing, "Idempotency-Key", "bad-3")
		expectError(t, first, 422, "invalid", "client_id")
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", missing, "Idempotency-Key", "bad-3"))
		e.unchanged(admin, before, "failed requests and their replays")

		// The fixed request under a new key goes through.
		good := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		e.must(201, co, "POST", "/api/v1/loans", good, "Idempotency-Key", "good-1")
		if n := e.totalAt(co, "/api/v1/loans"); n != 1 {
			t.Fatalf("%d loans, want 1", n)
		}
	})
}

func TestIdempotencyKeyFormat(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.referred(sw)
		device := e.device(co, "phone")
		body := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		before := e.world(admin)

		for name, key := range map[string]string{
			"256 characters":  strings.Repeat("k", 256),
			"1000 characters": strings.Repeat("k", 1000),
			"a space inside":  "my key",
		} {
			t.Run(name, func(t *testing.T) {
				r := e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", key)
				expectError(t, r, 422, "invalid", "Idempotency-Key")
				// Refused on a route that would otherwise act, too.
				r = e.do(sw, "POST", "/api/v1/clients", clientBody("KEY-1", nil), "Idempotency-Key", key)
				expectError(t, r, 422, "invalid", "Idempotency-Key")
			})
		}
		e.unchanged(admin, before, "requests with bad keys")
		if st := e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil).JSON(t)["status"]; st != "available" {
			t.Fatalf("device is %v after refused requests, want available", st)
		}

		// 255 characters is the longest key allowed.
		key := strings.Repeat("k", 255)
		first := e.must(201, co, "POST", "/api/v1/loans", body, "Idempotency-Key", key)
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", key))
		if n := e.totalAt(co, "/api/v1/loans"); n != 1 {
			t.Fatalf("%d loans, want 1", n)
		}
	})
}

// Many identical requests with one key at the same moment: exactly one is
// acted on; each of the others gets its answer replayed or is told to retry.
// With locks, the device is held while the requests arrive, so that on
// PostgreSQL the first is still being processed when the others come in.
func testConcurrentResends(t *testing.T, e *env, locks *dbtest.Locks) {
	_, co := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	client := e.referred(sw)
	device := e.device(co, "laptop")
	body := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
	hold := locks != nil

	var held *dbtest.Held
	if hold {
		held = e.holdDevice(locks, device)
	}
	const n = 10
	answers := make([]*response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	answered := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			answers[i] = e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "same-moment")
			answered <- struct{}{}
		}(i)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	close(start)
	if hold {
		if e.db.Engine == storage.Postgres {
			// The request that claimed the key waits for the device; the
			// others are answered meanwhile, without it.
			held.WaitForWaiters(t, 1, allDone)
			deadline := time.After(time.Minute)
			for i := 0; i < n-1; i++ {
				select {
				case <-answered:
				case <-deadline:
					t.Fatalf("only %d of the other %d requests answered while the first was held", i, n-1)
				}
			}
		} else {
			// Every request waits for the write lock.
			held.WaitForWaiters(t, n, allDone)
		}
		held.Tx.Rollback()
	}
	<-allDone

	var created []*response
	fresh, retry := 0, 0
	statuses := make([]int, n)
	for i, r := range answers {
		if r == nil {
			t.Fatalf("request %d got no answer", i)
		}
		statuses[i] = r.Status
		switch r.Status {
		case 201:
			created = append(created, r)
			if r.Header.Get("Idempotent-Replayed") == "" {
				fresh++
			}
		case 409:
			retry++
			expectError(t, r, 409, "conflict")
			if msg := r.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "being processed") {
				t.Errorf("request %d: 409 %q, want the request-in-progress conflict", i, msg)
			}
		default:
			t.Errorf("request %d: status %d, want 201 or 409\n%s", i, r.Status, r.Body)
		}
	}
	t.Logf("statuses: %v", statuses)
	if len(created) == 0 || fresh != 1 {
		t.Fatalf("%d answers 201, %d of them not replays; want exactly one acted on", len(created), fresh)
	}
	// (On SQLite every write waits for the one lock, so the others may
	// all come in after the first is done.)
	if hold && retry == 0 && e.db.Engine == storage.Postgres {
		t.Errorf("no request was told the first is still being processed, though it was held")
	}
	for _, r := range created[1:] {
		if !bytes.Equal(r.Body, created[0].Body) {
			t.Fatalf("201 answers differ:\n%s\n%s", created[0].Body, r.Body)
		}
	}
	if total := e.totalAt(co, "/api/v1/loans"); total != 1 {
		t.Fatalf("%d loans, want 1", total)
	}
	if k := countAction(e.historyAt(co, path("/api/v1/devices/%d/history", device)), "loan.issued"); k != 1 {
		t.Fatalf("%d loan.issued events, want 1", k)
	}
	// Once done, a resend gets the answer.
	expectReplay(t, created[0], e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "same-moment"))
}

func TestIdempotentConcurrentResends(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) { testConcurrentResends(t, e, nil) })
}

func TestIdempotentConcurrentResendsWhileHeld(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		locks := dbtest.WatchLocks(db) // before the server shares db
		testConcurrentResends(t, newEnv(t, db), locks)
	})
}

// holdDevice blocks writes to a device until the transaction it returns
// ends: on PostgreSQL by locking its row, on SQLite by holding the write
// lock.
func (e *env) holdDevice(locks *dbtest.Locks, id int64) *dbtest.Held {
	e.t.Helper()
	return locks.Hold(e.t, func(tx bun.Tx) error {
		ctx := context.Background()
		if e.db.Engine == storage.Postgres {
			_, err := tx.NewRaw("SELECT id FROM devices WHERE id = ? FOR UPDATE", id).Exec(ctx)
			return err
		}
		_, err := tx.NewRaw("UPDATE counters SET value = value WHERE name = 'asset_tag'").Exec(ctx)
		return err
	})
}

// A request whose key is claimed by one still in progress is told to retry,
// and acts once the key is released after a server error.
func TestIdempotentInProgress(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		coID, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.referred(sw)
		device := e.device(co, "tablet")
		body := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		ctx := context.Background()
		inFlight := idempotency.Request{UserID: coID, Key: "slow-1", Method: "POST", Path: "/api/v1/loans", Body: body}
		if prev, err := e.svc.Idempotency.Begin(ctx, inFlight); err != nil || prev != nil {
			t.Fatalf("claim the key: %v %v", prev, err)
		}
		before := e.world(admin)
		for i := 0; i < 3; i++ {
			r := e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "slow-1")
			expectError(t, r, 409, "conflict")
			expectFresh(t, r)
		}
		// A different request with the key is still a reuse.
		r := e.do(co, "POST", "/api/v1/loans", idemBody(t, map[string]any{"client_id": client}), "Idempotency-Key", "slow-1")
		expectError(t, r, 422, "invalid", "Idempotency-Key")
		e.unchanged(admin, before, "requests while the key is in use")

		// The first request failed on the server's side: the key is free.
		if err := e.svc.Idempotency.Abandon(ctx, inFlight); err != nil {
			t.Fatal(err)
		}
		first := e.must(201, co, "POST", "/api/v1/loans", body, "Idempotency-Key", "slow-1")
		expectFresh(t, first)
		expectReplay(t, first, e.do(co, "POST", "/api/v1/loans", body, "Idempotency-Key", "slow-1"))
		if n := e.totalAt(co, "/api/v1/loans"); n != 1 {
			t.Fatalf("%d loans, want 1", n)
		}
	})
}
