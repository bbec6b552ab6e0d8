package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
)

// outboxTimeout bounds the outbox query of one scrape: a slow database
// makes the outbox series go missing from that scrape, not the scrape hang.
const outboxTimeout = 3 * time.Second

// outboxStatuses are the statuses reported, each always present.
var outboxStatuses = []notifications.Status{notifications.Pending, notifications.Sending,
	notifications.Sent, notifications.Failed, notifications.Cancelled}

// outboxCollector reads the outbox when scraped: how many notifications
// are in each status, and how long the oldest pending one that is due has
// waited for the dispatcher.
type outboxCollector struct {
	db     *storage.DB
	now    func() time.Time
	byStat *prometheus.Desc
	oldest *prometheus.Desc
}

func newOutboxCollector(db *storage.DB, now func() time.Time) *outboxCollector {
	return &outboxCollector{db: db, now: now,
		byStat: prometheus.NewDesc(namespace+"_outbox_notifications",
			"Notifications in the outbox, by status (pending, sending, sent, failed, cancelled).", []string{"status"}, nil),
		oldest: prometheus.NewDesc(namespace+"_outbox_oldest_pending_age_seconds",
			"How long the oldest pending notification whose time to be sent has come (its scheduled time, or the time of "+
				"its retry or of the end of quiet hours) has waited since then; 0 when none waits.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byStat
	ch <- c.oldest
}

// outboxSQL counts by status (the status index answers it) and finds the
// earliest time a pending notification was due to be sent (the due index
// answers it), in one round trip. next_attempt_at rather than
// scheduled_at: a reminder deferred past quiet hours, or waiting for its
// retry, is not late, so a quiet night does not raise an alert.
const outboxSQL = `SELECT status, COUNT(*) AS n, NULL AS oldest FROM notifications GROUP BY status
UNION ALL
SELECT '', 0, MIN(next_attempt_at) FROM notifications WHERE status = ? AND next_attempt_at <= ?`

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	now := c.now().UTC()
	var rows []struct {
		Status string `bun:"status"`
		N      int64  `bun:"n"`
		// bun's NullTime reads SQLite's text timestamps too.
		Oldest bun.NullTime `bun:"oldest"`
	}
	err := c.db.NewRaw(outboxSQL, notifications.Pending, now).Scan(ctx, &rows)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.byStat, storage.Err(err, "outbox"))
		return
	}
	counts := map[string]int64{}
	age := 0.0
	for _, r := range rows {
		if r.Status == "" {
			if !r.Oldest.IsZero() {
				age = max(0, now.Sub(r.Oldest.Time).Seconds())
			}
			continue
		}
		counts[r.Status] = r.N
	}
	for _, s := range outboxStatuses {
		ch <- prometheus.MustNewConstMetric(c.byStat, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
