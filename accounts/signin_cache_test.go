package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// A sign-in that sets a new password revokes the user's other tokens; the
// instance that signed in forgets them at once, as after a password change,
// without waiting for the database's notification.
func TestTokenCacheForgetsWhatANewPasswordAtSignInRevoked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newTestService(db)
		s.Tokens = inUse(t, time.Minute)
		u, plain, _ := newUserToken(t, s)
		authenticatedFromCache(t, s, plain)
		if _, _, err := s.SignIn(ctx, SignIn{Email: u.Email, Password: "a long enough passphrase",
			NewPassword: "cora's very own words"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, plain); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("a token the new password revoked: %v, want unauthorized at once", err)
		}
	})
}
