// Package accounts owns staff users, their roles, passwords and API tokens,
// and the access policy (which role may do what).
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// User is a staff member.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID                 int64     `bun:"id,pk,autoincrement" json:"id"`
	Email              string    `bun:"email" json:"email"`
	Name               string    `bun:"name" json:"name"`
	Role               Role      `bun:"role" json:"role"`
	PasswordHash       string    `bun:"password_hash" json:"-"`
	MustChangePassword bool      `bun:"must_change_password" json:"must_change_password"`
	Active             bool      `bun:"active" json:"active"`
	CreatedAt          time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt          time.Time `bun:"updated_at" json:"updated_at"`
	// SortKey orders staff by name alike on every database; it is set
	// whenever the row is written (see BeforeAppendModel).
	SortKey []byte `bun:"sort_key" json:"-"`
	// FundingSourceIDs are the funding sources a funder is linked to
	// (an empty list for none); nil, and left out of the JSON, for the
	// other roles. Filled in by the Service's reads (see FundingLinks).
	FundingSourceIDs *[]int64 `bun:"-" json:"funding_source_ids,omitempty"`
}

var _ bun.BeforeAppendModelHook = (*User)(nil)

// BeforeAppendModel keeps the sort key in step with the name on every
// insert and update. An update that names its columns must name sort_key
// with name.
func (u *User) BeforeAppendModel(_ context.Context, q bun.Query) error {
	switch q.(type) {
	case *bun.InsertQuery, *bun.UpdateQuery:
		u.SortKey = storage.SortKey(u.Name)
	}
	return nil
}

// Token is an API token. Only its SHA-256 hash is stored.
type Token struct {
	bun.BaseModel `bun:"table:api_tokens,alias:t"`

	ID        int64     `bun:"id,pk,autoincrement" json:"id"`
	UserID    int64     `bun:"user_id" json:"user_id"`
	Name      string    `bun:"name" json:"name"`
	Hash      string    `bun:"token_hash" json:"-"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
	// ExpiresAt is the end of the token's lifetime, set when it is made.
	ExpiresAt  time.Time  `bun:"expires_at" json:"expires_at"`
	LastUsedAt *time.Time `bun:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at" json:"revoked_at"`
}

// tokenPrefix makes DeviceBank tokens recognisable in a leaked file or a
// secret scanner. 32 random bytes follow: 256 bits.
const tokenPrefix = "dbk_"

// Token lifetimes. A token stops working TokenLifetime after it is made,
// whatever its use (NIST SP 800-63B asks a password sign-in to be repeated
// at least every 30 days), and also once it has not been used for
// TokenIdleTimeout (a phone left in a drawer or lost over a weekend).
const (
	DefaultTokenLifetime    = 30 * 24 * time.Hour
	DefaultTokenIdleTimeout = 72 * time.Hour
	// usageGranularity is how often a token's last use is recorded: at
	// most once a minute, so that reads do not all become writes.
	usageGranularity = time.Minute
)

// Limits of what is stored about a staff member, in characters.
const (
	MaxNameLength  = 200
	MaxEmailLength = 254 // the longest address SMTP can carry
)

// Service manages users and tokens.
type Service struct {
	DB  bun.IDB
	Now func() time.Time
	// HashParams are the argon2id parameters for new password hashes.
	HashParams *argon2id.Params
	// Hashing bounds the password hashes running at once.
	Hashing *HashLimit
	// Throttle slows password guessing per account and client address.
	Throttle *Throttle
	// TokenLifetime and TokenIdleTimeout end tokens (see the defaults).
	TokenLifetime, TokenIdleTimeout time.Duration
	// SessionIdleTimeout ends a browser session unused for this long; 0
	// means DefaultSessionIdleTimeout.
	SessionIdleTimeout time.Duration
	// Funding keeps which funding sources funders are linked to; nil:
	// users are shown without links and cannot be linked.
	Funding FundingLinks
	// Tokens keeps recent token lookups (Authenticate); nil: none are
	// kept, every lookup reads the database.
	Tokens *TokenCache
}

// FundingLinks is what accounts needs of funding sources: which ones
// funder users are linked to. Satisfied by funding.Service.
type FundingLinks interface {
	// Linked returns the ids of the funding sources each user is linked
	// to, in order; a user with none has no entry.
	Linked(ctx context.Context, db bun.IDB, users []int64) (map[int64][]int64, error)
	// SetLinks replaces a user's links in tx (a repeated id counts once);
	// an unknown id is a 422 on funding_source_ids.
	SetLinks(ctx context.Context, tx bun.Tx, user int64, ids []int64) error
}

// withFunding fills in FundingSourceIDs of the funders among users.
func (s *Service) withFunding(ctx context.Context, db bun.IDB, users ...*User) error {
	if s.Funding == nil {
		return nil
	}
	var funders []int64
	for _, u := range users {
		if u.Role == Funder {
			funders = append(funders, u.ID)
		}
	}
	linked, err := s.Funding.Linked(ctx, db, funders)
	if err != nil {
		return err
	}
	for _, u := range users {
		u.FundingSourceIDs = nil
		if u.Role == Funder {
			ids := linked[u.ID]
			if ids == nil {
				ids = []int64{}
			}
			u.FundingSourceIDs = &ids
		}
	}
	return nil
}

// NewService returns a Service using the recommended argon2id parameters
// and the default token lifetimes.
func NewService(db bun.IDB) *Service {
	return &Service{DB: db, Now: time.Now, HashParams: argon2id.DefaultParams, Hashing: DefaultHashLimit(),
		Throttle: NewThrottle(), TokenLifetime: DefaultTokenLifetime, TokenIdleTimeout: DefaultTokenIdleTimeout}
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// NewUser is the input for creating a staff member.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
	// MustChangePassword forces a new password at first sign-in.
	MustChangePassword bool `json:"must_change_password"`
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e
}

// CreateUser adds a staff member. actor is nil when the system or the CLI does it.
func (s *Service) CreateUser(ctx context.Context, actor *Actor, in NewUser) (*User, error) {
	in.Email = normalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	var bad apperr.Fields
	bad.Check(!validEmail(in.Email), "email", "must be an email address")
	bad.MaxLength("email", in.Email, MaxEmailLength)
	bad.Check(in.Name == "", "name", "is required")
	bad.MaxLength("name", in.Name, MaxNameLength)
	bad.Check(!in.Role.Valid(), "role", "must be one of admin, coordinator, social_worker, funder")
	password, problem := passwordShape(in.Password)
	if problem == "" {
		problem = passwordStrength(password, in.Email, in.Name)
	}
	bad.Check(problem != "", "password", problem)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{Email: in.Email, Name: in.Name, Role: in.Role, PasswordHash: hash,
		MustChangePassword: in.MustChangePassword, Active: true, CreatedAt: now, UpdatedAt: now}
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(u).Exec(ctx); err != nil {
			if storage.UniqueOn(err, "email") {
				return &apperr.Error{Code: apperr.Conflict, Message: "a user with this email already exists",
					Fields: map[string]string{"email": "is already in use"}}
			}
			return storage.Err(err, "user")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "user.created",
			SubjectType: "user", SubjectID: u.ID}, map[string]any{"email": u.Email, "name": u.Name, "role": u.Role})
	})
	if err != nil {
		return nil, err
	}
	if err := s.withFunding(ctx, s.DB, u); err != nil {
		return nil, err
	}
	return u, nil
}

// EnsureFirstAdmin creates an admin with a random one-time password when the
// database has no users at all. It returns the password when it created one.
func (s *Service) EnsureFirstAdmin(ctx context.Context, email string) (created *User, password string, err error) {
	n, err := s.DB.NewSelect().Model((*User)(nil)).Count(ctx)
	if err != nil {
		return nil, "", storage.Err(err, "users")
	}
	if n > 0 {
		return nil, "", nil
	}
	password = RandomPassword()
	u, err := s.CreateUser(ctx, nil, NewUser{Email: email, Name: "Administrator", Role: Admin,
		Password: password, MustChangePassword: true})
	if apperr.Is(err, apperr.Conflict) {
		return nil, "", nil // another instance created it first
	}
	if err != nil {
		return nil, "", err
	}
	return u, password, nil
}

// RandomPassword returns a random 20-character password.
func RandomPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// UserByEmail finds a user.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	u := new(User)
	err := s.DB.NewSelect().Model(u).Where("email = ?", normalizeEmail(email)).Scan(ctx)
	if err != nil {
		return nil, storage.Err(err, "user")
	}
	return u, nil
}

// User finds a user by id.
func (s *Service) User(ctx context.Context, id int64) (*User, error) {
	u := new(User)
	if err := s.DB.NewSelect().Model(u).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, storage.Err(err, "user")
	}
	if err := s.withFunding(ctx, s.DB, u); err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers returns staff members, by name.
func (s *Service) ListUsers(ctx context.Context, page storage.Page) ([]User, int, error) {
	users := []User{}
	total, err := page.Apply(s.DB.NewSelect().Model(&users).OrderExpr("sort_key, id")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "users")
	}
	ptrs := make([]*User, len(users))
	for i := range users {
		ptrs[i] = &users[i]
	}
	if err := s.withFunding(ctx, s.DB, ptrs...); err != nil {
		return nil, 0, err
	}
	return users, int(total), nil
}

// UserPatch changes a user; nil fields stay as they are.
type UserPatch struct {
	Name   *string `json:"name"`
	Role   *Role   `json:"role"`
	Active *bool   `json:"active"`
	// FundingSourceIDs replaces the funding sources a funder is linked
	// to (an empty list: none); only for a user who is, or becomes, a
	// funder. A repeated id counts once.
	FundingSourceIDs *[]int64 `json:"funding_source_ids"`
}

// UpdateUser changes a user's name, role, active flag or, for a funder,
// funding sources. Deactivating a user, or changing their role, revokes
// their tokens and browser sessions; a funder who takes another role loses
// their links.
func (s *Service) UpdateUser(ctx context.Context, actor *Actor, id int64, p UserPatch) (*User, error) {
	var bad apperr.Fields
	if p.Name != nil {
		*p.Name = strings.TrimSpace(*p.Name)
		bad.Check(*p.Name == "", "name", "must not be empty")
		bad.MaxLength("name", *p.Name, MaxNameLength)
	}
	if p.Role != nil {
		bad.Check(!p.Role.Valid(), "role", "must be one of admin, coordinator, social_worker, funder")
	}
	if actor != nil && actor.ID == id {
		bad.Check(p.Active != nil && !*p.Active, "active", "you cannot deactivate yourself")
		bad.Check(p.Role != nil && *p.Role != actor.Role, "role", "you cannot change your own role")
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	var u User
	err := s.revokingTx(ctx, func(tx bun.Tx) error {
		if err := storage.Locked(tx.NewSelect().Model(&u).Where("id = ?", id)).Scan(ctx); err != nil {
			return storage.Err(err, "user")
		}
		if err := s.withFunding(ctx, tx, &u); err != nil {
			return err
		}
		before := map[string]any{"name": u.Name, "role": u.Role, "active": u.Active, "funding_source_ids": u.FundingSourceIDs}
		if p.Name != nil {
			u.Name = *p.Name
		}
		if p.Role != nil {
			u.Role = *p.Role
		}
		if p.Active != nil {
			u.Active = *p.Active
		}
		links, err := s.relink(ctx, tx, &u, p.FundingSourceIDs)
		if err != nil {
			return err
		}
		changes := audit.Diff(before, map[string]any{"name": u.Name, "role": u.Role, "active": u.Active, "funding_source_ids": links})
		if len(changes) == 0 {
			return nil
		}
		u.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(&u).Column("name", "sort_key", "role", "active", "updated_at").WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "user")
		}
		if _, ok := changes["role"]; ok || !u.Active {
			if _, _, err := revokeAccess(ctx, tx, u.ID, u.UpdatedAt, nil); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: u.UpdatedAt, ActorID: actor.IDPtr(),
			Action: "user.updated", SubjectType: "user", SubjectID: u.ID}, changes)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// relink applies a patch's funding_source_ids to u, whose role is the
// patched one, in tx: only a funder is linked to funding sources, and one
// who takes another role loses their links. It returns u's links after
// (nil for a user who is not a funder), and sets them on u.
func (s *Service) relink(ctx context.Context, tx bun.Tx, u *User, ids *[]int64) (*[]int64, error) {
	var bad apperr.Fields
	bad.Check(ids != nil && u.Role != Funder, "funding_source_ids", "only a funder is linked to funding sources; this user is "+string(u.Role))
	bad.Check(ids != nil && s.Funding == nil, "funding_source_ids", "funding sources are not set up on this server")
	if err := bad.Err(); err != nil {
		return nil, err
	}
	had := u.FundingSourceIDs
	switch {
	case ids != nil:
		if err := s.Funding.SetLinks(ctx, tx, u.ID, *ids); err != nil {
			return nil, err
		}
	case u.Role != Funder && had != nil && len(*had) > 0:
		if err := s.Funding.SetLinks(ctx, tx, u.ID, nil); err != nil {
			return nil, err
		}
	}
	if err := s.withFunding(ctx, tx, u); err != nil {
		return nil, err
	}
	return u.FundingSourceIDs, nil
}

// hashToken is how tokens are stored: SHA-256 is enough for 256 random bits.
func hashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// CreateToken issues a new API token for user userID and returns it in the
// clear; it cannot be read back later. A token made with a token (the
// actor's) ends no later than that one: the lifetime bounds a password
// sign-in, which a token must not renew by making others.
func (s *Service) CreateToken(ctx context.Context, actor *Actor, userID int64, name string) (string, *Token, error) {
	name, err := tokenName("name", name)
	if err != nil {
		return "", nil, err
	}
	var plain string
	var t *Token
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		// Locked, so that a deactivation running at the same time either
		// comes first (and we refuse) or waits and revokes this token too.
		u, err := s.lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !u.Active {
			return apperr.New(apperr.Conflict, "user %s is deactivated", u.Email)
		}
		var notAfter time.Time
		if actor != nil && actor.TokenID != 0 {
			if err := tx.NewSelect().Model((*Token)(nil)).Column("expires_at").Where("id = ?", actor.TokenID).Scan(ctx, &notAfter); err != nil {
				return storage.Err(err, "token")
			}
		}
		plain, t, err = s.issueToken(ctx, tx, actor, userID, name, notAfter)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return plain, t, nil
}

// tokenName checks a token's name, given in field; empty means "api".
func tokenName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "api"
	}
	var bad apperr.Fields
	bad.MaxLength(field, name, 100)
	return name, bad.Err()
}

// issueToken inserts a new token for a user whose row tx has locked, which
// ends after the lifetime, or at notAfter if that is sooner (zero: no bound).
func (s *Service) issueToken(ctx context.Context, tx bun.Tx, actor *Actor, userID int64, name string, notAfter time.Time) (string, *Token, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, apperr.Wrap(err, "random token")
	}
	plain := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	t := &Token{UserID: userID, Name: name, Hash: hashToken(plain), CreatedAt: now, ExpiresAt: now.Add(s.TokenLifetime)}
	if !notAfter.IsZero() && notAfter.Before(t.ExpiresAt) {
		t.ExpiresAt = notAfter.UTC()
	}
	if _, err := tx.NewInsert().Model(t).Exec(ctx); err != nil {
		return "", nil, storage.Err(err, "token")
	}
	err := audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "token.created",
		SubjectType: "user", SubjectID: userID}, map[string]any{"token_id": t.ID, "name": name, "expires_at": t.ExpiresAt})
	return plain, t, err
}

// tokenLookup finds a bearer token's user: it runs for every API request
// the TokenCache does not answer.
var tokenLookup storage.HotQuery

// authRow is what Authenticate reads of a token and its user, and what a
// TokenCache keeps.
type authRow struct {
	TokenID   int64      `bun:"token_id"`
	UserID    int64      `bun:"user_id"`
	Name      string     `bun:"name"`
	Role      Role       `bun:"role"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt time.Time  `bun:"expires_at"`
	LastUsed  *time.Time `bun:"last_used_at"`
}

// usageDue says whether a use of the token at now is to be recorded: at
// most once a minute, so that reads do not all become writes.
func (r *authRow) usageDue(now time.Time) bool {
	return r.LastUsed == nil || now.Sub(*r.LastUsed) >= usageGranularity
}

// Authenticate returns the actor that owns a bearer token, or Unauthorized.
// A token past its lifetime, or idle for longer than the idle timeout, is
// refused with a message saying it expired, so that a script knows to sign
// in again. With a TokenCache, a recent lookup may answer instead of the
// database, except when the token's use is due to be recorded; the
// lifetime and idle checks apply to it alike.
func (s *Service) Authenticate(ctx context.Context, plain string) (*Actor, error) {
	unauthorized := apperr.New(apperr.Unauthorized, "the token is missing, unknown or revoked")
	if !strings.HasPrefix(plain, tokenPrefix) || len(plain) > 200 {
		return nil, unauthorized
	}
	hash := hashToken(plain)
	now := s.now()
	row, gen, hit := s.Tokens.lookup(hash)
	hit = hit && !row.usageDue(now)
	s.Tokens.count(hit)
	if !hit {
		row = authRow{} // not a stale entry's values
		err := tokenLookup.ScanOne(ctx, s.DB, func(param storage.Param) storage.Query {
			return s.DB.NewSelect().
				ColumnExpr("t.id AS token_id, u.id AS user_id, u.name, u.role, t.created_at, t.expires_at, t.last_used_at").
				TableExpr("api_tokens AS t").
				Join("JOIN users AS u ON u.id = t.user_id").
				Where("t.token_hash = ?", param(0)).
				Where("t.revoked_at IS NULL").
				Where("u.active")
		}, []any{hash}, &row)
		if err != nil {
			if apperr.Is(storage.Err(err, "token"), apperr.NotFound) {
				return nil, unauthorized
			}
			return nil, storage.Err(err, "token")
		}
	}
	lastUse := row.CreatedAt
	if row.LastUsed != nil {
		lastUse = *row.LastUsed
	}
	switch {
	case !now.Before(row.ExpiresAt):
		return nil, apperr.New(apperr.Unauthorized, "the token has expired: it reached the end of its lifetime; sign in again for a new one")
	// Use is recorded to the minute, so the token is given that minute:
	// it is never refused early, and at most a minute late.
	case now.Sub(lastUse) > s.TokenIdleTimeout+usageGranularity:
		return nil, apperr.New(apperr.Unauthorized, "the token has expired: it was not used for %s; sign in again for a new one", s.TokenIdleTimeout)
	}
	if !hit {
		if row.usageDue(now) {
			s.DB.NewUpdate().Model((*Token)(nil)).Set("last_used_at = ?", now).Where("id = ?", row.TokenID).Exec(ctx)
			row.LastUsed = &now
		}
		s.Tokens.store(hash, row, gen)
	}
	return &Actor{ID: row.UserID, Name: row.Name, Role: row.Role, TokenID: row.TokenID}, nil
}

// ListTokens returns a user's tokens, newest first (without their secrets).
func (s *Service) ListTokens(ctx context.Context, userID int64, page storage.Page) ([]Token, int, error) {
	tokens := []Token{}
	total, err := page.Apply(s.DB.NewSelect().Model(&tokens).Where("user_id = ?", userID).OrderExpr("id DESC")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "tokens")
	}
	return tokens, int(total), nil
}

// RevokeToken revokes one of the actor's own tokens (an admin may revoke anyone's).
func (s *Service) RevokeToken(ctx context.Context, actor *Actor, tokenID int64) error {
	return s.revokingTx(ctx, func(tx bun.Tx) error {
		var t Token
		q := storage.Locked(tx.NewSelect().Model(&t).Where("id = ?", tokenID))
		if !actor.Can(ManageUsers) {
			q.Where("user_id = ?", actor.ID)
		}
		if err := q.Scan(ctx); err != nil {
			return storage.Err(err, "token")
		}
		if t.RevokedAt != nil {
			return nil
		}
		now := s.now()
		if _, err := tx.NewUpdate().Model(&t).Set("revoked_at = ?", now).WherePK().Exec(ctx); err != nil {
			return storage.Err(err, "token")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "token.revoked",
			SubjectType: "user", SubjectID: t.UserID}, map[string]any{"token_id": t.ID})
	})
}

// revokingTx is storage.InTx for a change that may end tokens or change
// what Authenticate returns: once it commits, this instance's TokenCache
// forgets its lookups at once, without waiting for the notification that
// every instance receives (migration 0023).
func (s *Service) revokingTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	if err := storage.InTx(ctx, s.DB, fn); err != nil {
		return err
	}
	s.Tokens.Invalidate()
	return nil
}
