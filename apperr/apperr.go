// Package apperr is the one error type that domain code returns to callers.
//
// An error carries a Code that says what kind of failure it is, a Message
// a person can read, and, for invalid input, every bad field at once. The web
// layer maps codes to HTTP statuses in one place; only Internal errors are
// logged with their detail.
package apperr

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Code classifies an error. The values are part of the API contract.
type Code string

const (
	Invalid      Code = "invalid"      // a field or the request is wrong
	Malformed    Code = "malformed"    // the body could not be parsed at all
	NotFound     Code = "not_found"    // no such thing, or not visible to the caller
	Conflict     Code = "conflict"     // the thing is not in a state that allows this
	Forbidden    Code = "forbidden"    // the caller's role may not do this
	Unauthorized Code = "unauthorized" // no or bad credentials
	TooLarge     Code = "too_large"    // the body is bigger than allowed
	// UnsupportedMediaType: the body is not sent as the route takes it
	// (JSON, with Content-Type: application/json).
	UnsupportedMediaType Code = "unsupported_media_type"
	RateLimited          Code = "rate_limited" // too many attempts
	Unavailable          Code = "unavailable"  // too busy right now; try again shortly
	Internal             Code = "internal"     // a bug or an outage; details are logged, not shown
)

// Error is the application error.
type Error struct {
	Code    Code
	Message string
	// Fields maps a field name (as the API spells it) to what is wrong with it.
	Fields map[string]string
	// Err is an underlying cause, kept for logs; never shown to users.
	Err error
	// RetryAfter, for rate_limited and unavailable, is how long to wait
	// before trying again (sent as the Retry-After header).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap marks err as internal, keeping it for the logs.
func Wrap(err error, context string) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return &Error{Code: Internal, Message: context, Err: err}
}

// CodeOf returns the code of err, Internal for any error that is not an *Error.
func CodeOf(err error) Code {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Fields collects every problem with an input so that all of them are
// reported together. The zero value is ready to use.
type Fields map[string]string

// Add records a problem with field unless one is already recorded for it.
func (f *Fields) Add(field, problem string) {
	if *f == nil {
		*f = Fields{}
	}
	if _, ok := (*f)[field]; !ok {
		(*f)[field] = problem
	}
}

// Check records problem for field when bad is true.
func (f *Fields) Check(bad bool, field, problem string) {
	if bad {
		f.Add(field, problem)
	}
}

// Err returns an Invalid error listing the recorded fields, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "some fields are invalid", Fields: maps.Clone(f)}
}

// Join merges errors so that every bad field is reported at once: nil
// errors are skipped, the fields of Invalid errors are combined, and the
// first error of any other kind wins.
func Join(errs ...error) error {
	var bad Fields
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != Invalid {
			return err
		}
		for k, v := range ae.Fields {
			bad.Add(k, v)
		}
	}
	return bad.Err()
}

// MaxLength records a problem with field when value has more than n
// characters (letters, not bytes: "Ordoñez" is 7).
func (f *Fields) MaxLength(field, value string, n int) {
	if utf8.RuneCountInString(value) > n {
		f.Add(field, fmt.Sprintf("must be at most %d characters", n))
	}
}

// statuses are the HTTP statuses of the codes: the API answers with them,
// and so do the pages.
var statuses = map[Code]int{
	Malformed:            http.StatusBadRequest,
	Unauthorized:         http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	Conflict:             http.StatusConflict,
	TooLarge:             http.StatusRequestEntityTooLarge,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	Invalid:              http.StatusUnprocessableEntity,
	RateLimited:          http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	Internal:             http.StatusInternalServerError,
}

// HTTPStatus is the HTTP status a code is answered with; 500 for a code
// that has none.
func HTTPStatus(code Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryAfterSeconds is the Retry-After header of e: its RetryAfter in
// whole seconds, rounded up.
func (e *Error) RetryAfterSeconds() string {
	return strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))
}
