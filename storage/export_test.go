package storage

import "database/sql"

// PreparedOn reports whether db has prepared h (for tests that must know
// which way a hot query ran).
func (h *HotQuery) PreparedOn(db *DB) bool {
	_, ok := db.hot.Load(h)
	return ok
}

// CloseKept closes the statement db keeps for h without forgetting it, as
// another goroutine finding it stale would between this one's taking it
// and its use.
func (h *HotQuery) CloseKept(db *DB) {
	if s, ok := db.hot.Load(h); ok {
		s.(*sql.Stmt).Close()
	}
}
