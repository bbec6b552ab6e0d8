package storage

// PreparedOn reports whether db has prepared h (for tests that must know
// which way a hot query ran).
func (h *HotQuery) PreparedOn(db *DB) bool {
	_, ok := db.hot.Load(h)
	return ok
}
