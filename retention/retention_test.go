package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/retention"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

var now = time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)

func daysAgo(n float64) time.Time { return now.Add(-time.Duration(n * 24 * float64(time.Hour))) }

// notification inserts a reminder that ended (or not) at the given time.
func notification(t *testing.T, db *storage.DB, status notifications.Status, at time.Time, erased bool) int64 {
	t.Helper()
	n := &notifications.Notification{Kind: "due_soon", DedupKey: fmt.Sprintf("test:%d", time.Now().UnixNano()), Recipient: "client",
		Channel: "sms", Address: "+13125550101", Language: "en", Body: "Your tablet is due on Friday. Call 312-555-0199.",
		Status: status, Note: "a coordinator's note", LastError: "carrier said no to +13125550101",
		ScheduledAt: at, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
	if erased {
		n.Body, n.Address, n.Note, n.LastError, n.ErasedAt = "", "", "", "", &at
	}
	if _, err := db.NewInsert().Model(n).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n.ID
}

func exec(t *testing.T, db *storage.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.NewRaw(q, args...).Exec(context.Background()); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func counts(cats []retention.Category) map[string]int64 {
	out := map[string]int64{}
	for _, c := range cats {
		out[c.Name] = c.Count
	}
	return out
}

func TestRetentionErasesWhatIsDueAndNothingElse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		sentLongAgo := notification(t, db, notifications.Sent, daysAgo(100), false)
		failedLongAgo := notification(t, db, notifications.Failed, daysAgo(91), false)
		cancelledRecently := notification(t, db, notifications.Cancelled, daysAgo(89), false)
		pendingLongAgo := notification(t, db, notifications.Pending, daysAgo(200), false)
		erasedAlready := notification(t, db, notifications.Sent, daysAgo(300), true)

		exec(t, db, "INSERT INTO sms_inbound (message_sid, received_at) VALUES ('SM1', ?), ('SM2', ?), ('SM3', ?)", daysAgo(120), daysAgo(91), daysAgo(10))
		exec(t, db, "INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES (1, 'w@agency.test', 'W', 'social_worker', 'x', ?, ?)", daysAgo(400), daysAgo(400))
		for i, s := range []struct {
			expires time.Time
			revoked *time.Time
		}{
			{daysAgo(2), nil},                     // expired two days ago: deleted
			{now.Add(time.Hour), ptr(daysAgo(3))}, // signed out three days ago: deleted
			{now.Add(time.Hour), nil},             // in use: kept
			{daysAgo(0.5), nil},                   // expired twelve hours ago: kept a day
		} {
			exec(t, db, "INSERT INTO browser_sessions (user_id, id_hash, created_at, expires_at, last_seen_at, revoked_at) VALUES (1, ?, ?, ?, ?, ?)",
				fmt.Sprintf("hash%d", i), daysAgo(5), s.expires, daysAgo(5), s.revoked)
		}

		want := map[string]int64{"notification_texts": 2, "sms_replies": 2, "browser_sessions": 2, "clients": 0}
		dry, err := retention.Run(ctx, db, &clients.Service{DB: db}, now, retention.DefaultPolicy, true)
		if err != nil || fmt.Sprint(counts(dry)) != fmt.Sprint(want) {
			t.Fatalf("dry run: %v, %v; want %v", counts(dry), err, want)
		}
		// The dry run changed nothing: the real run finds the same.
		done, err := retention.Run(ctx, db, &clients.Service{DB: db}, now, retention.DefaultPolicy, false)
		if err != nil || fmt.Sprint(counts(done)) != fmt.Sprint(want) {
			t.Fatalf("run: %v, %v; want %v", counts(done), err, want)
		}
		for _, c := range done {
			if c.What == "" {
				t.Errorf("category %s does not say what it erases", c.Name)
			}
		}
		again, err := retention.Run(ctx, db, &clients.Service{DB: db}, now, retention.DefaultPolicy, false)
		if err != nil || fmt.Sprint(counts(again)) != fmt.Sprint(map[string]int64{"notification_texts": 0, "sms_replies": 0, "browser_sessions": 0, "clients": 0}) {
			t.Errorf("a second run: %v, %v; want nothing left", counts(again), err)
		}

		for id, erased := range map[int64]bool{sentLongAgo: true, failedLongAgo: true, cancelledRecently: false, pendingLongAgo: false, erasedAlready: true} {
			var n notifications.Notification
			if err := db.NewSelect().Model(&n).Where("id = ?", id).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			blank := n.Body == "" && n.Address == "" && n.Note == "" && n.LastError == "" && n.ErasedAt != nil
			if blank != erased {
				t.Errorf("notification %d (%s, updated %s): erased %v, want %v: %+v", id, n.Status, n.UpdatedAt, blank, erased, n)
			}
			if erased && id != erasedAlready && !n.ErasedAt.Equal(now) {
				t.Errorf("notification %d erased at %v, want %v", id, n.ErasedAt, now)
			}
			if n.Status == "" || n.Channel != "sms" {
				t.Errorf("notification %d lost what is kept (status, channel): %+v", id, n)
			}
		}
		var sids []string
		if err := db.NewRaw("SELECT message_sid FROM sms_inbound ORDER BY message_sid").Scan(ctx, &sids); err != nil || fmt.Sprint(sids) != "[SM3]" {
			t.Errorf("SMS replies kept: %v, %v; want [SM3]", sids, err)
		}
		var hashes []string
		if err := db.NewRaw("SELECT id_hash FROM browser_sessions ORDER BY id_hash").Scan(ctx, &hashes); err != nil || fmt.Sprint(hashes) != "[hash2 hash3]" {
			t.Errorf("sessions kept: %v, %v; want [hash2 hash3]", hashes, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
