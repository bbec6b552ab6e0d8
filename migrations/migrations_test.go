package migrations_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// schema returns each table's columns, sorted, as the database reports them.
func schema(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		Table  string `bun:"table_name"`
		Column string `bun:"column_name"`
	}
	var err error
	switch db.Engine {
	case storage.SQLite:
		err = db.NewRaw(`SELECT m.name AS table_name, p.name AS column_name
			FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`).Scan(ctx, &rows)
	case storage.Postgres:
		err = db.NewRaw(`SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema()`).Scan(ctx, &rows)
	}
	if err != nil {
		t.Fatalf("read %s schema: %v", db.Engine, err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Table] = append(out[r.Table], r.Column)
	}
	for _, cols := range out {
		sort.Strings(cols)
	}
	return out
}

func TestBothDialectsHaveTheSameTablesAndColumns(t *testing.T) {
	engines := dbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("set TEST_DATABASE_URL to compare with PostgreSQL")
	}
	lite := schema(t, dbtest.Open(t, storage.SQLite))
	pg := schema(t, dbtest.Open(t, storage.Postgres))
	if len(lite) < 10 {
		t.Fatalf("only %d tables after migrating SQLite: %v", len(lite), lite)
	}
	if !reflect.DeepEqual(lite, pg) {
		for table := range merge(lite, pg) {
			if !reflect.DeepEqual(lite[table], pg[table]) {
				t.Errorf("table %s:\n  sqlite:   %v\n  postgres: %v", table, lite[table], pg[table])
			}
		}
	}
}

func merge[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestBothDialectsHaveTheSameMigrations(t *testing.T) {
	lite, err := migrations.List(storage.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations.List(storage.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []migrations.Migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	if len(lite) == 0 || !reflect.DeepEqual(names(lite), names(pg)) {
		t.Fatalf("migrations differ:\n  sqlite:   %v\n  postgres: %v", names(lite), names(pg))
	}
}

func TestApplyTwiceIsANoOp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		applied, err := migrations.Apply(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second Apply applied %v", applied)
		}
	})
}

// Several instances starting at once on one empty database: all succeed,
// each migration is applied exactly once.
func TestConcurrentApply(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			const instances = 4
			dbs := make([]*storage.DB, instances)
			for i := range dbs {
				dbs[i] = dbtest.OpenURL(t, url)
			}
			applied := make([][]string, instances)
			errs := make([]error, instances)
			var wg sync.WaitGroup
			for i := range dbs {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					applied[i], errs[i] = migrations.Apply(context.Background(), dbs[i])
				}(i)
			}
			wg.Wait()
			all, _ := migrations.List(engine)
			count := 0
			for i := range dbs {
				if errs[i] != nil {
					t.Errorf("instance %d: %v", i, errs[i])
				}
				count += len(applied[i])
			}
			if count != len(all) {
				t.Fatalf("migrations applied %d times in all, want %d (once each): %v", count, len(all), fmt.Sprint(applied))
			}
			var recorded int
			if err := dbs[0].NewRaw("SELECT COUNT(*) FROM schema_migrations").Scan(context.Background(), &recorded); err != nil {
				t.Fatal(err)
			}
			if recorded != len(all) {
				t.Fatalf("schema_migrations has %d rows, want %d", recorded, len(all))
			}
		})
	}
}

// Upgrading a database whose requests and places were made before
// referrals were recorded: every request becomes a referral (only social
// workers and admins could ever file one), a place becomes one when whoever
// booked it is a social worker or an admin, not a coordinator.
func TestReferralsAreBackfilled(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			exec := func(query string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, query, args...); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			// The previous release's schema: every migration but the
			// referrals', which is marked done so that Apply skips it.
			exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)`)
			exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (6, 'referrals', ?)", time.Now())
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
			for id, role := range map[int]string{1: "admin", 2: "coordinator", 3: "social_worker"} {
				exec("INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, 'x', ?, ?)",
					id, fmt.Sprintf("u%d@agency.test", id), role, role, now, now)
			}
			exec("INSERT INTO clients (id, case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at) VALUES (1, 'C-1', 'Ana', 'Ruiz', 'none', 1, 3, ?, ?)", now, now)
			exec("INSERT INTO eligibility_rule_sets (version, name, body, created_at) VALUES (1, 'r', '{}', ?)", now)
			for id, by := range map[int]int{1: 1, 2: 3} {
				exec(`INSERT INTO device_requests (id, client_id, device_kind, urgency, status, outcome, rule_set_version, decision, created_by, created_at, updated_at)
					VALUES (?, 1, 'other', 'normal', 'denied', 'ineligible', 1, '{}', ?, ?, ?)`, id, by, now, now)
			}
			exec("INSERT INTO training_sessions (id, title, topic, starts_at, ends_at, capacity, status, created_by, created_at, updated_at) VALUES (1, 'S', 't', ?, ?, 5, 'scheduled', 2, ?, ?)",
				now, now.Add(time.Hour), now, now)
			for id, by := range map[int]int{1: 1, 2: 2, 3: 3} {
				exec("INSERT INTO training_enrollments (id, session_id, client_id, status, created_by, created_at, updated_at) VALUES (?, 1, 1, 'withdrawn', ?, ?, ?)",
					id, by, now, now)
			}

			exec("DELETE FROM schema_migrations WHERE version = 6")
			if applied, err := migrations.Apply(ctx, db); err != nil || len(applied) != 1 {
				t.Fatalf("applying the referrals migration: %v %v", applied, err)
			}
			referrals := func(table string) []int {
				t.Helper()
				var ids []int
				if err := db.NewSelect().Table(table).Column("id").Where("referral").OrderExpr("id").Scan(ctx, &ids); err != nil {
					t.Fatal(err)
				}
				return ids
			}
			if got := referrals("device_requests"); fmt.Sprint(got) != "[1 2]" {
				t.Errorf("requests that refer: %v, want [1 2]", got)
			}
			if got := referrals("training_enrollments"); fmt.Sprint(got) != "[1 3]" {
				t.Errorf("places that refer: %v, want [1 3] (the admin's and the social worker's)", got)
			}
		})
	}
}

// Tokens made before tokens expired get the default lifetime, 30 days, from
// when they were made.
func TestTokenLifetimeMigrationBackfills(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 8); err != nil {
				t.Fatal(err)
			}
			made := time.Date(2026, 1, 31, 22, 15, 30, 250_000_000, time.UTC)
			if _, err := db.ExecContext(ctx, `INSERT INTO users (email, name, role, password_hash, created_at, updated_at)
				VALUES ('old@agency.test', 'Old', 'admin', 'x', ?, ?)`, made, made); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at)
				SELECT id, 'old', 'hash', ? FROM users`, made); err != nil {
				t.Fatal(err)
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var expires time.Time
			if err := db.NewRaw("SELECT expires_at FROM api_tokens").Scan(ctx, &expires); err != nil {
				t.Fatal(err)
			}
			if want := made.AddDate(0, 0, 30); !expires.Equal(want) {
				t.Fatalf("an old token expires at %v, want %v", expires, want)
			}
		})
	}
}

// foreignKeys returns each table's foreign keys, sorted, as
// "column -> table (on delete action)".
func foreignKeys(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		Table    string `bun:"table_name"`
		Column   string `bun:"column_name"`
		Ref      string `bun:"ref_table"`
		OnDelete string `bun:"on_delete"`
	}
	var err error
	switch db.Engine {
	case storage.SQLite:
		err = db.NewRaw(`SELECT m.name AS table_name, f."from" AS column_name, f."table" AS ref_table, f.on_delete AS on_delete
			FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS f
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`).Scan(ctx, &rows)
	case storage.Postgres:
		err = db.NewRaw(`SELECT cl.relname AS table_name, a.attname AS column_name, ref.relname AS ref_table,
				CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'
					WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END AS on_delete
			FROM pg_constraint AS c
			JOIN pg_class AS cl ON cl.oid = c.conrelid
			JOIN pg_class AS ref ON ref.oid = c.confrelid
			JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
			WHERE c.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace`).Scan(ctx, &rows)
	}
	if err != nil {
		t.Fatalf("read %s foreign keys: %v", db.Engine, err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Table] = append(out[r.Table], fmt.Sprintf("%s -> %s (on delete %s)", r.Column, r.Ref, strings.ToLower(r.OnDelete)))
	}
	for _, keys := range out {
		sort.Strings(keys)
	}
	return out
}

// A row one database lets you delete, or insert, the other must too: both
// dialects end with the same foreign keys.
func TestBothDialectsHaveTheSameForeignKeys(t *testing.T) {
	engines := dbtest.Engines(t)
	if len(engines) < 2 {
		t.Skip("set TEST_DATABASE_URL to compare with PostgreSQL")
	}
	lite := foreignKeys(t, dbtest.Open(t, storage.SQLite))
	pg := foreignKeys(t, dbtest.Open(t, storage.Postgres))
	if len(lite) < 5 {
		t.Fatalf("only %d tables with foreign keys after migrating SQLite: %v", len(lite), lite)
	}
	for table := range merge(lite, pg) {
		if !reflect.DeepEqual(lite[table], pg[table]) {
			t.Errorf("table %s:\n  sqlite:   %v\n  postgres: %v", table, lite[table], pg[table])
		}
	}
}

// A database from before the sort keys gets them for every existing row
// of the tables that keep them (no longer clients) and keeps every notification, on both databases; keys stored under
// another collation version are recomputed; a second start changes nothing.
func TestUpgradeFillsSortKeysAndKeepsTheOutbox(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 11); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
				VALUES (7, 'w@agency.test', 'Zoë Worker', 'social_worker', 'x', ?, ?)`, now, now)
			for i := 1; i <= 600; i++ { // more than one batch
				exec(`INSERT INTO clients (id, case_number, first_name, last_name, preferred_channel, household_size, caseworker_id, created_at, updated_at)
					VALUES (?, ?, 'Ana', ?, 'none', 1, 7, ?, ?)`, i, fmt.Sprint("C-", i), fmt.Sprint("de la Cruz ", i), now, now)
			}
			exec(`INSERT INTO devices (id, kind, make, model, asset_tag, status, condition, created_at, updated_at)
				VALUES (3, 'phone', 'Acme', 'One', 'ábaco-1', 'available', 'good', ?, ?)`, now, now)
			exec(`INSERT INTO loans (id, client_id, device_id, issued_at, due_on, status, issued_by, updated_at)
				VALUES (5, 1, 3, ?, '2026-04-01', 'open', 7, ?)`, now, now)
			exec(`INSERT INTO notifications (id, kind, dedup_key, client_id, loan_id, user_id, recipient, channel, address, language, body,
					status, scheduled_at, next_attempt_at, attempts, created_at, updated_at, about_date, note)
				VALUES (42, 'loan_due_soon', 'k1', 1, 5, 7, 'social_worker', 'email', 'w@agency.test', 'en', 'Hello',
					'pending', ?, ?, 2, ?, ?, '2026-04-01', 'a note')`, now, now, now, now)

			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			checkKey := func(table string, id int64, parts ...string) {
				t.Helper()
				var key []byte
				if err := db.NewRaw("SELECT sort_key FROM "+table+" WHERE id = ?", id).Scan(ctx, &key); err != nil {
					t.Fatal(err)
				}
				if want := storage.SortKey(parts...); !bytes.Equal(key, want) {
					t.Errorf("%s %d: sort key %x, want %x", table, id, key, want)
				}
			}
			checkKey("users", 7, "Zoë Worker")
			// Clients keep none from migration 27 on: a key of their names
			// would tell their order (the names are sealed).
			var keyed int
			if err := db.NewRaw("SELECT COUNT(*) FROM clients WHERE sort_key IS NOT NULL").Scan(ctx, &keyed); err != nil {
				t.Fatal(err)
			}
			if keyed != 0 {
				t.Errorf("%d clients have a sort key after the upgrade, want none", keyed)
			}
			checkKey("devices", 3, "ábaco-1")

			var n struct {
				ID       int64  `bun:"id"`
				DedupKey string `bun:"dedup_key"`
				ClientID int64  `bun:"client_id"`
				LoanID   int64  `bun:"loan_id"`
				UserID   int64  `bun:"user_id"`
				Note     string `bun:"note"`
				Attempts int    `bun:"attempts"`
			}
			if err := db.NewRaw("SELECT id, dedup_key, client_id, loan_id, user_id, note, attempts FROM notifications").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(n) != "{42 k1 1 5 7 a note 2}" {
				t.Errorf("notification after the upgrade: %+v", n)
			}
			// Its indexes are all there: a second row with the same dedup key is refused.
			_, err := db.ExecContext(ctx, `INSERT INTO notifications (kind, dedup_key, channel, language, body, status, scheduled_at,
				next_attempt_at, created_at, updated_at) VALUES ('x', 'k1', 'log', 'en', 'b', 'pending', ?, ?, ?, ?)`, now, now, now, now)
			if !storage.IsUniqueViolation(err) {
				t.Errorf("a duplicate dedup key after the upgrade: %v", err)
			}

			// Another collation version: every key is recomputed.
			exec("UPDATE sort_key_version SET version = 'older'")
			exec("UPDATE users SET sort_key = ? WHERE id = 7", []byte{1, 2, 3})
			if applied, err := migrations.Apply(ctx, db); err != nil || len(applied) != 0 {
				t.Fatalf("Apply: %v %v", applied, err)
			}
			checkKey("users", 7, "Zoë Worker")
			var version string
			if err := db.NewRaw("SELECT version FROM sort_key_version").Scan(ctx, &version); err != nil || version != storage.SortKeyVersion {
				t.Fatalf("sort_key_version %q, %v", version, err)
			}
		})
	}
}

// A PostgreSQL database migrated with 0005 as it was first released, which
// kept the outbox's foreign keys to loans, clients and users, loses them on
// upgrade, and ends with the keys of a new database.
func TestOutboxKeysFromTheFirst0005AreDropped(t *testing.T) {
	if !slices.Contains(dbtest.Engines(t), storage.Postgres) {
		t.Skip("set TEST_DATABASE_URL to upgrade a PostgreSQL database")
	}
	ctx := context.Background()
	db := dbtest.OpenURL(t, dbtest.FreshURL(t, storage.Postgres))
	released, err := os.ReadFile("testdata/postgres_0005_reminders_as_released.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.ApplyBefore(ctx, db, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, string(released)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (5, '0005_reminders', ?)", time.Now()); err != nil {
		t.Fatal(err)
	}
	outbox := func() []string { return foreignKeys(t, db)["notifications"] }
	if keys := outbox(); !slices.Contains(keys, "loan_id -> loans (on delete no action)") {
		t.Fatalf("the first 0005 left the outbox with %v, want its key to loans", keys)
	}
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	want := foreignKeys(t, dbtest.Open(t, storage.Postgres))["notifications"]
	if got := outbox(); !reflect.DeepEqual(got, want) {
		t.Errorf("the upgraded outbox has the keys %v, want those of a new database, %v", got, want)
	}
	for _, k := range outbox() {
		if col, _, _ := strings.Cut(k, " "); col == "client_id" || col == "loan_id" || col == "user_id" {
			t.Errorf("the upgraded outbox keeps %s", k)
		}
	}
}
