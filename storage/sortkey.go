package storage

import (
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// Lists ordered by a name (clients, staff, devices by asset tag) are
// ordered by a sort key computed here, in Go, rather than by the database's
// collation: PostgreSQL's depends on how the database was created
// (C.UTF-8 puts "Zoe" before "álvaro", en_US after) and SQLite compares
// bytes. The key is the Unicode Collation Algorithm's (CLDR root order)
// and both databases compare it byte by byte, so every install pages
// through a list in the same order.

// SortKeyVersion names the collation and encoding behind SortKey. When it
// changes (a new golang.org/x/text with other tables, other options), the
// keys stored under the old one are recomputed at the next migration.
const SortKeyVersion = "uca-cldr" + collate.CLDRVersion + "-root-1"

// maxPartKey caps each part's key, so that an index over keys stays well
// within PostgreSQL's limit for an index entry. The primary level (the
// letters) comes first, so only accents and case of very long names are
// cut; rows whose keys are then equal are ordered by id.
const maxPartKey = 512

var collators = sync.Pool{New: func() any { return collate.New(language.Und) }}

// SortKey is the key that orders rows by parts: by the first part, then by
// the second for equal first parts (a last name, then a first name). Keys
// compare byte by byte (BLOB in SQLite, BYTEA in PostgreSQL); a list must
// still end its ORDER BY with a unique column, since different names may
// share a key.
func SortKey(parts ...string) []byte {
	c := collators.Get().(*collate.Collator) // a Collator is not safe for concurrent use
	defer collators.Put(c)
	var buf collate.Buffer
	var out []byte
	for _, p := range parts {
		k := c.KeyFromString(&buf, p)
		if len(k) > maxPartKey {
			k = k[:maxPartKey]
		}
		// Each part ends with 00 00 and a 00 inside it is written 00 01, so
		// a part that is a prefix of another sorts first and the next part
		// is only compared when the parts are equal.
		for _, b := range k {
			if b == 0 {
				out = append(out, 0, 1)
			} else {
				out = append(out, b)
			}
		}
		out = append(out, 0, 0)
		buf.Reset()
	}
	return out
}
