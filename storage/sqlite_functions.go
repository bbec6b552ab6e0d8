package storage

import (
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"
)

// SQLite's built-in lower() folds ASCII letters only, so a search for
// "ángel" would not find "Ángel" although PostgreSQL would. Replacing it,
// for every connection this process opens, with Go's Unicode-aware
// strings.ToLower makes both databases search alike.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("lower", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil // NULL and numbers, as the built-in does
		}
	})
}
