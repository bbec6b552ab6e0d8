package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/retention"
	"github.com/devicebank/devicebank/storage"
)

// defaultRetentionSchedule runs retention nightly, at 03:30 agency time.
const defaultRetentionSchedule = "30 3 * * *"

// applyRetention is the retention job: it erases what is due by the policy
// in force (retention.Current) and logs the counts (never what was erased).
func applyRetention(db *storage.DB, cl *clients.Service, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		policy, err := retention.Current(ctx, db)
		if err != nil {
			return err
		}
		cats, err := retention.Run(ctx, db, cl, time.Now(), policy, false)
		for _, c := range cats {
			if c.Count > 0 {
				log.Info("retention", "category", c.Name, "count", c.Count)
			}
		}
		return err
	}
}

// retentionRun erases, once, what is kept no longer, or with --dry-run
// counts it, and prints the counts by category.
func retentionRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("retention run", "Erase what DeviceBank keeps no longer (docs/privacy.md, \"Retention\"), once, and print\n"+
		"how much of each kind; serve does it nightly (--retention-schedule).", stderr)
	cfg.register(fs)
	dryRun := fs.Bool("dry-run", false, "count what would be erased, and erase nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	// The services, with the keys: erasing a client erases what their
	// sealed requests say of them too.
	return withServices(ctx, &cfg, app.Options{}, func(svc *app.Services) error {
		policy, err := retention.Current(ctx, svc.DB)
		if err != nil {
			return err
		}
		cats, err := retention.Run(ctx, svc.DB, svc.Clients, time.Now(), policy, *dryRun)
		verb := "Erased"
		if *dryRun {
			verb = "Would erase"
		}
		for _, c := range cats {
			fmt.Fprintf(stdout, "%s %d: %s (%s)\n", verb, c.Count, c.Name, c.What)
		}
		return err
	})
}
