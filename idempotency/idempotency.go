// Package idempotency lets a client resend a request safely. A request
// carrying an Idempotency-Key is acted on once; a resend with the same key
// and the same body gets the first answer again, and the same key with a
// different body is refused. This follows the IETF draft "The
// Idempotency-Key HTTP Header Field": 422 for a key reused with another
// request, 409 while the first request is still being processed.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// MaxKeyLength bounds a key.
const MaxKeyLength = 255

type record struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	ID           int64     `bun:"id,pk,autoincrement"`
	UserID       int64     `bun:"user_id"`
	Key          string    `bun:"key"`
	Method       string    `bun:"method"`
	Path         string    `bun:"path"`
	RequestHash  string    `bun:"request_hash"`
	StatusCode   int       `bun:"status_code"`
	ResponseBody string    `bun:"response_body"`
	Location     string    `bun:"location"`
	CreatedAt    time.Time `bun:"created_at"`
}

// Store keeps keys and the answers they got.
type Store struct {
	DB  bun.IDB
	Now func() time.Time
}

// Request identifies a request made with a key.
type Request struct {
	UserID int64
	Key    string
	Method string
	Path   string
	Body   []byte
}

func (r Request) hash() string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.Path + "\n"))
	h.Write(r.Body)
	return hex.EncodeToString(h.Sum(nil))
}

// Response is a stored answer: its status, body, and Location header.
type Response struct {
	StatusCode int
	Body       []byte
	Location   string
}

// Begin claims the key for r. It returns (nil, nil) when r is new and must
// be carried out (then call Finish or Abandon), or the stored response when
// r was already answered. Errors are Invalid (key misused or reused with a
// different request) or Conflict (the first request is still in progress).
func (s *Store) Begin(ctx context.Context, r Request) (*Response, error) {
	if r.Key == "" || len(r.Key) > MaxKeyLength {
		return nil, (apperr.Fields{Header: "must be 1 to 255 characters"}).Err()
	}
	for _, c := range r.Key {
		if c < 0x21 || c > 0x7e {
			return nil, (apperr.Fields{Header: "must be printable ASCII without spaces"}).Err()
		}
	}
	now := s.Now().UTC()
	rec := &record{UserID: r.UserID, Key: r.Key, Method: r.Method, Path: r.Path,
		RequestHash: r.hash(), CreatedAt: now}
	_, err := s.DB.NewInsert().Model(rec).Exec(ctx)
	if err == nil {
		return nil, nil
	}
	if !storage.IsUniqueViolation(err) {
		return nil, storage.Err(err, "idempotency key")
	}
	// A claim still in progress after its lease belongs to a request whose
	// process died: release it and claim it anew. Whatever that request did
	// is safe to try again, since every change is conditional on state.
	res, err := s.DB.NewDelete().Model((*record)(nil)).
		Where("user_id = ? AND key = ? AND status_code = 0 AND created_at < ?", r.UserID, r.Key, now.Add(-Lease)).Exec(ctx)
	if err != nil {
		return nil, storage.Err(err, "idempotency key")
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if _, err := s.DB.NewInsert().Model(rec).Exec(ctx); err == nil {
			return nil, nil
		}
	}
	var prev record
	if err := s.DB.NewSelect().Model(&prev).Where("user_id = ? AND key = ?", r.UserID, r.Key).Scan(ctx); err != nil {
		// Abandoned between our insert and this read: the caller may retry.
		return nil, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is being processed; retry shortly")
	}
	if prev.RequestHash != rec.RequestHash {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "this Idempotency-Key was already used for a different request",
			Fields: map[string]string{Header: "was already used with a different request; use a new key"}}
	}
	if prev.StatusCode == 0 {
		return nil, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry shortly")
	}
	return &Response{StatusCode: prev.StatusCode, Body: []byte(prev.ResponseBody), Location: prev.Location}, nil
}

// Finish stores the answer to r so that resends replay it.
func (s *Store) Finish(ctx context.Context, r Request, resp Response) error {
	_, err := s.DB.NewUpdate().Model((*record)(nil)).
		Set("status_code = ?", resp.StatusCode).Set("response_body = ?", string(resp.Body)).
		Set("location = ?", resp.Location).
		Where("user_id = ? AND key = ?", r.UserID, r.Key).Exec(ctx)
	return storage.Err(err, "idempotency key")
}

// Abandon releases the key after a failure that did not change anything the
// client can see (a server error), so the request can be retried.
func (s *Store) Abandon(ctx context.Context, r Request) error {
	_, err := s.DB.NewDelete().Model((*record)(nil)).Where("user_id = ? AND key = ? AND status_code = 0", r.UserID, r.Key).Exec(ctx)
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
