package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// Session is a browser session of the web pages, begun by a password
// sign-in at /login. Like a token, only a hash of its id is stored; the id
// itself is in the browser's cookie alone.
type Session struct {
	bun.BaseModel `bun:"table:browser_sessions,alias:bs"`

	ID         int64      `bun:"id,pk,autoincrement"`
	UserID     int64      `bun:"user_id"`
	Hash       string     `bun:"id_hash"`
	CreatedAt  time.Time  `bun:"created_at"`
	ExpiresAt  time.Time  `bun:"expires_at"`
	LastSeenAt time.Time  `bun:"last_seen_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

// Session lifetimes. A browser session ends SessionLifetime after sign-in
// whatever its use (a working day and more: nobody is signed out in the
// middle of a long shift), and sooner once unused for the idle timeout,
// DefaultSessionIdleTimeout unless configured: a phone or a shared desk
// computer left signed in soon holds nothing. OWASP's session management
// advice puts idle timeouts of 15 to 30 minutes on sensitive data.
const (
	SessionLifetime           = 12 * time.Hour
	DefaultSessionIdleTimeout = 30 * time.Minute
	// sessionPrefix marks session ids, as tokenPrefix marks tokens, so
	// that neither is taken for the other.
	sessionPrefix = "dbs_"
)

// SignInSession checks a password as SignIn does (the same throttle, the
// same one-time password rule: in.TokenName must be empty) and begins a
// browser session. It returns the session's id, for the browser's cookie
// only, and the session.
func (s *Service) SignInSession(ctx context.Context, in SignIn, address string) (string, *Session, error) {
	var early error
	if in.TokenName != "" {
		early = (apperr.Fields{"token_name": "a browser session has no name"}).Err()
	}
	var plain string
	var sess *Session
	err := s.signIn(ctx, in, address, early, func(tx bun.Tx, actor *Actor) (err error) {
		plain, sess, err = s.beginSession(ctx, tx, actor)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return plain, sess, nil
}

// beginSession inserts a new session for actor, whose row tx has locked.
func (s *Service) beginSession(ctx context.Context, tx bun.Tx, actor *Actor) (string, *Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, apperr.Wrap(err, "random session id")
	}
	plain := sessionPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	sess := &Session{UserID: actor.ID, Hash: hashToken(plain), CreatedAt: now, ExpiresAt: now.Add(SessionLifetime), LastSeenAt: now}
	if _, err := tx.NewInsert().Model(sess).Exec(ctx); err != nil {
		return "", nil, storage.Err(err, "session")
	}
	err := audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "session.started",
		SubjectType: "user", SubjectID: actor.ID}, map[string]any{"session_id": sess.ID, "expires_at": sess.ExpiresAt})
	return plain, sess, err
}

func (s *Service) sessionIdleTimeout() time.Duration {
	if s.SessionIdleTimeout > 0 {
		return s.SessionIdleTimeout
	}
	return DefaultSessionIdleTimeout
}

// AuthenticateSession returns the actor of a browser session, or
// Unauthorized with a message saying why it ended. A user deactivated, or
// given another role or a new password, has had their sessions revoked.
// Like a token's, the session's last use is written at most once a minute,
// and the idle timeout allows that minute.
func (s *Service) AuthenticateSession(ctx context.Context, plain string) (*Actor, error) {
	ended := apperr.New(apperr.Unauthorized, "you are not signed in, or your session has ended: sign in")
	if !strings.HasPrefix(plain, sessionPrefix) || len(plain) > 200 {
		return nil, ended
	}
	var row struct {
		SessionID int64     `bun:"session_id"`
		UserID    int64     `bun:"user_id"`
		Name      string    `bun:"name"`
		Role      Role      `bun:"role"`
		ExpiresAt time.Time `bun:"expires_at"`
		LastSeen  time.Time `bun:"last_seen_at"`
	}
	err := s.DB.NewSelect().
		ColumnExpr("bs.id AS session_id, u.id AS user_id, u.name, u.role, bs.expires_at, bs.last_seen_at").
		TableExpr("browser_sessions AS bs").
		Join("JOIN users AS u ON u.id = bs.user_id").
		Where("bs.id_hash = ?", hashToken(plain)).
		Where("bs.revoked_at IS NULL").
		Where("u.active").
		Scan(ctx, &row)
	if err != nil {
		if apperr.Is(storage.Err(err, "session"), apperr.NotFound) {
			return nil, ended
		}
		return nil, storage.Err(err, "session")
	}
	now := s.now()
	switch idle := s.sessionIdleTimeout(); {
	case !now.Before(row.ExpiresAt):
		return nil, apperr.New(apperr.Unauthorized, "your session ended %s after you signed in: sign in again", duration(SessionLifetime))
	case now.Sub(row.LastSeen) > idle+usageGranularity:
		return nil, apperr.New(apperr.Unauthorized, "you were signed out after %s without activity: sign in again", duration(idle))
	}
	if now.Sub(row.LastSeen) >= usageGranularity {
		s.DB.NewUpdate().Model((*Session)(nil)).Set("last_seen_at = ?", now).Where("id = ?", row.SessionID).Exec(ctx)
	}
	return &Actor{ID: row.UserID, Name: row.Name, Role: row.Role, SessionID: row.SessionID}, nil
}

// EndSession signs a browser session out. An unknown or ended session is
// not an error: signing out twice leaves the browser signed out.
func (s *Service) EndSession(ctx context.Context, plain string) error {
	if !strings.HasPrefix(plain, sessionPrefix) || len(plain) > 200 {
		return nil
	}
	return storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var sess Session
		err := storage.Locked(tx.NewSelect().Model(&sess).Where("id_hash = ? AND revoked_at IS NULL", hashToken(plain))).Scan(ctx)
		if apperr.Is(storage.Err(err, "session"), apperr.NotFound) {
			return nil
		}
		if err != nil {
			return storage.Err(err, "session")
		}
		now := s.now()
		if _, err := tx.NewUpdate().Model(&sess).Set("revoked_at = ?", now).WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "session")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: &sess.UserID, Action: "session.ended",
			SubjectType: "user", SubjectID: sess.UserID}, map[string]any{"session_id": sess.ID})
	})
}

// duration writes d as people say it: "30 minutes", "12 hours".
func duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
