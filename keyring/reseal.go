package keyring

import (
	"context"
	"database/sql"
	"errors"
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
	// IDColumn is the row's id, which every seal binds: "" means "id".
	IDColumn string
	// MatchKey makes a write conditional on the key column being the one
	// read, rather than on the values: for a table whose rows change only
	// by being sealed again (signed agreements), whose values (a PDF) are
	// too large, or too binary, to compare in SQL.
	MatchKey bool
}

func (t SealedTable) id() string {
	if t.IDColumn == "" {
		return "id"
	}
	return t.IDColumn
}

// Unrecorded is the key column of a row stored before its table recorded
// the key its values are sealed under (a migration sets it): its values
// are sealed under any key, or plain, written before they were sealed.
const Unrecorded = 0

// UnopenedError is what a pass of SealUnrecorded or Reseal reports when
// some sealed values did not open (damaged, or moved from another row):
// they were left as they are, every other value of their rows was sealed,
// and the pass went on. It names the rows, never a value.
type UnopenedError struct {
	Table string
	IDs   []int64
}

func (e *UnopenedError) Error() string {
	ids := e.IDs
	more := ""
	if len(ids) > 10 {
		ids, more = ids[:10], fmt.Sprintf(" and %d more", len(e.IDs)-10)
	}
	return fmt.Sprintf("%s: values of %d rows do not open (damaged, or copied from another row) and were left as they are: ids %v%s",
		e.Table, len(e.IDs), ids, more)
}

// SealUnrecorded seals, under the current data key, every row of t whose
// key is Unrecorded and that holds a plain value (Plain), batch rows per
// transaction, and returns how many rows it wrote. The service runs it
// after its migrations, before such a row is read; the Unrecorded rows
// whose values are all sealed already are left to Reseal, in the
// background.
func (r *Ring) SealUnrecorded(ctx context.Context, db bun.IDB, t SealedTable, batch int) (int, error) {
	where, args := unrecorded(t)
	return r.reseal(ctx, db, t, batch, where, args...)
}

// unrecorded is the condition of SealUnrecorded's rows.
func unrecorded(t SealedTable) (string, []any) {
	var plain []string
	args := []any{bun.Ident(t.KeyColumn), Unrecorded}
	for _, column := range t.Columns {
		cond, a := Plain(bun.Ident(column))
		plain, args = append(plain, cond), append(args, a...)
	}
	return "? = ? AND (" + strings.Join(plain, " OR ") + ")", args
}

// Reseal seals again, under the current data key, every row of t sealed
// under another one (after RotateData, or Unrecorded), batch rows per
// transaction, and returns how many rows it wrote. Each write is
// conditional on the row's values being those read, so an edit or another
// instance's reseal meanwhile is kept (and a row an instance that has not
// learnt of the new key writes is found by the next pass).
func (r *Ring) Reseal(ctx context.Context, db bun.IDB, t SealedTable, batch int) (int, error) {
	where, args := underOlder(t, r.CurrentDataKey())
	return r.reseal(ctx, db, t, batch, where, args...)
}

// underOlder is the condition of Reseal's rows: two ranges rather than <>,
// which the key column's index answers.
func underOlder(t SealedTable, current int64) (string, []any) {
	key := bun.Ident(t.KeyColumn)
	return "(? < ? OR ? > ?)", []any{key, current, key, current}
}

// due asks whether any row of t matches where, without an order: the key
// column's index answers it, where SQLite would take a pass's ORDER BY id
// as a scan of the table. A job run every minute then reads nothing, and
// takes no write lock, when nothing is left.
func due(db bun.IDB, t SealedTable, where string, args []any) *bun.SelectQuery {
	return db.NewSelect().Table(t.Name).ColumnExpr("1").Where(where, args...).Limit(1)
}

// reseal is one pass over the rows of t matching where, in order of id,
// batch rows per transaction.
func (r *Ring) reseal(ctx context.Context, db bun.IDB, t SealedTable, batch int, where string, args ...any) (int, error) {
	if found, err := due(db, t, where, args).Exists(ctx); err != nil || !found {
		return 0, storage.Err(err, t.Name)
	}
	written, after := 0, int64(0)
	var unopened []int64
	for {
		var rows []sealedRow
		n, bad := 0, []int64(nil)
		err := storage.InTx(ctx, db, func(tx bun.Tx) error {
			var err error
			if rows, err = readSealed(ctx, tx, t, batch, after, where, args); err != nil {
				return err
			}
			n, bad = 0, nil
			for _, rw := range rows {
				ok, opened, err := r.resealRow(ctx, tx, t, rw)
				if err != nil {
					return err
				}
				if ok {
					n++
				}
				if !opened {
					bad = append(bad, rw.id)
				}
			}
			return nil
		})
		if err != nil {
			return written, fmt.Errorf("seal %s under the current data key: %w", t.Name, err)
		}
		written, unopened = written+n, append(unopened, bad...)
		if len(rows) < batch {
			break
		}
		after = rows[len(rows)-1].id
	}
	if len(unopened) > 0 {
		return written, &UnopenedError{Table: t.Name, IDs: unopened}
	}
	return written, nil
}

// sealedRow is a row's id, its key column and its sealed columns as
// read.
type sealedRow struct {
	id     int64
	key    sql.NullInt64
	values []sql.NullString
}

// readSealed reads, within tx, up to batch rows of t matching where with
// an id above after, in order of id.
func readSealed(ctx context.Context, tx bun.Tx, t SealedTable, batch int, after int64, where string, args []any) ([]sealedRow, error) {
	columns := append([]string{t.id(), t.KeyColumn}, t.Columns...)
	rows, err := tx.NewSelect().Table(t.Name).Column(columns...).Where(where, args...).Where("? > ?", bun.Ident(t.id()), after).
		OrderExpr("?", bun.Ident(t.id())).Limit(int64(batch)).Rows(ctx)
	if err != nil {
		return nil, storage.Err(err, t.Name)
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		rw := sealedRow{values: make([]sql.NullString, len(t.Columns))}
		dest := []any{&rw.id, &rw.key}
		for i := range rw.values {
			dest = append(dest, &rw.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, storage.Err(err, t.Name)
		}
		out = append(out, rw)
	}
	if err := rows.Err(); err != nil {
		return nil, storage.Err(err, t.Name)
	}
	return out, rows.Close()
}

// resealRow seals rw's values again under the current data key, within
// tx, if the row still holds them, and reports whether it wrote the row
// and whether every value opened. A value that does not open is left as
// it is; the key column then names the key of the others, or, when none
// was sealed again, the row is left untouched (a later pass reports it
// again: it needs someone to look at it).
func (r *Ring) resealRow(ctx context.Context, tx bun.Tx, t SealedTable, rw sealedRow) (wrote, opened bool, err error) {
	q := tx.NewUpdate().Table(t.Name).Where("? = ?", bun.Ident(t.id()), rw.id)
	switch {
	case !t.MatchKey:
	case rw.key.Valid:
		q.Where("? = ?", bun.Ident(t.KeyColumn), rw.key.Int64)
	default:
		q.Where("? IS NULL", bun.Ident(t.KeyColumn))
	}
	var sealed []string
	opened = true
	for i, column := range t.Columns {
		at := Place{Table: t.Name, Column: column, Row: rw.id}
		old := rw.values[i].String
		plain := old
		if IsSealed(old) {
			var err error
			if plain, err = r.Unseal(old, at); err != nil {
				if !errors.Is(err, ErrCannotOpen) {
					return false, false, err
				}
				opened = false
				continue
			}
		}
		v := r.Seal(plain, at)
		sealed = append(sealed, v)
		q.Set("? = ?", bun.Ident(column), v)
		switch {
		case t.MatchKey:
		case rw.values[i].Valid:
			q.Where("? = ?", bun.Ident(column), old)
		default:
			q.Where("? IS NULL", bun.Ident(column))
		}
	}
	key := KeyOf(sealed...)
	if !opened && key == nil {
		return false, false, nil
	}
	res, err := q.Set("? = ?", bun.Ident(t.KeyColumn), key).Exec(ctx)
	if err != nil {
		return false, opened, storage.Err(err, t.Name)
	}
	n, _ := res.RowsAffected()
	return n == 1, opened, nil
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
