package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

// sortKeyed are the tables whose rows carry a sort_key, and the columns it
// is computed from, in order. Each model computes the same key when it is
// written (its BeforeAppendModel hook); this fills in the keys of rows
// written before the column existed, or by an older version during a
// rolling upgrade, and recomputes them all when storage.SortKeyVersion
// changes.
type sortKeyedTable struct {
	table   string
	columns []string
	// since is the migration that made the table or its sort_key.
	since int
	// until, when not 0, is the migration after which the table keeps
	// no sort keys: clients' names are sealed from 27 on, and a key of
	// them would tell their order.
	until int
}

var sortKeyed = []sortKeyedTable{
	{"clients", []string{"last_name", "first_name"}, sortKeysMigration, 27},
	{"users", []string{"name"}, sortKeysMigration, 0},
	{"devices", []string{"asset_tag"}, sortKeysMigration, 0},
	{"funding_sources", []string{"name"}, 15, 0},
}

// keeps reports whether t's rows carry sort keys when the migrations
// numbered below before have been applied.
func (t sortKeyedTable) keeps(before int) bool {
	return t.since < before && (t.until == 0 || before <= t.until)
}

// sortKeyBatch is how many rows one statement updates.
const sortKeyBatch = 500

// sortKeysMigration is the migration that adds the sort keys and their
// version table.
const sortKeysMigration = 11

// refreshSortKeys brings every stored sort key up to date, in the
// migration's transaction (so one instance does it while others wait),
// in the tables that the migrations numbered below before made. Rows whose
// key is present and current are not touched, so it is quick when there is
// nothing to do.
func refreshSortKeys(ctx context.Context, tx bun.Tx, before int) error {
	var version string
	err := tx.NewRaw("SELECT version FROM sort_key_version WHERE id = 1").Scan(ctx, &version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read sort_key_version: %w", err)
	}
	if version != storage.SortKeyVersion {
		for _, t := range sortKeyed {
			if !t.keeps(before) {
				continue
			}
			if _, err := tx.ExecContext(ctx, "UPDATE "+t.table+" SET sort_key = NULL WHERE sort_key IS NOT NULL"); err != nil {
				return fmt.Errorf("reset %s sort keys: %w", t.table, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sort_key_version (id, version) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version`, storage.SortKeyVersion); err != nil {
			return fmt.Errorf("record sort_key_version: %w", err)
		}
	}
	for _, t := range sortKeyed {
		if !t.keeps(before) {
			continue
		}
		if err := fillSortKeys(ctx, tx, t.table, t.columns); err != nil {
			return fmt.Errorf("fill %s sort keys: %w", t.table, err)
		}
	}
	return nil
}

type sortKeyRow struct {
	ID  int64  `bun:"id"`
	Key []byte `bun:"k"`
}

// fillSortKeys computes the key of every row of table that has none.
func fillSortKeys(ctx context.Context, tx bun.Tx, table string, columns []string) error {
	for after := int64(0); ; {
		rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT id, %s FROM %s WHERE sort_key IS NULL AND id > ? ORDER BY id LIMIT ?",
			strings.Join(columns, ", "), table), after, sortKeyBatch)
		if err != nil {
			return err
		}
		var batch []sortKeyRow
		for rows.Next() {
			var id int64
			parts := make([]string, len(columns))
			dest := []any{&id}
			for i := range parts {
				dest = append(dest, &parts[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, sortKeyRow{ID: id, Key: storage.SortKey(parts...)})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		// VALUES carries the ids and keys (typed on PostgreSQL), one
		// statement for the batch on both databases.
		if _, err := tx.NewRaw(fmt.Sprintf(`WITH v (id, k) AS (?)
			UPDATE %[1]s SET sort_key = (SELECT v.k FROM v WHERE v.id = %[1]s.id) WHERE id IN (SELECT v.id FROM v)`, table),
			tx.NewValues(&batch)).Exec(ctx); err != nil {
			return err
		}
		after = batch[len(batch)-1].ID
	}
}
