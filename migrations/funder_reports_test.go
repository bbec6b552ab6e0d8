package migrations_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// 0018 lets a notification go to a funder and nobody else new; on SQLite,
// which rebuilds the table for it, every row, column and index is kept.
func TestOutboxAcceptsFundersAndKeepsItsRows(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 18); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 30, 15, 4, 5, 123456000, time.UTC)
			exec := func(q string, args ...any) error {
				_, err := db.ExecContext(ctx, q, args...)
				return err
			}
			if err := exec(`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at)
				VALUES (7, 'w@agency.test', 'Worker', 'social_worker', 'x', ?, ?)`, now, now); err != nil {
				t.Fatal(err)
			}
			if err := exec(`INSERT INTO notifications (id, kind, dedup_key, client_id, loan_id, user_id, recipient, channel, address, language, body,
					status, scheduled_at, next_attempt_at, claimed_until, attempts, last_error, sent_at, created_at, updated_at, about_date,
					about_time, expires_at, note, created_by)
				VALUES (42, 'loan_overdue', 'k1', 3, 5, 7, 'social_worker', 'email', 'w@agency.test', 'es', 'Hola',
					'sending', ?, ?, ?, 2, 'busy', ?, ?, ?, '2026-04-01', ?, ?, 'a note', 7)`,
				now, now, now, now, now, now, now, now); err != nil {
				t.Fatal(err)
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var (
				id, client, loan, user, createdBy       int64
				kind, key, recipient, channel, address  string
				lang, body, status, lastError, note     string
				attempts                                int
				aboutDate                               string
				scheduled, next, claimed, sent, created time.Time
				updated, aboutTime, expires             time.Time
			)
			row := []any{&id, &kind, &key, &client, &loan, &user, &recipient, &channel, &address, &lang, &body, &status,
				&scheduled, &next, &claimed, &attempts, &lastError, &sent, &created, &updated, &aboutDate, &aboutTime, &expires, &note, &createdBy}
			if err := db.NewRaw(`SELECT id, kind, dedup_key, client_id, loan_id, user_id, recipient, channel, address, language, body,
					status, scheduled_at, next_attempt_at, claimed_until, attempts, last_error, sent_at, created_at, updated_at,
					CAST(about_date AS TEXT), about_time, expires_at, note, created_by FROM notifications`).Scan(ctx, row...); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintln(id, kind, key, client, loan, user, recipient, channel, address, lang, body, status, attempts, lastError,
				aboutDate[:10], note, createdBy)
			got = got[:len(got)-1]
			if want := "42 loan_overdue k1 3 5 7 social_worker email w@agency.test es Hola sending 2 busy 2026-04-01 a note 7"; got != want {
				t.Errorf("the row after 0018:\n  %s\nwant\n  %s", got, want)
			}
			for name, at := range map[string]time.Time{"scheduled_at": scheduled, "next_attempt_at": next, "claimed_until": claimed,
				"sent_at": sent, "created_at": created, "updated_at": updated, "about_time": aboutTime, "expires_at": expires} {
				if !at.Equal(now) {
					t.Errorf("%s after 0018: %s, want %s", name, at, now)
				}
			}
			insert := func(key, recipient string) error {
				return exec(`INSERT INTO notifications (kind, dedup_key, recipient, user_id, channel, language, body, status, scheduled_at,
					next_attempt_at, created_at, updated_at) VALUES ('funder_report', ?, ?, 7, 'email', 'en', '', 'pending', ?, ?, ?, ?)`,
					key, recipient, now, now, now, now)
			}
			if err := insert("k2", "funder"); err != nil {
				t.Errorf("a funder's notification: %v", err)
			}
			if err := insert("k3", "client_or_anyone"); err == nil {
				t.Error("a notification to nobody known was stored")
			}
			if err := insert("k1", "funder"); !storage.IsUniqueViolation(err) {
				t.Errorf("a duplicate dedup key after 0018: %v", err)
			}
		})
	}
}
