package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
)

// defaultAuditChainSchedule links new audit events every minute: until it
// is linked, an event could be removed unnoticed.
const defaultAuditChainSchedule = "* * * * *"

// scheduleJob adds a job of serve's own to c, unless spec is empty or off:
// each run gets at most five minutes, and a failure is logged (a run
// stopped because serve is stopping is none).
func scheduleJob(ctx context.Context, c *cron.Cron, flagName, spec string, log *slog.Logger, run func(ctx context.Context) error) error {
	if spec == "" || spec == notifications.Off {
		return nil
	}
	_, err := c.AddFunc(spec, func() {
		jobCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := run(jobCtx); err != nil && ctx.Err() == nil {
			log.Error("scheduled "+flagName+" failed", "error", err.Error())
		}
	})
	if err != nil {
		return fmt.Errorf("--%s-schedule %q: %w", flagName, spec, err)
	}
	return nil
}

// linkAuditTrail is the audit-chain job: it links new audit events.
func linkAuditTrail(db *storage.DB, ring *keyring.Ring, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		n, err := audit.Link(ctx, db, ring, time.Now())
		if n > 0 && errors.Is(err, context.DeadlineExceeded) {
			// A backlog (the first run after an upgrade): each batch is
			// committed; the next run goes on.
			log.Info("audit events linked; more remain for the next run", "count", n)
			return nil
		}
		if n > 0 {
			log.Debug("audit events linked", "count", n)
		}
		return err
	}
}

// errAuditBroken is audit verify's failure: the trail was tampered with.
var errAuditBroken = errors.New("the audit trail is broken")

// auditVerify walks the audit trail's chain and reports its first broken
// link.
func auditVerify(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("audit verify", "Check the audit trail's chain from its first event: report the first event changed,\n"+
		"removed or unlinked since it was linked (exit 1), or that it is intact (exit 0). Needs the data key.", stderr)
	cfg.register(fs)
	place := fs.Int64("expect-place", 0, "a place in the chain that an earlier audit verify reported as its last, with --expect-mac: the chain must still hold that event (it notices the trail emptied, or an older copy put back)")
	mac := fs.String("expect-mac", "", "the MAC audit verify reported for --expect-place")
	if err := parse(fs, args); err != nil {
		return err
	}
	var expect *audit.Checkpoint
	switch {
	case *place < 0:
		return errors.New("--expect-place must be a place in the chain, 1 or more")
	case (*place == 0) != (*mac == ""):
		return errors.New("--expect-place and --expect-mac go together: give both, as an earlier audit verify printed them, or neither")
	case *place > 0:
		expect = &audit.Checkpoint{Seq: *place, MAC: *mac}
	}
	db, err := open(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	data, err := cfg.openData(ctx, db)
	if err != nil {
		return err
	}
	v, err := audit.Verify(ctx, db, data.ring, expect)
	if err != nil {
		return err
	}
	if v.Broken != "" {
		return fmt.Errorf("%w at place %d: %s (the %d events before it are intact)", errAuditBroken, v.BrokenSeq, v.Broken, v.Linked)
	}
	fmt.Fprintf(stdout, "The audit trail is intact. Linked events: %d", v.Linked)
	if v.Linked > 0 {
		fmt.Fprintf(stdout, "; the last, at place %d, has the MAC %s.\nKeep both elsewhere, and give them later as --expect-place %d --expect-mac %s:\n"+
			"that tells whether events were removed from the end since, or an older copy of the trail put back", v.LastSeq, v.LastMAC, v.LastSeq, v.LastMAC)
	}
	fmt.Fprintf(stdout, ".\nNot linked yet: %d (serve links new events every minute).\n", v.Unlinked)
	return nil
}
