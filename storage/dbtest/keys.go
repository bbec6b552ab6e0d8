package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// DataKey is the key-encryption key tests' databases are set up with
// (base64 of 32 bytes, as DEVICEBANK_DATA_KEY takes it). It protects
// nothing: every test database is thrown away.
const DataKey = "ZGV2aWNlYmFuay10ZXN0cy1kYXRhLWtleS0zMi1ieXQ="

// Keys opens db's key ring under DataKey, making its keys if it has none:
// what app.Options.Keys takes in a test. Every call on one database gives
// a ring with the same keys.
func Keys(t testing.TB, db *storage.DB) *keyring.Ring {
	t.Helper()
	kek, err := keyring.ParseKEK(DataKey)
	if err != nil {
		t.Fatalf("test data key: %v", err)
	}
	ring, err := keyring.Open(context.Background(), db, kek, time.Now())
	if err != nil {
		t.Fatalf("open the test database's keys: %v", err)
	}
	return ring
}
