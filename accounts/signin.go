package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// SignIn is the input for exchanging a password for a token.
type SignIn struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
	TokenName   string `json:"token_name"`
}

// SignIn checks a password and returns a new token. A user whose password
// was one-time (the first admin, or one reset by an admin) must give a
// new_password, which replaces it; a new password revokes every other
// token and browser session of the user. address is the client's address,
// for the throttle.
func (s *Service) SignIn(ctx context.Context, in SignIn, address string) (string, *Token, error) {
	// Check what can be checked before the password.
	name, nameErr := tokenName("token_name", in.TokenName)
	var plain string
	var t *Token
	err := s.signIn(ctx, in, address, nameErr, func(tx bun.Tx, actor *Actor) (err error) {
		plain, t, err = s.issueToken(ctx, tx, actor, actor.ID, name, time.Time{})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return plain, t, nil
}

// signIn is every password sign-in, for a token or a browser session: it
// checks the password through the throttle, replaces a one-time password,
// then calls issue in the transaction that has locked the user's row and
// found them still active with the password checked. early is an error of
// the caller's own input, reported with the new password's.
func (s *Service) signIn(ctx context.Context, in SignIn, address string, early error, issue func(tx bun.Tx, actor *Actor) error) error {
	wrong := apperr.New(apperr.Unauthorized, "the email or password is wrong")
	// No account has an email or password this long: refuse before the
	// lookup, the throttle's memory and the hash are spent on it.
	if len(in.Email) > MaxEmailLength || len(in.Password) > maxPasswordBytes {
		return wrong
	}
	var bad apperr.Fields
	newPassword, problem := "", ""
	if in.NewPassword != "" {
		newPassword, problem = passwordShape(in.NewPassword)
		bad.Check(problem != "", "new_password", problem)
	}
	if err := apperr.Join(early, bad.Err()); err != nil {
		return err
	}

	u, err := s.UserByEmail(ctx, in.Email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := s.checkPassword(ctx, in.Email, address, in.Password, hash, func(ok bool) bool { return ok && u != nil && u.Active })
	if err != nil {
		return err
	}
	if !ok {
		return wrong
	}

	if u.MustChangePassword && in.NewPassword == "" {
		return (apperr.Fields{"new_password": "your password is one-time: choose a new one of at least 12 characters"}).Err()
	}
	newHash := ""
	if in.NewPassword != "" {
		if problem := s.newPasswordProblem(newPassword, in.Password, u); problem != "" {
			return (apperr.Fields{"new_password": problem}).Err()
		}
		if newHash, err = s.hash(ctx, newPassword); err != nil {
			return err
		}
	}
	actor := &Actor{ID: u.ID, Name: u.Name, Role: u.Role}
	// A new password revokes the user's other tokens: this instance's
	// TokenCache forgets them at once, as after ChangePassword, rather
	// than when the database's notification comes back.
	inTx := func(fn func(tx bun.Tx) error) error { return storage.InTx(ctx, s.DB, fn) }
	if newHash != "" {
		inTx = func(fn func(tx bun.Tx) error) error { return s.revokingTx(ctx, fn) }
	}
	return inTx(func(tx bun.Tx) error {
		// The password checked must still be the user's, and they still active.
		locked, err := s.lockUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if !locked.Active || locked.PasswordHash != u.PasswordHash {
			return wrong
		}
		if newHash != "" {
			if err := s.replacePassword(ctx, tx, actor, u.ID, newHash, false, nil, "user.password_changed"); err != nil {
				return err
			}
		}
		return issue(tx, actor)
	})
}

// checkPassword compares password with hash for account, through the
// throttle of account and address. accept decides, from whether the
// password matched, whether the check passed; a check that did not pass
// counts as a wrong password.
func (s *Service) checkPassword(ctx context.Context, account, address, password, hash string, accept func(bool) bool) (bool, error) {
	if err := s.Throttle.attempt(account, address, s.now()); err != nil {
		return false, err
	}
	result := unchecked
	defer func() { s.Throttle.settle(account, address, result) }()
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return false, err
	}
	if !accept(ok) {
		result = wrongPassword
		return false, nil
	}
	result = rightPassword
	return true, nil
}

// dummyHash is hashed on first use, not at start, to keep start-up quick.
var dummyHash = sync.OnceValue(func() string {
	h, _ := argon2id.CreateHash("not a real password", argon2id.DefaultParams)
	return h
})

// newPasswordProblem says what is wrong with a new password (already
// through passwordShape) for user u, whose current password is current.
func (s *Service) newPasswordProblem(newPassword, current string, u *User) string {
	if n, _ := normalizePassword(current); n == newPassword {
		return "must differ from the current password"
	}
	return passwordStrength(newPassword, u.Email, u.Name)
}

// PasswordChange is the input for changing one's own password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ChangePassword replaces the actor's password. Every other token and
// browser session of theirs is revoked in the same transaction; the one
// they used is kept. address is
// the client's address: wrong current passwords are throttled as sign-ins are.
func (s *Service) ChangePassword(ctx context.Context, actor *Actor, in PasswordChange, address string) error {
	u, err := s.User(ctx, actor.ID)
	if err != nil {
		return err
	}
	newPassword, problem := passwordShape(in.NewPassword)
	if problem == "" {
		problem = s.newPasswordProblem(newPassword, in.CurrentPassword, u)
	}
	var bad apperr.Fields
	bad.Check(in.CurrentPassword == "", "current_password", "is required")
	bad.Check(problem != "", "new_password", problem)
	if err := bad.Err(); err != nil {
		return err
	}
	ok, err := s.checkPassword(ctx, u.Email, address, in.CurrentPassword, u.PasswordHash, func(ok bool) bool { return ok })
	if err != nil {
		return err
	}
	if !ok {
		return (apperr.Fields{"current_password": "is not your current password"}).Err()
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return err
	}
	return s.revokingTx(ctx, func(tx bun.Tx) error {
		locked, err := s.lockUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if locked.PasswordHash != u.PasswordHash {
			return apperr.New(apperr.Conflict, "your password was changed meanwhile; sign in again")
		}
		return s.replacePassword(ctx, tx, actor, u.ID, hash, false, actor, "user.password_changed")
	})
}

// ResetPassword gives user userID a new random one-time password, which
// they must replace at their next sign-in, revokes all their tokens, and
// returns the password: it is shown this once and stored only hashed.
func (s *Service) ResetPassword(ctx context.Context, actor *Actor, userID int64) (string, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return "", err
	}
	password := RandomPassword()
	hash, err := s.hash(ctx, password)
	if err != nil {
		return "", err
	}
	err = s.revokingTx(ctx, func(tx bun.Tx) error {
		if _, err := s.lockUser(ctx, tx, userID); err != nil {
			return err
		}
		return s.replacePassword(ctx, tx, actor, userID, hash, true, nil, "user.password_reset")
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

func (s *Service) lockUser(ctx context.Context, tx bun.Tx, id int64) (*User, error) {
	u := new(User)
	if err := storage.Locked(tx.NewSelect().Model(u).Where("id = ?", id)).Scan(ctx); err != nil {
		return nil, storage.Err(err, "user")
	}
	return u, nil
}

// replacePassword stores a user's new password hash and ends all their
// tokens and browser sessions but keep's (nil: all), in tx, which has
// locked the user's row. The audit event says how many ended, never
// anything of the password.
func (s *Service) replacePassword(ctx context.Context, tx bun.Tx, actor *Actor, userID int64, hash string, oneTime bool, keep *Actor, action string) error {
	now := s.now()
	if _, err := tx.NewUpdate().Model((*User)(nil)).Set("password_hash = ?", hash).
		Set("must_change_password = ?", oneTime).Set("updated_at = ?", now).Where("id = ?", userID).Exec(ctx); err != nil {
		return storage.Err(err, "user")
	}
	tokens, sessions, err := revokeAccess(ctx, tx, userID, now, keep)
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: action,
		SubjectType: "user", SubjectID: userID}, map[string]any{"tokens_revoked": tokens, "sessions_ended": sessions})
}

// revokeAccess ends every token and browser session of user userID at now,
// in tx, but the token and the session keep signed in with (nil: none
// kept), and says how many of each ended. It is what a new password, a
// deactivation and a change of role do, so that API tokens and browser
// sessions end alike.
func revokeAccess(ctx context.Context, tx bun.Tx, userID int64, now time.Time, keep *Actor) (tokens, sessions int64, err error) {
	var keepToken, keepSession int64
	if keep != nil {
		keepToken, keepSession = keep.TokenID, keep.SessionID
	}
	res, err := tx.NewUpdate().Model((*Token)(nil)).Set("revoked_at = ?", now).
		Where("user_id = ? AND revoked_at IS NULL AND id <> ?", userID, keepToken).Exec(ctx)
	if err != nil {
		return 0, 0, storage.Err(err, "tokens")
	}
	tokens, _ = res.RowsAffected()
	res, err = tx.NewUpdate().Model((*Session)(nil)).Set("revoked_at = ?", now).
		Where("user_id = ? AND revoked_at IS NULL AND id <> ?", userID, keepSession).Exec(ctx)
	if err != nil {
		return 0, 0, storage.Err(err, "sessions")
	}
	sessions, _ = res.RowsAffected()
	return tokens, sessions, nil
}

// PasswordStamp is a short fingerprint of u's stored password hash (never
// of the password): a form that resets a password carries it, so that the
// form sent twice (a double click, a reload) resets once, as the second
// finds another hash. It tells nothing of the password.
func PasswordStamp(u *User) string {
	sum := sha256.Sum256([]byte("devicebank password stamp\x00" + u.PasswordHash))
	return hex.EncodeToString(sum[:8])
}

// ResetPasswordIf is ResetPassword done only while the user's password is
// still the one stamp was taken of (PasswordStamp), checked under the
// user's row lock: a reset form resent after its reset is a Conflict, and
// no second password is made.
func (s *Service) ResetPasswordIf(ctx context.Context, actor *Actor, userID int64, stamp string) (string, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return "", err
	}
	password := RandomPassword()
	hash, err := s.hash(ctx, password)
	if err != nil {
		return "", err
	}
	err = s.revokingTx(ctx, func(tx bun.Tx) error {
		u, err := s.lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if PasswordStamp(u) != stamp {
			return apperr.New(apperr.Conflict, "this password was reset or changed since the page was opened; nothing was done. "+
				"The one-time password shown then is the one to give, or reset it again")
		}
		return s.replacePassword(ctx, tx, actor, userID, hash, true, nil, "user.password_reset")
	})
	if err != nil {
		return "", err
	}
	return password, nil
}
