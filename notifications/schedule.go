package notifications

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedules are the cron specs (five fields, agency time) of the
// in-process jobs.
type Schedules struct {
	Sweep    string // create the reminders that are due
	Dispatch string // send the pending ones
	Digest   string // the coordinators' daily digest
	Reports  string // last month's report to each funder
}

// DefaultSchedules: a sweep every five minutes, a dispatch every minute,
// the digest at 08:00, the funders' reports at 07:00 on the 1st.
var DefaultSchedules = Schedules{Sweep: "*/5 * * * *", Dispatch: "* * * * *", Digest: "0 8 * * *", Reports: "0 7 1 * *"}

// dispatchBatch is how many notifications one claim takes.
const dispatchBatch = 100

// DispatchDue sends everything that is due, batch after batch, and returns
// the totals.
func (s *Service) DispatchDue(ctx context.Context) (DispatchResult, error) {
	var total DispatchResult
	for {
		res, err := s.Outbox.Dispatch(ctx, dispatchBatch)
		total.Sent += res.Sent
		total.Retrying += res.Retrying
		total.Failed += res.Failed
		total.Cancelled += res.Cancelled
		total.Deferred += res.Deferred
		if err != nil || res.Sent+res.Retrying+res.Failed+res.Cancelled+res.Deferred < dispatchBatch || ctx.Err() != nil {
			return total, err
		}
	}
}

// Off is the spec that turns a job off.
const Off = "off"

// NewScheduler returns a cron (not started) that runs the sweep, the
// dispatcher, the digest and the funders' reports on specs, in the service's time zone; a spec
// that is empty or "off" turns its job off. A job still running when its
// next turn comes skips that turn. Every instance may run one: the sweep's
// lock, claims and dedup keys keep them from doing anything twice. Jobs
// stop when ctx ends; a dispatch stopped mid-batch still records what it
// sent.
func (s *Service) NewScheduler(ctx context.Context, specs Schedules, log *slog.Logger) (*cron.Cron, error) {
	c := cron.New(cron.WithLocation(s.Location), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	jobs := []struct {
		name, spec string
		run        func(ctx context.Context) error
	}{
		{"sweep", specs.Sweep, func(ctx context.Context) error {
			res, err := s.Sweep(ctx)
			switch {
			case res.Skipped:
				log.Info("reminder sweep skipped: another instance is sweeping")
			case res.Created > 0:
				log.Info("reminders created", "count", res.Created)
			}
			return err
		}},
		{"dispatch", specs.Dispatch, func(ctx context.Context) error {
			res, err := s.DispatchDue(ctx)
			if res != (DispatchResult{}) {
				log.Info("reminders dispatched", "sent", res.Sent, "retrying", res.Retrying, "failed", res.Failed,
					"cancelled", res.Cancelled, "deferred", res.Deferred)
			}
			return err
		}},
		{"digest", specs.Digest, func(ctx context.Context) error {
			_, err := s.Digest(ctx)
			return err
		}},
		{"reports", specs.Reports, func(ctx context.Context) error {
			res, err := s.FunderReports(ctx)
			if res.Created > 0 {
				log.Info("funder reports queued", "count", res.Created)
			}
			return err
		}},
	}
	for _, j := range jobs {
		if j.spec == "" || j.spec == Off {
			continue
		}
		if _, err := c.AddFunc(j.spec, func() {
			// A run that takes longer than this is abandoned; what it did
			// not finish, the next run (here or in another instance) does.
			jobCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			err := s.observe(ctx, j.name, func() error { return j.run(jobCtx) })
			if err != nil && jobCtx.Err() == nil {
				log.Error("scheduled "+j.name+" failed", "error", err.Error())
			}
		}); err != nil {
			return nil, fmt.Errorf("%s schedule %q: %w", j.name, j.spec, err)
		}
	}
	return c, nil
}
