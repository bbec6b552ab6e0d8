package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/web"
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
	if ct := r.Header.Get("Content-Type"); len(r.Body) > 0 && !strings.HasPrefix(ct, "application/json") {
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
// With hold set, the request that claims the key is held until every other
// has been answered, so all of them come in while it is being processed.
func testConcurrentResends(t *testing.T, e *env, hold bool) {
	_, co := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	client := e.referred(sw)
	device := e.device(co, "laptop")
	body := idemBody(t, map[string]any{"client_id": client, "device_id": device, "due_on": "2026-04-10", "walk_in_justification": walkIn})

	const n = 10
	var held <-chan struct{}
	var release func()
	if hold {
		held, release = e.holdClaim("same-moment")
	}
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
		<-held
		for i := 0; i < n-1; i++ {
			<-answered
		}
		release()
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
	if hold && retry != n-1 {
		t.Errorf("%d requests were told the first is still being processed, want all %d others, since it was held", retry, n-1)
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
	eachEnv(t, func(t *testing.T, e *env) { testConcurrentResends(t, e, false) })
}

func TestIdempotentConcurrentResendsWhileHeld(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) { testConcurrentResends(t, e, true) })
}

// holdClaim holds the first request that claims key, after its claim and
// before it is carried out. held is closed when it is held; release lets it
// go on (and is called when the test ends).
func (e *env) holdClaim(key string) (held <-chan struct{}, release func()) {
	reached, gate := make(chan struct{}), make(chan struct{})
	var taken atomic.Bool
	var done sync.Once
	e.svc.Idempotency.Claimed = func(_ context.Context, r idempotency.Request) {
		if r.Key == key && taken.CompareAndSwap(false, true) {
			close(reached)
			<-gate
		}
	}
	release = func() { done.Do(func() { close(gate) }) }
	e.t.Cleanup(release)
	return reached, release
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
		claim, prev, err := e.svc.Idempotency.Begin(ctx, inFlight)
		if err != nil || claim == nil || prev != nil {
			t.Fatalf("claim the key: %v %v %v", claim, prev, err)
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
		if err := e.svc.Idempotency.Finish(ctx, claim, idempotency.Outcome{StatusCode: 500}); err != nil {
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

// A claim that lapses while its request is still running (its server seemed
// to have stopped) is taken over by a resend, and then the first request
// cannot commit: one keyed POST makes one device, and the first answers 409.
func TestIdempotentTakeoverWhileRunning(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		// No serial: nothing unique in the device would stop a second one.
		body := idemBody(t, map[string]any{"kind": "tablet", "make": "Acme", "model": "Slow"})
		before := e.world(admin)

		held, release := e.holdClaim("slow-create")
		firstAnswer := make(chan *response, 1)
		go func() { firstAnswer <- e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "slow-create") }()
		<-held
		// Within the lease the resend is told to wait; past it, it takes
		// the key over and is carried out.
		expectError(t, e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "slow-create"), 409, "conflict")
		e.clock.Set(testNow.Add(idempotency.Lease + time.Minute))
		second := e.must(201, co, "POST", "/api/v1/devices", body, "Idempotency-Key", "slow-create")
		expectFresh(t, second)
		release()
		first := <-firstAnswer
		expectError(t, first, 409, "conflict")
		if msg := first.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "took its place") {
			t.Errorf("the first request's 409: %q, want it to say a resend took its place", msg)
		}

		after := e.world(admin)
		if after.Devices != before.Devices+1 || after.Events != before.Events+1 {
			t.Fatalf("before %+v, after %+v: want exactly one more device and one more event", before, after)
		}
		// Later resends answer with the device the resend made.
		again := e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "slow-create")
		expectReplay(t, second, again)
		if again.Header.Get("Location") != second.Header.Get("Location") || second.Header.Get("Location") == "" {
			t.Errorf("Location %q replayed, %q first", again.Header.Get("Location"), second.Header.Get("Location"))
		}
	})
}

// When a request committed but its answer was never stored (its server
// stopped, or the database failed at that moment), a resend is told it was
// carried out; it is not carried out again.
func TestIdempotentCarriedOutWithoutAnswer(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		coID, co := e.user(accounts.Coordinator)
		ctx := context.Background()
		body := idemBody(t, map[string]any{"kind": "laptop", "make": "Acme", "model": "Lost"})
		claim, _, err := e.svc.Idempotency.Begin(ctx, idempotency.Request{UserID: coID, Key: "lost-answer", Method: "POST",
			Path: "/api/v1/devices", Body: body})
		if err != nil || claim == nil {
			t.Fatalf("claim: %v %v", claim, err)
		}
		who, err := e.svc.Accounts.Authenticate(ctx, co)
		if err != nil {
			t.Fatal(err)
		}
		var in inventory.DeviceInput
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Inventory.CreateDevice(storage.WithFence(ctx, claim.Fence), who, in); err != nil {
			t.Fatal(err)
		}
		// ... and the answer was never stored.
		before := e.world(admin)
		r := e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "lost-answer")
		expectError(t, r, 409, "conflict")
		e.clock.Set(testNow.Add(idempotency.Lease + time.Minute))
		for i := 0; i < 2; i++ {
			r = e.do(co, "POST", "/api/v1/devices", body, "Idempotency-Key", "lost-answer")
			expectError(t, r, 409, "conflict")
			if msg := r.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "was carried out") {
				t.Errorf("a resend of a request carried out without an answer: %q", msg)
			}
		}
		e.unchanged(admin, before, "resends of a request carried out")
	})
}

// A resend is answered by reading the record again, with the caller's
// rights as they are now: it shows the record as it is, and a record the
// caller may no longer see is not found.
func TestIdempotentReplayRereads(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, sw := e.user(accounts.SocialWorker)
		sw2ID, _ := e.user(accounts.SocialWorker)
		body := idemBody(t, clientBody("REREAD-1", nil))
		first := e.must(201, sw, "POST", "/api/v1/clients", body, "Idempotency-Key", "rec-1")
		id, at := first.ID(t), first.Header.Get("Location")
		e.must(200, sw, "PATCH", at, map[string]any{"last_name": "Renamed"})
		views := countAction(e.allHistoryAt(admin, at+"/history"), "client.viewed")

		again := e.must(201, sw, "POST", "/api/v1/clients", body, "Idempotency-Key", "rec-1")
		if got := again.JSON(t); got["last_name"] != "Renamed" || again.ID(t) != id {
			t.Errorf("the replay shows %v, want client %d as it is now (last_name Renamed)", got, id)
		}
		if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != at {
			t.Errorf("the replay's headers: %v", again.Header)
		}
		// Reading the record again is a read, and recorded as one.
		if n := countAction(e.allHistoryAt(admin, at+"/history"), "client.viewed"); n != views+1 {
			t.Errorf("%d client.viewed events after the replay, want %d", n, views+1)
		}

		// The client moves to another caseload: the first worker's resend
		// finds nothing, as reading it would.
		e.must(200, admin, "PATCH", at, map[string]any{"caseworker_id": sw2ID})
		lost := e.do(sw, "POST", "/api/v1/clients", body, "Idempotency-Key", "rec-1")
		expectError(t, lost, 404, "not_found")
		expectFresh(t, lost)
		if bytes.Contains(lost.Body, []byte("Renamed")) || bytes.Contains(lost.Body, []byte("REREAD-1")) {
			t.Errorf("the 404 carries the client's details: %s", lost.Body)
		}
		if n := e.totalAt(admin, "/api/v1/clients"); n != 1 {
			t.Errorf("%d clients, want 1", n)
		}
	})
}

// A new API token is shown once: a resend with the key makes no other
// token and does not show it again. Neither tokens nor client records are
// kept with the keys.
func TestIdempotencyKeepsNoSecretsOrRecords(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		tokens := e.totalAt(sw, "/api/v1/tokens")
		made := e.must(201, sw, "POST", "/api/v1/tokens", map[string]any{"name": "field phone"}, "Idempotency-Key", "tok-1")
		secret, _ := made.JSON(t)["token"].(string)
		for i := 0; i < 2; i++ {
			r := e.do(sw, "POST", "/api/v1/tokens", map[string]any{"name": "field phone"}, "Idempotency-Key", "tok-1")
			expectError(t, r, 409, "conflict")
			if msg := r.JSON(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "shown only when it is made") {
				t.Errorf("a resend of a token's making: %q", msg)
			}
			if bytes.Contains(r.Body, []byte(secret)) {
				t.Fatalf("the resend shows the token")
			}
		}
		if n := e.totalAt(sw, "/api/v1/tokens"); n != tokens+1 {
			t.Errorf("%d tokens, want %d", n, tokens+1)
		}
		e.must(200, "", "GET", "/api/v1/openapi.json", nil) // the new token still works
		e.must(200, secret, "GET", "/api/v1/me", nil)

		// Client details, through creates, edits and refusals.
		client := e.must(201, sw, "POST", "/api/v1/clients", clientBody("SECRET-CASE", map[string]any{
			"first_name": "Zephyrine", "phone": "+1 312 987 6543"}), "Idempotency-Key", "c-1").ID(t)
		e.must(200, sw, "PATCH", path("/api/v1/clients/%d", client), map[string]any{"last_name": "Quillfeather"}, "Idempotency-Key", "c-2")
		e.do(sw, "POST", "/api/v1/clients", clientBody("SECRET-CASE", nil), "Idempotency-Key", "c-3") // taken case number
		e.must(200, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": client, "device_kind": "phone"}, "Idempotency-Key", "c-4")
		e.refer(sw, client)
		e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": e.device(co, "phone"),
			"due_on": "2026-04-10", "walk_in_justification": walkIn}, "Idempotency-Key", "c-5")
		e.must(200, admin, "GET", path("/api/v1/clients/%d", client), nil)

		var rows []map[string]any
		if err := e.db.NewSelect().Table("idempotency_keys").Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) < 6 {
			t.Fatalf("%d keys stored, want at least 6", len(rows))
		}
		for _, row := range rows {
			for col, v := range row {
				s := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					s = string(b)
				}
				for _, leak := range []string{secret, "dbk_", "Zephyrine", "Quillfeather", "987 6543", "3129876543", "SECRET-CASE"} {
					if strings.Contains(s, leak) {
						t.Errorf("idempotency_keys.%s holds %q: %s", col, leak, s)
					}
				}
			}
		}
	})
}

// Every route that takes an Idempotency-Key, sent twice with one key by a
// caller who may use it, acts once; the resend answers with the record read
// again (the same status, Location and body as the first answer, since
// nothing changed in between), or, for a new token, 409.
func TestEveryKeyedRouteReplays(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		f := newRoleFixtures(t, e)
		adm := caller{column: "admin", id: f.adminID, token: f.admin}
		for _, rt := range web.New(e.svc, web.Config{}).Routes() {
			if rt.Permission == web.Public || rt.Method == "GET" || rt.Method == "DELETE" {
				continue
			}
			t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
				rc := matrixRow(rt.Method, rt.Path)
				if rc == nil {
					t.Fatal("no matrix row to build the request from")
				}
				req := rc.prepare(f, adm)
				via := e
				if req.via != nil {
					via = req.via
				}
				headers := append(append([]string{}, req.headers...), "Idempotency-Key", "every-"+rt.Method+rt.Path)
				first := via.do(adm.token, rt.Method, req.path, req.body, headers...)
				if first.Status < 200 || first.Status > 299 {
					t.Fatalf("first answer %d: %s", first.Status, first.Body)
				}
				expectFresh(t, first)
				events := e.auditRows()
				again := via.do(adm.token, rt.Method, req.path, req.body, headers...)
				// A check made again is recorded again, as a read.
				if got := e.auditRows(); got != events && rt.Path != "/api/v1/eligibility/check" {
					t.Errorf("the resend changed something: %d audit events, were %d", got, events)
				}
				if !rt.Replays() {
					expectError(t, again, 409, "conflict")
					return
				}
				expectReplay(t, first, sameJSON(t, first, again))
				if again.Header.Get("Location") != first.Header.Get("Location") {
					t.Errorf("Location %q replayed, %q first", again.Header.Get("Location"), first.Header.Get("Location"))
				}
			})
		}
	})
}

// sameJSON returns r with the body of first when both are the same JSON
// value (key order and spacing aside), so that expectReplay compares the
// rest.
func sameJSON(t *testing.T, first, r *response) *response {
	t.Helper()
	var a, b any
	if json.Unmarshal(first.Body, &a) != nil || json.Unmarshal(r.Body, &b) != nil || !reflect.DeepEqual(a, b) {
		return r
	}
	out := *r
	out.Body = first.Body
	return &out
}

// A body refused for its form (415) does not use up its key: sent again
// with the same key and body, as JSON, it is carried out.
func TestUnsupportedMediaTypeReleasesTheKey(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		body := `{"kind": "phone", "make": "Acme", "model": "One"}`
		req, err := http.NewRequest("POST", e.base+"/api/v1/devices", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+co)
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Idempotency-Key", "form-fixed")
		res, err := e.httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 415 {
			t.Fatalf("a body sent as text/plain: %d, want 415", res.StatusCode)
		}
		created := e.must(201, co, "POST", "/api/v1/devices", body, "Idempotency-Key", "form-fixed")
		expectFresh(t, created)
	})
}
