package storage

import (
	"strconv"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
)

// Page is a window of a list: at most Limit rows after skipping Offset.
type Page struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// ParsePage reads limit and offset as given in a query string; empty means
// the default. Bad values are reported by field.
func ParsePage(limit, offset string) (Page, error) {
	p := Page{Limit: DefaultPageLimit}
	var bad apperr.Fields
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxPageLimit {
			bad.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(MaxPageLimit))
		}
		p.Limit = n
	}
	if offset != "" {
		n, err := strconv.Atoi(offset)
		if err != nil || n < 0 {
			bad.Add("offset", "must be a whole number, 0 or more")
		}
		p.Offset = n
	}
	return p, bad.Err()
}

// Apply limits q to the page. A zero Limit means the default.
func (p Page) Apply(q *bun.SelectQuery) *bun.SelectQuery {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultPageLimit
	}
	return q.Limit(int64(limit)).Offset(int64(p.Offset))
}

// Window is the part of a list of n items held in memory that the page
// shows: items[from:to]. A zero Limit means the default.
func (p Page) Window(n int) (from, to int) {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultPageLimit
	}
	from = min(max(p.Offset, 0), n)
	return from, min(from+limit, n)
}
