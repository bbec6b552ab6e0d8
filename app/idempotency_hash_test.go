package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The digest an Idempotency-Key keeps of a request is keyed: a client's
// phone number in a body cannot be guessed back from it (here, trying the
// 10,000 numbers a plain SHA-256 would give away).
func TestIdempotencyKeepsNoGuessableDigestOfTheBody(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		sw := f.actor(accounts.SocialWorker)
		path := "/api/v1/clients/7"
		body := `{"phone":"+13125550147"}`
		if _, _, err := f.svc.Idempotency.Begin(ctx, idempotency.Request{UserID: sw.ID, Key: "k-1", Method: "PATCH", Path: path, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := db.NewRaw("SELECT request_hash FROM idempotency_keys").Scan(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10000; i++ {
			guess := fmt.Sprintf(`{"phone":"+1312555%04d"}`, i)
			h := sha256.Sum256([]byte("PATCH " + path + "\n" + guess))
			if hex.EncodeToString(h[:]) == stored {
				t.Errorf("the phone is recovered from the stored request hash: %s", guess)
			}
		}
	})
}
