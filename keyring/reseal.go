package keyring

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

// SealedTable is a table whose Columns hold values sealed for their row
// (Place{Name, column, id}), and whose KeyColumn names the data key they
// are sealed under (SealedUnder): NULL when every one is empty, Unrecorded
// for a row stored before the key was recorded, whose values may be plain.
// Whoever writes a sealed value writes the key column with it.
type SealedTable struct {
	Name      string
	KeyColumn string
	Columns   []string
}

// Unrecorded is the key column of a row stored before its table recorded
// the key its values are sealed under (a migration sets it): its values
// are sealed under any key, or plain, written before they were sealed.
const Unrecorded = 0

// SealUnrecorded seals, under the current data key, up to batch rows of t
// whose key is Unrecorded and that hold a plain value (Plain), and returns
// how many rows it wrote. The service runs it until none is left after its
// migrations, before such a row is read; the Unrecorded rows whose values
// are all sealed already are left to Reseal, in the background.
func (r *Ring) SealUnrecorded(ctx context.Context, db bun.IDB, t SealedTable, batch int) (int, error) {
	var plain []string
	args := []any{bun.Ident(t.KeyColumn), Unrecorded}
	for _, column := range t.Columns {
		cond, a := Plain(bun.Ident(column))
		plain, args = append(plain, cond), append(args, a...)
	}
	return r.reseal(ctx, db, t, batch, "? = ? AND ("+strings.Join(plain, " OR ")+")", args...)
}

// Until runs step (SealUnrecorded or Reseal) until it writes nothing, or
// ctx ends, and returns how many rows it wrote in all.
func Until(ctx context.Context, step func(context.Context) (int, error)) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := step(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, ctx.Err()
}

// Reseal seals again, under the current data key, up to batch rows of t
// sealed under another one (after RotateData, or Unrecorded), and returns
// how many it wrote: 0 when none is left, or when every row read was
// changed meanwhile (each write is conditional on the row's values being
// those read, so an edit or another instance's reseal is kept; a later
// call finds what is left).
func (r *Ring) Reseal(ctx context.Context, db bun.IDB, t SealedTable, batch int) (int, error) {
	// Two ranges rather than <>: an index scan of the key column, so that
	// a job run every minute reads nothing when nothing is left.
	key, current := bun.Ident(t.KeyColumn), r.CurrentDataKey()
	return r.reseal(ctx, db, t, batch, "(? < ? OR ? > ?)", key, current, key, current)
}

func (r *Ring) reseal(ctx context.Context, db bun.IDB, t SealedTable, batch int, where string, args ...any) (int, error) {
	written := 0
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		columns := append([]string{"id"}, t.Columns...)
		rows, err := tx.NewSelect().Table(t.Name).Column(columns...).Where(where, args...).OrderExpr("id").Limit(int64(batch)).Rows(ctx)
		if err != nil {
			return storage.Err(err, t.Name)
		}
		type row struct {
			id     int64
			values []sql.NullString
		}
		var read []row
		for rows.Next() {
			rw := row{values: make([]sql.NullString, len(t.Columns))}
			dest := []any{&rw.id}
			for i := range rw.values {
				dest = append(dest, &rw.values[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return storage.Err(err, t.Name)
			}
			read = append(read, rw)
		}
		if err := rows.Close(); err != nil {
			return storage.Err(err, t.Name)
		}
		if err := rows.Err(); err != nil {
			return storage.Err(err, t.Name)
		}
		for _, rw := range read {
			q := tx.NewUpdate().Table(t.Name).Where("id = ?", rw.id)
			var key any // NULL: nothing sealed
			for i, column := range t.Columns {
				old := rw.values[i].String
				plain := old
				if IsSealed(old) {
					if plain, err = r.Unseal(old, Place{Table: t.Name, Column: column, Row: rw.id}); err != nil {
						return err
					}
				}
				sealed := r.Seal(plain, Place{Table: t.Name, Column: column, Row: rw.id})
				if sealed != "" {
					key = SealedUnder(sealed)
				}
				q.Set("? = ?", bun.Ident(column), sealed)
				if rw.values[i].Valid {
					q.Where("? = ?", bun.Ident(column), old)
				} else {
					q.Where("? IS NULL", bun.Ident(column))
				}
			}
			res, err := q.Set("? = ?", bun.Ident(t.KeyColumn), key).Exec(ctx)
			if err != nil {
				return storage.Err(err, t.Name)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				written++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seal %s under the current data key: %w", t.Name, err)
	}
	return written, nil
}

// KeyOf is the key column's value for a row holding sealed: the data key
// of the first value sealed, or nil (NULL) when every one is empty.
func KeyOf(sealed ...string) *int64 {
	for _, v := range sealed {
		if k := SealedUnder(v); k != 0 {
			return &k
		}
	}
	return nil
}
