// Package retention erases what DeviceBank no longer needs to keep
// (docs/privacy.md, "Retention"): a reminder's text and address some time
// after it ended, the record of SMS replies received, browser sessions
// that ended, and clients without activity for years (anonymised). Each category is erased in batches, so a first run over years
// of history does not hold the database for long, and is safe to run from
// several instances at once (what one erased, the other passes by).
package retention

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/clients"
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
	// InactiveClients: a client with no open loan and no open request,
	// whose record, loans, requests and training places have not changed
	// for this long, is anonymised (clients.Anonymise).
	InactiveClients time.Duration
}

const day = 24 * time.Hour

// DefaultPolicy keeps reminder texts and SMS reply records 90 days, ended
// sessions a day, and inactive clients 7 years.
var DefaultPolicy = Policy{NotificationTexts: 90 * day, SMSReplies: 90 * day, EndedSessions: day,
	InactiveClients: 7 * 365 * day}

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
func Run(ctx context.Context, db bun.IDB, cl *clients.Service, now time.Time, p Policy, dryRun bool) ([]Category, error) {
	now = now.UTC()
	steps := []struct {
		name, what string
		// count selects the ids of what is due.
		count func() *bun.SelectQuery
		// erase erases those of ids (a batch of count's) and says how many.
		erase func(ids *bun.SelectQuery) (int64, error)
	}{
		{"notification_texts", "reminder texts, addresses and notes erased, " + days(p.NotificationTexts) + " after the reminder ended",
			func() *bun.SelectQuery {
				return db.NewSelect().Table("notifications").Column("id").
					Where("erased_at IS NULL AND status IN ('sent', 'failed', 'cancelled')").
					Where("updated_at < ?", now.Add(-p.NotificationTexts))
			},
			func(ids *bun.SelectQuery) (int64, error) {
				return affected(ctx, db.NewUpdate().Table("notifications").
					Set("body = ''").Set("address = ''").Set("note = ''").Set("sealed_key = NULL").Set("last_error = ''").Set("erased_at = ?", now).
					Where("id IN (?)", ids))
			}},
		{"sms_replies", "records of SMS replies received, deleted after " + days(p.SMSReplies),
			func() *bun.SelectQuery {
				return db.NewSelect().Table("sms_inbound").Column("message_sid").Where("received_at < ?", now.Add(-p.SMSReplies))
			},
			func(ids *bun.SelectQuery) (int64, error) {
				return affected(ctx, db.NewDelete().Table("sms_inbound").Where("message_sid IN (?)", ids))
			}},
		{"browser_sessions", "browser sessions deleted " + days(p.EndedSessions) + " after they ended",
			func() *bun.SelectQuery {
				ended := now.Add(-p.EndedSessions)
				return db.NewSelect().Table("browser_sessions").Column("id").
					Where("expires_at < ? OR revoked_at < ?", ended, ended)
			},
			func(ids *bun.SelectQuery) (int64, error) {
				return affected(ctx, db.NewDelete().Table("browser_sessions").Where("id IN (?)", ids))
			}},
		{"clients", "clients anonymised after " + years(p.InactiveClients) + " with no open loan or request and no activity",
			func() *bun.SelectQuery { return inactiveClients(db, now.Add(-p.InactiveClients)) },
			func(*bun.SelectQuery) (int64, error) {
				// Read and erased in one transaction, the rows locked: a
				// client who became active meanwhile is not erased.
				var n int
				err := storage.InTx(ctx, db, func(tx bun.Tx) error {
					var due []int64
					if err := storage.Locked(inactiveClients(tx, now.Add(-p.InactiveClients)).Limit(batch)).Scan(ctx, &due); err != nil {
						return err
					}
					erased, err := cl.Anonymise(ctx, tx, due, now)
					if err != nil {
						return err
					}
					n = len(erased)
					// Which clients went, and why, is recorded as an
					// erasure on request is (client.erased).
					for _, id := range erased {
						err := audit.Record(ctx, tx, audit.Event{OccurredAt: now, Action: "client.anonymised", SubjectType: "client",
							SubjectID: id, ClientID: &id}, map[string]any{"inactive_for": years(p.InactiveClients)})
						if err != nil {
							return err
						}
					}
					return nil
				})
				return int64(n), err
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
				n, err := s.erase(s.count().Limit(batch))
				if err != nil {
					return out, storage.Err(err, s.name)
				}
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

func years(d time.Duration) string {
	n := int(d / (365 * day))
	if n == 1 {
		return "1 year"
	}
	return strconv.Itoa(n) + " years"
}

// affected runs an update or a delete and says how many rows it changed.
func affected(ctx context.Context, q interface {
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}) (int64, error) {
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// inactiveClients selects the ids of the clients not yet anonymised with
// no open loan or request and nothing of theirs changed since before:
// their record, their loans, their requests, their training places.
func inactiveClients(db bun.IDB, before time.Time) *bun.SelectQuery {
	return db.NewSelect().Table("clients").Column("id").
		Where("anonymised_at IS NULL AND updated_at < ?", before).
		Where("NOT EXISTS (SELECT 1 FROM loans l WHERE l.client_id = clients.id AND (l.status = 'open' OR l.updated_at >= ?))", before).
		Where("NOT EXISTS (SELECT 1 FROM device_requests r WHERE r.client_id = clients.id AND (r.status IN (?) OR r.updated_at >= ?))",
			bun.In(clients.OpenRequestStatuses), before).
		Where("NOT EXISTS (SELECT 1 FROM training_enrollments e WHERE e.client_id = clients.id AND e.updated_at >= ?)", before).
		OrderExpr("id")
}
