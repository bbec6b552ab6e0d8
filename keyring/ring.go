package keyring

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/devicebank/devicebank/storage"
)

// storedKey is a row of data_keys: a key wrapped under a key-encryption
// key. At most one key of each purpose is current (not retired).
type storedKey struct {
	bun.BaseModel `bun:"table:data_keys"`

	ID        int64      `bun:"id,pk,autoincrement"`
	Purpose   Purpose    `bun:"purpose"`
	Wrapped   string     `bun:"wrapped"`
	KEKID     string     `bun:"kek_id"`
	CreatedAt time.Time  `bun:"created_at"`
	RetiredAt *time.Time `bun:"retired_at"`
}

// Ring holds the database's keys, unwrapped: every data key (values sealed
// under a retired one still open), the current one to seal with, and the
// index key. It learns of a data key made since it was opened (RotateData,
// by another process) when it meets a value sealed under it, or when
// Refresh is called; until then it seals under the key it knew.
type Ring struct {
	keys atomic.Pointer[ringKeys]
	// load reads and unwraps the database's keys again (Open's).
	load func(ctx context.Context) (*ringKeys, error)
	// reloading lets one reload run at a time.
	reloading sync.Mutex
}

// ringKeys are the keys a Ring holds at one time.
type ringKeys struct {
	data    map[int64]cipher.AEAD
	current int64
	index   []byte
}

// ErrWrongKey is Open's error when the key-encryption key given is not the
// one that wrapped the database's keys.
var ErrWrongKey = errors.New("the data key given is not the one this database's keys were made with")

// Open unwraps the database's keys with kek, first creating a data key and
// an index key if the database has none. Creation is one transaction that
// holds a lock and first checks any key there against kek, so two
// instances starting at once share one key of each purpose, and one given
// another key is refused without leaving a key behind. It fails with
// ErrWrongKey when kek did not wrap the keys there.
func Open(ctx context.Context, db bun.IDB, kek *KEK, now time.Time) (*Ring, error) {
	if err := ensureKeys(ctx, db, kek, now); err != nil {
		return nil, err
	}
	r := &Ring{load: func(ctx context.Context) (*ringKeys, error) { return loadKeys(ctx, db, kek) }}
	keys, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	r.keys.Store(keys)
	return r, nil
}

// loadKeys reads the database's keys and unwraps them with kek.
func loadKeys(ctx context.Context, db bun.IDB, kek *KEK) (*ringKeys, error) {
	var rows []storedKey
	if err := db.NewSelect().Model(&rows).Order("id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "data key")
	}
	r := &ringKeys{data: map[int64]cipher.AEAD{}}
	for _, k := range rows {
		raw, err := kek.unwrap(k.Wrapped, k.Purpose)
		if err != nil {
			return nil, wrongKey(k, kek, err)
		}
		switch k.Purpose {
		case ForData:
			aead, err := chacha20poly1305.NewX(raw)
			if err != nil {
				return nil, err
			}
			r.data[k.ID] = aead
			if k.RetiredAt == nil {
				r.current = k.ID
			}
		case ForIndex:
			if k.RetiredAt == nil {
				r.index = raw
			}
		}
	}
	if r.current == 0 || r.index == nil {
		return nil, errors.New("the database has no current data key or index key")
	}
	return r, nil
}

// Refresh reads the database's keys again: a data key made since (by
// RotateData in another process) becomes the one values are sealed under.
func (r *Ring) Refresh(ctx context.Context) error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	keys, err := r.load(ctx)
	if err != nil {
		return err
	}
	r.keys.Store(keys)
	return nil
}

// aead is data key id's cipher, reading the database's keys again once if
// the ring does not hold it: a value may be sealed under a key another
// process made since this one opened its ring.
func (r *Ring) aead(id int64) (cipher.AEAD, bool) {
	if a, ok := r.keys.Load().data[id]; ok {
		return a, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Refresh(ctx); err != nil {
		return nil, false
	}
	a, ok := r.keys.Load().data[id]
	return a, ok
}

// RotateData makes a new data key, wrapped under kek, the current one, and
// retires the one that was: values sealed from now on are sealed under the
// new key (in other processes from their next Refresh), and older values
// still open. Re-sealing them under the new key is the callers' (the
// clients' Reseal job). It returns the new key's id.
func RotateData(ctx context.Context, db bun.IDB, kek *KEK, now time.Time) (int64, error) {
	var id int64
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		if err := storage.LockName(ctx, tx, "data_keys"); err != nil { // as ensureKeys
			return err
		}
		if _, err := checked(ctx, tx, kek); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*storedKey)(nil)).Set("retired_at = ?", now.UTC()).
			Where("purpose = ? AND retired_at IS NULL", ForData).Exec(ctx); err != nil {
			return storage.Err(err, "data key")
		}
		k := &storedKey{Purpose: ForData, Wrapped: kek.wrap(randomBytes(KeySize), ForData), KEKID: kek.ID(), CreatedAt: now.UTC()}
		if _, err := tx.NewInsert().Model(k).Exec(ctx); err != nil {
			return storage.Err(err, "data key")
		}
		id = k.ID
		return nil
	})
	return id, err
}

// ensureKeys creates the current keys the database lacks, under kek, once
// any key already there is known to be kek's.
func ensureKeys(ctx context.Context, db bun.IDB, kek *KEK, now time.Time) error {
	return storage.InTx(ctx, db, func(tx bun.Tx) error {
		if err := storage.LockName(ctx, tx, "data_keys"); err != nil {
			return err
		}
		rows, err := checked(ctx, tx, kek)
		if err != nil {
			return err
		}
		have := map[Purpose]bool{}
		for _, k := range rows {
			if k.RetiredAt == nil {
				have[k.Purpose] = true
			}
		}
		for _, p := range []Purpose{ForData, ForIndex} {
			if have[p] {
				continue
			}
			k := &storedKey{Purpose: p, Wrapped: kek.wrap(randomBytes(KeySize), p), KEKID: kek.ID(), CreatedAt: now.UTC()}
			if _, err := tx.NewInsert().Model(k).Exec(ctx); err != nil {
				return storage.Err(err, "data key")
			}
		}
		return nil
	})
}

// Check reports whether kek wrapped the keys db holds (ErrWrongKey if not),
// creating none: what a command checks before it changes anything.
func Check(ctx context.Context, db bun.IDB, kek *KEK) error {
	_, err := checked(ctx, db, kek)
	return err
}

// checked reads the keys db holds, each unwrapped with kek to check it.
func checked(ctx context.Context, db bun.IDB, kek *KEK) ([]storedKey, error) {
	var rows []storedKey
	if err := db.NewSelect().Model(&rows).Order("id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "data key")
	}
	for _, k := range rows {
		if _, err := kek.unwrap(k.Wrapped, k.Purpose); err != nil {
			return nil, wrongKey(k, kek, err)
		}
	}
	return rows, nil
}

// wrongKey explains why key k did not unwrap with kek.
func wrongKey(k storedKey, kek *KEK, err error) error {
	switch {
	case !errors.Is(err, errWrongKEK):
		return fmt.Errorf("data key %d: %w", k.ID, err)
	case k.KEKID != kek.ID():
		return fmt.Errorf("%w: its keys were wrapped by the key with id %s, and the one given has id %s", ErrWrongKey, k.KEKID, kek.ID())
	}
	return fmt.Errorf("%w (data key %d does not open with it: damaged?)", ErrWrongKey, k.ID)
}

// Seal seals plain for place under the current data key. An empty value
// stays empty: that a field is blank is not hidden.
func (r *Ring) Seal(plain string, at Place) string {
	if plain == "" {
		return ""
	}
	keys := r.keys.Load()
	aead := keys.data[keys.current]
	head := make([]byte, 4+chacha20poly1305.NonceSizeX, 4+chacha20poly1305.NonceSizeX+len(plain)+padBlock+aead.Overhead())
	binary.BigEndian.PutUint32(head, uint32(keys.current))
	nonce := head[4:]
	rand.Read(nonce) // never fails: crypto/rand ends the program first
	out := aead.Seal(head, nonce, pad([]byte(plain)), at.ad())
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// ErrCannotOpen is Unseal's error for a value that is damaged, sealed for
// another place, or sealed under a key the ring does not hold.
var ErrCannotOpen = errors.New("a sealed value does not open")

// Unseal opens a value Seal made for place. An empty value is empty.
func (r *Ring) Unseal(sealed string, at Place) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if !IsSealed(sealed) {
		return "", fmt.Errorf("%w: %s.%s of row %d is not sealed", ErrCannotOpen, at.Table, at.Column, at.Row)
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(sealedPrefix):])
	if err != nil || len(raw) < 4+chacha20poly1305.NonceSizeX {
		return "", fmt.Errorf("%w: %s.%s of row %d is damaged", ErrCannotOpen, at.Table, at.Column, at.Row)
	}
	id := int64(binary.BigEndian.Uint32(raw))
	aead, ok := r.aead(id)
	if !ok {
		return "", fmt.Errorf("%w: %s.%s of row %d is sealed under data key %d, which this database does not hold", ErrCannotOpen, at.Table, at.Column, at.Row, id)
	}
	nonce, body := raw[4:4+chacha20poly1305.NonceSizeX], raw[4+chacha20poly1305.NonceSizeX:]
	padded, err := aead.Open(nil, nonce, body, at.ad())
	if err != nil {
		return "", fmt.Errorf("%w: %s.%s of row %d was sealed for another place, or is damaged", ErrCannotOpen, at.Table, at.Column, at.Row)
	}
	plain, err := unpad(padded)
	if err != nil {
		return "", fmt.Errorf("%w: %s.%s of row %d: %v", ErrCannotOpen, at.Table, at.Column, at.Row, err)
	}
	return string(plain), nil
}

// BlindIndex is the keyed digest of value for equality lookups in domain
// (such as "clients.phone"): the same value in the same domain gives the
// same digest; digests of different domains are unrelated. It reveals
// which rows hold equal values, and nothing of the value without the key.
func (r *Ring) BlindIndex(domain, value string) string {
	return r.Digest(domain, []byte(value))
}

// Digest is the keyed digest (HMAC-SHA-256 under the index key) of data in
// domain, as base64: what blind indexes and the audit trail's chain are
// made of. Digests of different domains are unrelated.
func (r *Ring) Digest(domain string, data []byte) string {
	mac := hmac.New(sha256.New, r.keys.Load().index)
	mac.Write([]byte(domain))
	mac.Write([]byte{0})
	mac.Write(data)
	return base64.RawStdEncoding.EncodeToString(mac.Sum(nil))
}

// CurrentDataKey is the id of the data key new values are sealed under.
func (r *Ring) CurrentDataKey() int64 { return r.keys.Load().current }

// SealedUnder is the id of the data key sealed was sealed under, or 0 for
// a value that is empty or not sealed.
func SealedUnder(sealed string) int64 {
	if !IsSealed(sealed) {
		return 0
	}
	// The key id is the first 4 bytes: the first 8 base64 characters hold 6.
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(sealedPrefix):min(len(sealed), len(sealedPrefix)+8)])
	if err != nil || len(raw) < 4 {
		return 0
	}
	return int64(binary.BigEndian.Uint32(raw))
}

// Rewrap wraps every key in the database under next instead of current,
// in one transaction, and returns how many it rewrapped. Keys already
// wrapped under next are left (a second run after a first that ended
// after its commit does nothing). Values sealed under the data keys are
// not touched: the data keys themselves do not change.
func Rewrap(ctx context.Context, db bun.IDB, current, next *KEK) (int, error) {
	n := 0
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		if err := storage.LockName(ctx, tx, "data_keys"); err != nil { // as ensureKeys
			return err
		}
		var rows []storedKey
		if err := storage.Locked(tx.NewSelect().Model(&rows).Order("id")).Scan(ctx); err != nil {
			return storage.Err(err, "data key")
		}
		for _, k := range rows {
			if k.KEKID == next.ID() {
				if _, err := next.unwrap(k.Wrapped, k.Purpose); err == nil {
					continue
				}
			}
			raw, err := current.unwrap(k.Wrapped, k.Purpose)
			if errors.Is(err, errWrongKEK) {
				return fmt.Errorf("%w: data key %d was wrapped by the key with id %s, and the current one given has id %s", ErrWrongKey, k.ID, k.KEKID, current.ID())
			} else if err != nil {
				return fmt.Errorf("data key %d: %w", k.ID, err)
			}
			if _, err := tx.NewUpdate().Model((*storedKey)(nil)).Set("wrapped = ?", next.wrap(raw, k.Purpose)).Set("kek_id = ?", next.ID()).
				Where("id = ?", k.ID).Exec(ctx); err != nil {
				return storage.Err(err, "data key")
			}
			n++
		}
		return nil
	})
	return n, err
}
