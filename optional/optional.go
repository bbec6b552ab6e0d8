// Package optional holds Field, for PATCH inputs where "not given", "null"
// and a value are three different things: leaving a data plan's end date
// alone, removing it, or changing it.
package optional

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Field is a JSON field that may be absent, null, or hold a value.
type Field[T any] struct {
	Set   bool // the field was in the input (null or a value)
	Null  bool // the field was null
	Value T
}

// Of returns a Field holding v.
func Of[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// UnmarshalJSON records that the field was given, and whether as null.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		f.Null = true
		var zero T
		f.Value = zero
		return nil
	}
	f.Null = false
	return json.Unmarshal(b, &f.Value)
}

// MarshalJSON writes the value, or null.
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if !f.Set || f.Null {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

// Assign sets *dst to *src when src is given: the rule for a PATCH field
// that cannot be null.
func Assign[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// AssignTrimmed is Assign for text, without surrounding white space.
func AssignTrimmed(dst *string, src *string) {
	if src != nil {
		*dst = strings.TrimSpace(*src)
	}
}
