package keyring_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// The probe every pass starts with is answered by the key column's index
// on SQLite, for every sealed table, so that the reseal job, every minute
// on every instance, reads nothing when nothing is left. (SQLite takes a
// pass's ORDER BY id as a scan of the whole table.)
func TestThePassProbeUsesTheKeyIndex(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, storage.SQLite)
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	tables := []keyring.SealedTable{
		{Name: "clients", KeyColumn: "personal_key", Columns: []string{"personal"}},
		{Name: "device_requests", KeyColumn: "sealed_key", Columns: []string{"decision", "priority_reasons", "reason", "justification"}},
		{Name: "notifications", KeyColumn: "sealed_key", Columns: []string{"body", "note"}},
		{Name: "loans", KeyColumn: "sealed_key", Columns: []string{"notes", "return_notes", "lost_notes"}},
		{Name: "loan_agreements", KeyColumn: "sealed_key", Columns: []string{"pdf"}, IDColumn: "loan_id", MatchKey: true},
	}
	for _, tb := range tables {
		for name, cond := range map[string]func() (string, []any){
			"reseal":     func() (string, []any) { return keyring.UnderOlder(tb, 7) },
			"unrecorded": func() (string, []any) { return keyring.UnrecordedRows(tb) },
		} {
			where, args := cond()
			q := keyring.DueProbe(db, tb, where, args).String()
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			for _, p := range plan {
				if strings.HasPrefix(p, "SCAN "+tb.Name) && !strings.Contains(p, "INDEX") {
					t.Errorf("%s, %s: the probe scans the table: %v\n%s", tb.Name, name, plan, q)
				}
			}
			if !strings.Contains(strings.Join(plan, " "), "INDEX") {
				t.Errorf("%s, %s: the probe uses no index: %v", tb.Name, name, plan)
			}
		}
	}
}
