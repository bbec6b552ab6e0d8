package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/training"
)

// BenchmarkUpcomingSessions reads the first page of a month's sessions
// (10,000 that month, 40,000 more around it), with the total, as the
// upcoming-sessions list does.
func BenchmarkUpcomingSessions(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) {
			db := dbtest.Open(b, engine)
			f := newFixture(b, db)
			ctx := context.Background()
			u, err := f.svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "co@bench.test", Name: "co", Role: accounts.Coordinator, Password: "bench password long"})
			if err != nil {
				b.Fatal(err)
			}
			seedSessions(b, db, u.ID)
			from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
			filter := training.SessionFilter{From: from, To: from.AddDate(0, 1, 0)}
			b.ResetTimer()
			for b.Loop() {
				list, total, err := f.svc.Training.Sessions(ctx, filter, storage.Page{Limit: 50})
				if err != nil || len(list) != 50 || total != 10_000 {
					b.Fatalf("sessions: %d of %d, %v", len(list), total, err)
				}
			}
		})
	}
}

// seedSessions inserts 50,000 one-hour sessions, 10,000 in each month
// from January to May 2026 (one every four minutes of each month's first
// 28 days), through bun in batches so that times are stored exactly as the
// service stores them.
func seedSessions(b testing.TB, db *storage.DB, userID int64) {
	ctx := context.Background()
	now := time.Now().UTC()
	batch := make([]training.Session, 0, 1000)
	for i := 0; i < 50_000; i++ {
		start := time.Date(2026, time.Month(1+i/10_000), 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%10_000) * 4 * time.Minute)
		batch = append(batch, training.Session{Title: "Session", Topic: "device_basics", Language: "en", StartsAt: start,
			EndsAt: start.Add(time.Hour), Capacity: 12, Status: "scheduled", CreatedBy: userID, CreatedAt: now, UpdatedAt: now})
		if len(batch) == cap(batch) {
			if _, err := db.NewInsert().Model(&batch).Exec(ctx); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if db.Engine == storage.Postgres {
		db.ExecContext(ctx, "ANALYZE training_sessions")
	} else {
		db.ExecContext(ctx, "ANALYZE")
	}
}
