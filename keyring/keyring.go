// Package keyring keeps the keys that protect client data (envelope
// encryption): a key-encryption key from outside the database (an
// environment variable or a file, never stored with the data) wraps the
// data keys that are kept in the database, each with an id. A data key
// seals values with XChaCha20-Poly1305, a random nonce per value, and the
// value's place (table, column, row) as associated data, so a sealed value
// copied to another row or field fails to open. A separate key, wrapped the
// same way, makes blind indexes: keyed HMAC-SHA-256 digests for equality
// lookups that do not store the value.
//
// A Ring is opened once at start with the key-encryption key; it creates
// the first data key and index key on a database that has none, and refuses
// a key-encryption key that did not wrap the keys there.
package keyring

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of every key: the key-encryption key, data keys and
// index keys.
const KeySize = 32

// KEK is a key-encryption key: it wraps and unwraps data keys.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// ParseKEK reads a key-encryption key written as base64 (standard, with or
// without padding), as Generate writes it; surrounding white space (a file's
// final newline) is ignored.
func ParseKEK(text string) (*KEK, error) {
	text = strings.TrimSpace(text)
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(text)
	}
	if err != nil {
		return nil, errors.New("the data key is not base64; make one with `devicebank keys generate`")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("the data key is %d bytes, want %d; make one with `devicebank keys generate`", len(raw), KeySize)
	}
	aead, err := chacha20poly1305.NewX(raw)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("devicebank key-encryption key id"))
	return &KEK{id: hex.EncodeToString(mac.Sum(nil)[:8]), aead: aead}, nil
}

// ID names the key without revealing it: the data keys it wraps record it,
// so a wrong key is told apart from damaged data.
func (k *KEK) ID() string { return k.id }

// Generate makes a new random key, as base64.
func Generate() string {
	return base64.StdEncoding.EncodeToString(randomBytes(KeySize))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on a supported system
	}
	return b
}

// wrap seals a data key under the KEK; purpose is bound to it, so an index
// key cannot be passed off as a data key or the other way round.
func (k *KEK) wrap(key []byte, purpose Purpose) string {
	nonce := randomBytes(chacha20poly1305.NonceSizeX)
	return base64.StdEncoding.EncodeToString(k.aead.Seal(nonce, nonce, key, wrapAD(purpose)))
}

// errWrongKEK is unwrap's failure: the key is not the one that wrapped.
var errWrongKEK = errors.New("wrong key-encryption key")

func (k *KEK) unwrap(wrapped string, purpose Purpose) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil || len(raw) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, errors.New("a wrapped key is damaged")
	}
	nonce, sealed := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	key, err := k.aead.Open(nil, nonce, sealed, wrapAD(purpose))
	if err != nil {
		return nil, errWrongKEK
	}
	if len(key) != KeySize {
		return nil, errors.New("a wrapped key has the wrong size")
	}
	return key, nil
}

func wrapAD(purpose Purpose) []byte { return []byte("devicebank wrapped key:" + string(purpose)) }

// Purpose is what a key in the database is for.
type Purpose string

const (
	// ForData keys seal values.
	ForData Purpose = "data"
	// ForIndex keys make blind indexes.
	ForIndex Purpose = "index"
)

// Place is where a sealed value lives: bound to it as associated data.
type Place struct {
	Table, Column string
	// Row identifies the row: a value that never changes for the row's
	// life (its id).
	Row int64
}

func (p Place) ad() []byte {
	b := make([]byte, 0, len(p.Table)+len(p.Column)+10)
	b = append(b, p.Table...)
	b = append(b, 0)
	b = append(b, p.Column...)
	b = append(b, 0)
	return binary.AppendVarint(b, p.Row)
}

// sealedPrefix starts every sealed value: it tells a sealed value from a
// plain one (an older row), and its version the layout after it.
const sealedPrefix = "dbk1:"

// padBlock is the size plain values are padded to a multiple of, so a
// sealed value tells little of its length (a name of 3 letters and one of
// 14 look alike).
const padBlock = 16

// IsSealed reports whether v is a sealed value (not necessarily one that
// opens).
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// Plain is the SQL condition, on SQLite and PostgreSQL alike, that column
// holds a value that is neither empty nor sealed: one stored before its
// column was sealed. It compares the prefix's bytes (substr: SQLite's LIKE
// would ignore case).
func Plain(column bun.Ident) (string, []any) {
	return "(? <> '' AND substr(?, 1, ?) <> ?)", []any{column, column, len(sealedPrefix), sealedPrefix}
}

// pad appends 0x80 and then zeros to a multiple of padBlock (ISO/IEC
// 7816-4), which unpad removes.
func pad(b []byte) []byte {
	n := padBlock - len(b)%padBlock
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	out = append(out, 0x80)
	return append(out, make([]byte, n-1)...)
}

func unpad(b []byte) ([]byte, error) {
	i := len(b) - 1
	for i >= 0 && b[i] == 0 {
		i--
	}
	if i < 0 || b[i] != 0x80 {
		return nil, errors.New("bad padding")
	}
	return b[:i], nil
}
