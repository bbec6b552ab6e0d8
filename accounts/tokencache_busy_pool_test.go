package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/storage"
)

// While every connection of the pool is busy (a server under load), the
// listener still handles the notifications it receives: a token revoked by
// another instance is forgotten at once, not when the pool frees up or the
// TTL passes. (The probe, which needs a connection of the pool, used to be
// sent from the listener's loop, which stopped reading until it was.)
func TestTokenCacheHearsChangesWhileThePoolIsBusy(t *testing.T) {
	first, second, _ := twoInstances(t, nil)
	ctx := context.Background()
	_, plain, tok := newUserToken(t, second)
	authenticatedFromCache(t, first, plain)
	db1 := first.DB.(*storage.DB)
	db1.SetMaxOpenConns(1)
	conn, err := db1.Conn(ctx) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The listener probes its connection after 2 s of quiet: by now its
	// probe waits for the pool.
	time.Sleep(probeEvery + 500*time.Millisecond)
	if err := second.RevokeToken(ctx, &Actor{Role: Admin}, tok.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the token revoked by the second instance is still kept by the first while its pool is busy", func() bool {
		_, _, ok := first.Tokens.lookup(hashToken(plain))
		return !ok
	})
}
