// Package idempotency lets a client resend a request safely. A request
// carrying an Idempotency-Key is acted on at most once; a resend with the
// same key and the same body is told what became of the first, and the same
// key with a different body is refused. This follows the IETF draft "The
// Idempotency-Key HTTP Header Field": 422 for a key reused with another
// request, 409 while the first request is still being processed.
//
// A key is claimed by inserting a row with a random claim token. Every
// transaction of the request that holds the claim begins with the claim's
// fence (see Claim.Fence and storage.WithFence): it marks the row applied,
// on the condition that the token is still the request's own, and so holds
// the row (PostgreSQL's row lock; SQLite's write lock) until it commits or
// rolls back. A claim left in progress past its lease (its server died) may
// be taken over by a resend, by changing the token, but only while nothing
// was applied. So whichever instance or retry runs a request, its changes
// commit at most once: a request whose claim was taken over cannot commit,
// and a claim whose request committed cannot be taken over.
//
// No answer is stored but an error's: a resend of a request that succeeded
// re-reads what it made or changed (the web layer decides how), so that
// neither secrets nor client records sit in this table.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// MaxKeyLength bounds a key.
const MaxKeyLength = 255

type record struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	ID          int64  `bun:"id,pk,autoincrement"`
	UserID      int64  `bun:"user_id"`
	Key         string `bun:"key"`
	Method      string `bun:"method"`
	Path        string `bun:"path"`
	RequestHash string `bun:"request_hash"`
	ClaimToken  string `bun:"claim_token"`
	// Applied is set by the fence when a transaction of the request
	// commits.
	Applied    bool   `bun:"applied"`
	StatusCode int    `bun:"status_code"` // 0 until the outcome is stored
	ErrorBody  string `bun:"error_body"`  // only for a 4xx answer
	Location   string `bun:"location"`
	// CreatedAt is when the key was claimed (or last taken over).
	CreatedAt time.Time `bun:"created_at"`
}

// Store keeps keys and what became of their requests.
type Store struct {
	DB  bun.IDB
	Now func() time.Time
	// Claimed, when set, is called with each request that has just
	// claimed its key, before it is carried out. Tests use it to hold a
	// request midway.
	Claimed func(ctx context.Context, r Request)
	// Keys, when set, key the digest kept of each request (its body may
	// hold a client's details, which a plain hash would let anyone with
	// the table guess back, a phone number in seconds).
	Keys *keyring.Ring
}

// Request identifies a request made with a key.
type Request struct {
	UserID int64
	Key    string
	Method string
	Path   string
	Body   []byte
}

// hash is the digest kept of r, to tell a resend from another request
// under the same key: keyed by the store's Keys when it has them.
func (s *Store) hash(r Request) string {
	head := []byte(r.Method + " " + r.Path + "\n")
	if s.Keys != nil {
		return s.Keys.Digest("idempotency.request", append(head, r.Body...))
	}
	h := sha256.New()
	h.Write(head)
	h.Write(r.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// Outcome is what became of a request: its status, the Location it
// answered, and for a 4xx answer its body. StatusCode 0 means the request
// was carried out but its outcome was never stored (its server stopped, or
// the database failed, after it committed).
type Outcome struct {
	StatusCode int
	Location   string
	ErrorBody  []byte
}

// Claim is a request's hold on its key.
type Claim struct {
	id    int64
	token string
}

// Begin claims the key for r. It returns a claim when r is to be carried
// out (then call Finish), or the outcome of the request that already was.
// Errors are Invalid (key misused or reused with a different request) or
// Conflict (the first request is still in progress).
func (s *Store) Begin(ctx context.Context, r Request) (*Claim, *Outcome, error) {
	if r.Key == "" || len(r.Key) > MaxKeyLength {
		return nil, nil, (apperr.Fields{Header: "must be 1 to 255 characters"}).Err()
	}
	for _, c := range r.Key {
		if c < 0x21 || c > 0x7e {
			return nil, nil, (apperr.Fields{Header: "must be printable ASCII without spaces"}).Err()
		}
	}
	now := s.Now().UTC()
	rec := &record{UserID: r.UserID, Key: r.Key, Method: r.Method, Path: r.Path,
		RequestHash: s.hash(r), ClaimToken: newToken(), CreatedAt: now}
	_, err := s.DB.NewInsert().Model(rec).Exec(ctx)
	if err == nil {
		return s.claimed(ctx, r, rec.ID, rec.ClaimToken), nil, nil
	}
	if !storage.IsUniqueViolation(err) {
		return nil, nil, storage.Err(err, "idempotency key")
	}
	var prev record
	if err := s.DB.NewSelect().Model(&prev).Where("user_id = ? AND key = ?", r.UserID, r.Key).Scan(ctx); err != nil {
		// Released between our insert and this read: the caller may retry.
		return nil, nil, inProgress()
	}
	if prev.RequestHash != rec.RequestHash {
		return nil, nil, &apperr.Error{Code: apperr.Invalid, Message: "this Idempotency-Key was already used for a different request",
			Fields: map[string]string{Header: "was already used with a different request; use a new key"}}
	}
	if prev.StatusCode != 0 {
		return nil, &Outcome{StatusCode: prev.StatusCode, Location: prev.Location, ErrorBody: []byte(prev.ErrorBody)}, nil
	}
	if prev.CreatedAt.After(now.Add(-Lease)) {
		return nil, nil, inProgress()
	}
	if prev.Applied {
		// Past its lease, and its changes were committed: it must not run
		// again, whatever became of its answer.
		return nil, &Outcome{}, nil
	}
	// A claim still in progress after its lease, with nothing applied,
	// belongs to a request whose server stopped: take it over. Taking it
	// is conditional on the token and on applied, so it waits for a
	// transaction whose fence holds the row (PostgreSQL's row lock,
	// SQLite's write lock) and fails if that transaction committed; and a
	// fence that comes after it finds another token, so its transaction
	// changes nothing.
	res, err := s.DB.NewUpdate().Model((*record)(nil)).
		Set("claim_token = ?", rec.ClaimToken).Set("created_at = ?", now).
		Where("id = ? AND claim_token = ? AND applied = ? AND status_code = 0", prev.ID, prev.ClaimToken, false).Exec(ctx)
	if err != nil {
		return nil, nil, storage.Err(err, "idempotency key")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Someone else moved first: applied, finished or taken over.
		return nil, nil, inProgress()
	}
	return s.claimed(ctx, r, prev.ID, rec.ClaimToken), nil, nil
}

func (s *Store) claimed(ctx context.Context, r Request, id int64, token string) *Claim {
	if s.Claimed != nil {
		s.Claimed(ctx, r)
	}
	return &Claim{id: id, token: token}
}

func inProgress() error {
	return apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry shortly")
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Fence is the condition every transaction of the claimed request must meet
// to commit (see storage.WithFence): the claim is still the request's own.
// It marks the key applied (undone if the transaction rolls back), holding
// its row until the transaction ends; a later transaction of the same
// request finds its own claim and goes on.
func (cl *Claim) Fence(ctx context.Context, tx bun.Tx) error {
	res, err := tx.NewUpdate().Model((*record)(nil)).Set("applied = ?", true).
		Where("id = ? AND claim_token = ?", cl.id, cl.token).Exec(ctx)
	if err != nil {
		return storage.Err(err, "idempotency key")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.Conflict, "this request took so long that a resend with the same Idempotency-Key took its place; "+
			"nothing was done by this one: the resend's answer is the one that counts")
	}
	return nil
}

// Finish stores the outcome of the claimed request. A server error (5xx), a
// 429 or a 415 releases the key instead, so that the request can be retried, unless the
// request had already committed changes: then that is recorded, and a
// resend is told the request was carried out.
func (s *Store) Finish(ctx context.Context, cl *Claim, o Outcome) error {
	// A server error, a refusal that waiting cures (429), or a body sent
	// in the wrong form (415, which the request's hash does not see) is
	// not the answer to keep: unless something was committed, the key is
	// released and the same request may be sent again.
	if o.StatusCode >= 500 || o.StatusCode == http.StatusTooManyRequests || o.StatusCode == http.StatusUnsupportedMediaType {
		o.ErrorBody = nil
		res, err := s.DB.NewDelete().Model((*record)(nil)).
			Where("id = ? AND claim_token = ? AND applied = ?", cl.id, cl.token, false).Exec(ctx)
		if err != nil {
			return storage.Err(err, "idempotency key")
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	_, err := s.DB.NewUpdate().Model((*record)(nil)).
		Set("status_code = ?", o.StatusCode).Set("error_body = ?", string(o.ErrorBody)).Set("location = ?", o.Location).
		Where("id = ? AND claim_token = ?", cl.id, cl.token).Exec(ctx)
	return storage.Err(err, "idempotency key")
}

// Retention is how long a key is remembered. A resend after that acts again.
const Retention = 24 * time.Hour

// Lease is how long a claimed key may stay in progress before it is taken
// to be abandoned (its server stopped mid-request). Requests finish in
// seconds; the server's write timeout is one minute.
const Lease = 2 * time.Minute

// Purge deletes keys older than age, and returns how many.
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	res, err := s.DB.NewDelete().Model((*record)(nil)).Where("created_at < ?", s.Now().UTC().Add(-age)).Exec(ctx)
	if err != nil {
		return 0, storage.Err(err, "idempotency keys")
	}
	return res.RowsAffected()
}
