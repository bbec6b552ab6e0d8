package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// A database from before funding sources, whose devices carry the source as
// text: each distinct name becomes one record (names differing only in case
// or surrounding space are one, spelled as on the first device), every
// device names its record, and blank texts name none; on both databases.
func TestFundingSourcesMigrationMakesRecords(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 15); err != nil {
				t.Fatal(err)
			}
			texts := []string{"City Grant", "state fund", "city grant ", "", "  CITY GRANT", "   ", "Ángel Fund", "State Fund", "ÁNGEL FUND"}
			for i, text := range texts {
				created := time.Date(2025, 1, 1+i, 9, 0, 0, 0, time.UTC)
				if _, err := db.ExecContext(ctx, `INSERT INTO devices (id, kind, make, model, asset_tag, status, condition, funding_source, created_at, updated_at)
					VALUES (?, 'laptop', 'Acme', 'L', ?, 'available', 'good', ?, ?, ?)`, i+1, fmt.Sprintf("DB-%d", i+1), text, created, created); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}

			var sources []struct {
				ID        int64     `bun:"id"`
				Name      string    `bun:"name"`
				NameKey   string    `bun:"name_key"`
				CreatedAt time.Time `bun:"created_at"`
			}
			if err := db.NewRaw("SELECT id, name, name_key, created_at FROM funding_sources ORDER BY id").Scan(ctx, &sources); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, s := range sources {
				got[s.Name] = s.ID
			}
			want := []struct {
				name, key string
				first     int // the first device with it, whose creation it keeps
			}{{"City Grant", "city grant", 1}, {"state fund", "state fund", 2}, {"Ángel Fund", "ángel fund", 7}}
			if len(sources) != len(want) {
				t.Fatalf("funding sources %+v, want %v", sources, want)
			}
			for i, w := range want {
				s := sources[i]
				if s.Name != w.name || s.NameKey != w.key || !s.CreatedAt.Equal(time.Date(2025, 1, w.first, 9, 0, 0, 0, time.UTC)) {
					t.Errorf("source %d: %+v, want %s (%s) created with device %d", i, s, w.name, w.key, w.first)
				}
			}

			var events []struct {
				Subject int64  `bun:"subject_id"`
				Actor   *int64 `bun:"actor_id"`
				Changes string `bun:"changes"`
			}
			if err := db.NewRaw("SELECT subject_id, actor_id, changes FROM audit_events WHERE action = 'funding_source.created' ORDER BY subject_id").Scan(ctx, &events); err != nil {
				t.Fatal(err)
			}
			if len(events) != len(sources) {
				t.Fatalf("%d funding_source.created events, want %d: %+v", len(events), len(sources), events)
			}
			for i, ev := range events {
				var changes map[string]any
				if err := json.Unmarshal([]byte(ev.Changes), &changes); err != nil {
					t.Fatal(err)
				}
				if ev.Subject != sources[i].ID || ev.Actor != nil || changes["name"] != sources[i].Name {
					t.Errorf("event %d: %+v, want one by the system for %+v", i, ev, sources[i])
				}
			}

			var unsorted int
			if err := db.NewRaw("SELECT COUNT(*) FROM funding_sources WHERE sort_key IS NULL").Scan(ctx, &unsorted); err != nil {
				t.Fatal(err)
			}
			if unsorted != 0 {
				t.Errorf("%d funding sources without a sort key", unsorted)
			}

			var devices []struct {
				ID     int64  `bun:"id"`
				Source *int64 `bun:"funding_source_id"`
			}
			if err := db.NewRaw("SELECT id, funding_source_id FROM devices ORDER BY id").Scan(ctx, &devices); err != nil {
				t.Fatal(err)
			}
			city, state, angel := got["City Grant"], got["state fund"], got["Ángel Fund"]
			wantSource := []int64{city, state, city, 0, city, 0, angel, state, angel}
			for i, d := range devices {
				var s int64
				if d.Source != nil {
					s = *d.Source
				}
				if s != wantSource[i] {
					t.Errorf("device %d (%q) names source %d, want %d", d.ID, texts[i], s, wantSource[i])
				}
			}

			// From now on the database refuses a second source of one name,
			// a device naming no source, and a link to no source.
			now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			_, err := db.ExecContext(ctx, "INSERT INTO funding_sources (name, name_key, created_at, updated_at) VALUES ('CITY GRANT', 'city grant', ?, ?)", now, now)
			if !storage.IsUniqueViolation(err) {
				t.Errorf("a second source named city grant: %v, want a unique violation", err)
			}
			if _, err := db.ExecContext(ctx, "UPDATE devices SET funding_source_id = 999 WHERE id = 1"); !storage.IsForeignKeyViolation(err) {
				t.Errorf("a device naming no source: %v, want a foreign-key violation", err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
				VALUES (1, 'f@agency.test', 'F', 'funder', 'x', ?, ?)`, now, now); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO user_funding_sources (user_id, funding_source_id) VALUES (1, 999)"); !storage.IsForeignKeyViolation(err) {
				t.Errorf("a link to no source: %v, want a foreign-key violation", err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO funding_sources (name, name_key, grant_starts_on, grant_ends_on, created_at, updated_at) VALUES ('Late', 'late', '2026-06-01', '2026-05-31', ?, ?)", now, now); err == nil {
				t.Errorf("a grant ending before it starts: no error")
			}
		})
	}
}
