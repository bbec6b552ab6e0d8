package keyring_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

var now = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func newKEK(t *testing.T) *keyring.KEK {
	t.Helper()
	k, err := keyring.ParseKEK(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKEKNamesWhatIsWrong(t *testing.T) {
	good := keyring.Generate()
	if _, err := keyring.ParseKEK(good + "\n"); err != nil {
		t.Errorf("a generated key with a final newline: %v", err)
	}
	if _, err := keyring.ParseKEK(strings.TrimRight(good, "=")); err != nil {
		t.Errorf("a generated key without its padding: %v", err)
	}
	for text, want := range map[string]string{
		"":                   "is 0 bytes, want 32",
		"not base64 at all!": "not base64",
		"c2hvcnQ=":           "is 5 bytes, want 32",
	} {
		if _, err := keyring.ParseKEK(text); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "devicebank keys generate") {
			t.Errorf("ParseKEK(%q) = %v, want an error saying %q and how to make a key", text, err, want)
		}
	}
	a, _ := keyring.ParseKEK(good)
	b, _ := keyring.ParseKEK(good)
	c := newKEK(t)
	if a.ID() != b.ID() || a.ID() == c.ID() || len(a.ID()) != 16 || strings.Contains(good, a.ID()) {
		t.Errorf("ids %s, %s, %s: want the same for the same key, another for another, not part of the key", a.ID(), b.ID(), c.ID())
	}
}

func TestSealedValuesOpenOnlyInTheirPlace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		kek := newKEK(t)
		ring, err := keyring.Open(ctx, db, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		phone := keyring.Place{Table: "clients", Column: "phone", Row: 7}
		for _, plain := range []string{"+15551234567", "Ana", "a name of exactly 16", strings.Repeat("é", 300), "\x00nul inside\x00"} {
			s := ring.Seal(plain, phone)
			if !keyring.IsSealed(s) || strings.Contains(s, plain) {
				t.Fatalf("Seal(%q) = %q", plain, s)
			}
			if again := ring.Seal(plain, phone); again == s {
				t.Errorf("two seals of %q are alike: the nonce is not random", plain)
			}
			got, err := ring.Unseal(s, phone)
			if err != nil || got != plain {
				t.Errorf("Unseal(Seal(%q)) = %q, %v", plain, got, err)
			}
			for _, elsewhere := range []keyring.Place{
				{Table: "clients", Column: "phone", Row: 8}, // another row
				{Table: "clients", Column: "email", Row: 7}, // another column
				{Table: "users", Column: "phone", Row: 7},   // another table
				{Table: "clientsphone", Column: "", Row: 7}, // the same bytes run together
			} {
				if v, err := ring.Unseal(s, elsewhere); !errors.Is(err, keyring.ErrCannotOpen) {
					t.Errorf("a value sealed for %+v opened at %+v: %q, %v", phone, elsewhere, v, err)
				}
			}
		}
		// Lengths: 1 and 15 bytes seal alike; padding hides all but the block.
		if a, b := ring.Seal("A", phone), ring.Seal("fifteen letters", phone); len(a) != len(b) {
			t.Errorf("sealed lengths %d and %d for 1 and 15 bytes, want alike", len(a), len(b))
		}
		if s := ring.Seal("", phone); s != "" {
			t.Errorf("Seal of an empty value = %q, want empty", s)
		}
		if v, err := ring.Unseal("", phone); v != "" || err != nil {
			t.Errorf("Unseal of an empty value = %q, %v", v, err)
		}
		// Damaged: a flipped character, a plain value, a cut value.
		s := ring.Seal("+15551234567", phone)
		flipped := s[:len(s)-3] + string(s[len(s)-3]^1) + s[len(s)-2:]
		for _, bad := range []string{flipped, "+15551234567", s[:12], "dbk1:!!!"} {
			if v, err := ring.Unseal(bad, phone); !errors.Is(err, keyring.ErrCannotOpen) || strings.Contains(err.Error(), "555") {
				t.Errorf("Unseal(%q) = %q, %v; want ErrCannotOpen, without the value", bad, v, err)
			}
		}
	})
}

func TestTheDatabaseKeysOpenOnlyWithTheirKEK(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		kek := newKEK(t)
		first, err := keyring.Open(ctx, db, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		at := keyring.Place{Table: "clients", Column: "first_name", Row: 1}
		sealed := first.Seal("Ana", at)

		// Opened again (a restart): the same keys, nothing new created.
		again, err := keyring.Open(ctx, db, kek, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := again.Unseal(sealed, at); v != "Ana" || err != nil {
			t.Errorf("after a restart: %q, %v", v, err)
		}
		if again.BlindIndex("clients.phone", "+15551234567") != first.BlindIndex("clients.phone", "+15551234567") {
			t.Error("the blind index changed across a restart")
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM data_keys").Scan(ctx, &n); err != nil || n != 2 {
			t.Errorf("%d keys in the database (%v), want one data key and one index key", n, err)
		}
		// Another key-encryption key: refused, saying so.
		if _, err := keyring.Open(ctx, db, newKEK(t), now); !errors.Is(err, keyring.ErrWrongKey) || !strings.Contains(err.Error(), kek.ID()) {
			t.Errorf("another KEK: %v, want ErrWrongKey naming the right key's id", err)
		}
		// The right id but a damaged wrapped key: refused, as damaged.
		if _, err := db.NewRaw("UPDATE data_keys SET wrapped = ? WHERE purpose = 'data'", strings.Repeat("A", 96)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.Open(ctx, db, kek, now); !errors.Is(err, keyring.ErrWrongKey) || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("a damaged data key: %v", err)
		}
	})
}

func TestInstancesStartingAtOnceShareOneKeyOfEachPurpose(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		kek := newKEK(t)
		rings := make([]*keyring.Ring, 6)
		errs := make([]error, len(rings))
		var wg sync.WaitGroup
		for i := range rings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rings[i], errs[i] = keyring.Open(ctx, db, kek, now)
			}()
		}
		wg.Wait()
		at := keyring.Place{Table: "clients", Column: "email", Row: 3}
		for i, r := range rings {
			if errs[i] != nil {
				t.Fatalf("instance %d: %v", i, errs[i])
			}
			// What one seals, every other opens; their indexes agree.
			v, err := rings[(i+1)%len(rings)].Unseal(r.Seal("ana@example.org", at), at)
			if v != "ana@example.org" || err != nil {
				t.Errorf("instance %d's value opened by the next: %q, %v", i, v, err)
			}
			if r.BlindIndex("clients.email", "x") != rings[0].BlindIndex("clients.email", "x") {
				t.Errorf("instance %d has another index key", i)
			}
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM data_keys").Scan(ctx, &n); err != nil || n != 2 {
			t.Errorf("%d keys (%v), want 2", n, err)
		}
	})
}

func TestBlindIndexesAreKeyedAndSeparatedByDomain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, err := keyring.Open(ctx, db, newKEK(t), now)
		if err != nil {
			t.Fatal(err)
		}
		other, err := keyring.Open(ctx, dbtest.Open(t, db.Engine), newKEK(t), now)
		if err != nil {
			t.Fatal(err)
		}
		a := r.BlindIndex("clients.phone", "+15551234567")
		if a != r.BlindIndex("clients.phone", "+15551234567") || a == r.BlindIndex("clients.phone", "+15551234568") {
			t.Error("a blind index is not a function of the value")
		}
		if a == r.BlindIndex("clients.email", "+15551234567") || r.BlindIndex("a", "bc") == r.BlindIndex("ab", "c") {
			t.Error("domains are not kept apart")
		}
		if a == other.BlindIndex("clients.phone", "+15551234567") {
			t.Error("another database's index key gives the same digest")
		}
	})
}

// Instances started at once on a new database with different keys (a
// mistake): the first to create the keys wins, every other is refused, and
// no key is left wrapped under a loser's key.
func TestInstancesGivenDifferentKeysDoNotSplitTheKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		keks := []*keyring.KEK{newKEK(t), newKEK(t)}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = keyring.Open(ctx, db, keks[i%2], now)
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && (won == -1 || won == i%2):
				won = i % 2
			case err == nil:
				t.Fatalf("both keys were accepted: %v", errs)
			case !errors.Is(err, keyring.ErrWrongKey):
				t.Fatalf("instance %d: %v", i, err)
			}
		}
		if won == -1 {
			t.Fatalf("no key was accepted: %v", errs)
		}
		for i, err := range errs {
			if (i%2 == won) != (err == nil) {
				t.Errorf("instance %d (key %d, winner %d): %v", i, i%2, won, err)
			}
		}
		if _, err := keyring.Open(ctx, db, keks[won], now); err != nil {
			t.Errorf("the winning key no longer opens the database: %v", err)
		}
		var ids []string
		if err := db.NewRaw("SELECT kek_id FROM data_keys").Scan(ctx, &ids); err != nil || len(ids) != 2 || ids[0] != keks[won].ID() || ids[1] != keks[won].ID() {
			t.Errorf("keys wrapped by %v (%v), want two, both by %s", ids, err, keks[won].ID())
		}
	})
}

// A new data key becomes the one sealed under; values under the old one
// still open; a ring opened before (another instance) opens values under
// the new key once it meets one, and seals under the new key after its
// Refresh. SealedUnder names the key of a value.
func TestANewDataKeyIsSealedUnderAndTheOldStillOpens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		kek := newKEK(t)
		ring, err := keyring.Open(ctx, db, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		other, err := keyring.Open(ctx, db, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		at := keyring.Place{Table: "clients", Column: "personal", Row: 1}
		old := ring.Seal("before", at)
		if keyring.SealedUnder(old) != ring.CurrentDataKey() || keyring.SealedUnder("") != 0 || keyring.SealedUnder("plain") != 0 {
			t.Fatalf("SealedUnder: %d (current %d)", keyring.SealedUnder(old), ring.CurrentDataKey())
		}
		id, err := keyring.RotateData(ctx, db, kek, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.RotateData(ctx, db, newKEK(t), now); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("a new data key under another KEK: %v, want %v", err, keyring.ErrWrongKey)
		}
		if err := ring.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		fresh := ring.Seal("after", at)
		if ring.CurrentDataKey() != id || keyring.SealedUnder(fresh) != id {
			t.Fatalf("after the rotation: current %d, sealed under %d; want %d", ring.CurrentDataKey(), keyring.SealedUnder(fresh), id)
		}
		if got, err := ring.Unseal(old, at); err != nil || got != "before" {
			t.Fatalf("a value under the old key: %q, %v", got, err)
		}
		if keyring.SealedUnder(other.Seal("x", at)) == id {
			t.Fatalf("a ring that has not refreshed sealed under the new key already")
		}
		if got, err := other.Unseal(fresh, at); err != nil || got != "after" {
			t.Fatalf("the other ring opening a value under the new key: %q, %v", got, err)
		}
		if keyring.SealedUnder(other.Seal("x", at)) != id {
			t.Fatalf("the other ring, having met the new key, still seals under the old")
		}
	})
}
