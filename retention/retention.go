// Package retention erases what DeviceBank no longer needs to keep
// (docs/privacy.md, "Retention"): a reminder's text and address some time
// after it ended, the record of SMS replies received, and browser sessions
// that ended. Each category is erased in batches, so a first run over years
// of history does not hold the database for long, and is safe to run from
// several instances at once (what one erased, the other passes by).
package retention

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

// Policy is how long each kind of record is kept.
type Policy struct {
	// NotificationTexts: a reminder's text, address, note and last error,
	// after it was sent, failed or was cancelled.
	NotificationTexts time.Duration
	// SMSReplies: the record that an SMS reply was received (its message
	// id, against a provider's resend).
	SMSReplies time.Duration
	// EndedSessions: a browser session after it expired or was signed out.
	EndedSessions time.Duration
}

// DefaultPolicy keeps reminder texts and SMS reply records 90 days and
// ended sessions a day.
var DefaultPolicy = Policy{NotificationTexts: 90 * 24 * time.Hour, SMSReplies: 90 * 24 * time.Hour, EndedSessions: 24 * time.Hour}

// Category is what a run erased of one kind of record (or, in a dry run,
// would erase).
type Category struct {
	Name  string `json:"name"`
	What  string `json:"what"`
	Count int64  `json:"count"`
}

// batch is how many records one statement erases.
const batch = 5000

// Run erases, by p, what is due at now; with dryRun it only counts. It
// returns one Category per kind of record, in a fixed order.
func Run(ctx context.Context, db bun.IDB, now time.Time, p Policy, dryRun bool) ([]Category, error) {
	now = now.UTC()
	steps := []struct {
		name, what string
		count      func() *bun.SelectQuery
		erase      func(ids *bun.SelectQuery) execer
	}{
		{"notification_texts", "reminder texts, addresses and notes erased, " + days(p.NotificationTexts) + " after the reminder ended",
			func() *bun.SelectQuery {
				return db.NewSelect().Table("notifications").Column("id").
					Where("erased_at IS NULL AND status IN ('sent', 'failed', 'cancelled')").
					Where("updated_at < ?", now.Add(-p.NotificationTexts))
			},
			func(ids *bun.SelectQuery) execer {
				return db.NewUpdate().Table("notifications").
					Set("body = ''").Set("address = ''").Set("note = ''").Set("last_error = ''").Set("erased_at = ?", now).
					Where("id IN (?)", ids)
			}},
		{"sms_replies", "records of SMS replies received, deleted after " + days(p.SMSReplies),
			func() *bun.SelectQuery {
				return db.NewSelect().Table("sms_inbound").Column("message_sid").Where("received_at < ?", now.Add(-p.SMSReplies))
			},
			func(ids *bun.SelectQuery) execer {
				return db.NewDelete().Table("sms_inbound").Where("message_sid IN (?)", ids)
			}},
		{"browser_sessions", "browser sessions deleted " + days(p.EndedSessions) + " after they ended",
			func() *bun.SelectQuery {
				ended := now.Add(-p.EndedSessions)
				return db.NewSelect().Table("browser_sessions").Column("id").
					Where("expires_at < ? OR revoked_at < ?", ended, ended)
			},
			func(ids *bun.SelectQuery) execer {
				return db.NewDelete().Table("browser_sessions").Where("id IN (?)", ids)
			}},
	}
	out := make([]Category, 0, len(steps))
	for _, s := range steps {
		c := Category{Name: s.name, What: s.what}
		if dryRun {
			n, err := s.count().Count(ctx)
			if err != nil {
				return out, storage.Err(err, s.name)
			}
			c.Count = int64(n)
		} else {
			for {
				res, err := s.erase(s.count().Limit(batch)).Exec(ctx)
				if err != nil {
					return out, storage.Err(err, s.name)
				}
				n, _ := res.RowsAffected()
				c.Count += n
				if n < batch || ctx.Err() != nil {
					break
				}
			}
		}
		out = append(out, c)
	}
	return out, ctx.Err()
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// execer is an update or a delete.
type execer interface {
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}
