package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/robfig/cron/v3"
)

// defaultShutdownTimeout is how long serve waits, after SIGTERM or SIGINT,
// for requests and scheduled jobs in flight: well under systemd's default
// TimeoutStopSec (90 s) and Kubernetes' grace period (30 s), and longer
// than the SMS channel's timeout (15 s), so a message being sent finishes.
const defaultShutdownTimeout = 20 * time.Second

// shutdownTimeout reads --shutdown-timeout.
func shutdownTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--shutdown-timeout must be a positive duration such as 20s or 1m (got %q)", s)
	}
	return d, nil
}

// jobContext is the context serve's scheduled jobs run in. It is not the
// signal's: a signal that cancelled it would stop a dispatch in the middle
// of a send, whose outcome is then unknown (sent, or not). It ends only when
// cancel is called, at the shutdown deadline, or when serve returns.
func jobContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(context.WithoutCancel(ctx))
}

// stopGracefully ends serve after a signal, in this order, each step
// logged: stop accepting connections and let the requests in flight finish;
// stop starting scheduled jobs and wait for those running (a dispatch
// finishes its batch); close the database. One deadline, timeout from now,
// bounds the waiting: at the deadline serve stops waiting for requests
// (those still running fail when the database closes) and
// the jobs' context (cancelJobs) is cancelled, so that a dispatch sends
// nothing more and hands the reminders it claimed but did not send back to
// the outbox for the next run. background is closed when serve's other
// goroutines, which stop with the signal, are done with the database. The
// error says what the deadline cut off, if anything.
func stopGracefully(log *slog.Logger, timeout time.Duration, server *fiber.App, scheduler *cron.Cron,
	cancelJobs context.CancelFunc, background <-chan struct{}, db io.Closer) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log.Info("shutting down: no longer accepting connections; waiting for the requests in flight", "timeout", timeout.String())
	jobs := scheduler.Stop() // no job starts from now on
	var errs []error
	if err := server.ShutdownWithContext(ctx); err != nil {
		log.Warn("requests still in flight at the shutdown deadline were cut off", "error", err.Error())
		errs = append(errs, fmt.Errorf("requests still in flight after --shutdown-timeout %s were cut off", timeout))
	} else {
		log.Info("requests in flight finished")
	}
	log.Info("schedules stopped; waiting for the scheduled jobs running")
	select {
	case <-jobs.Done():
	default: // the requests may have used up the deadline: jobs already done are not cut off
		select {
		case <-jobs.Done():
		case <-ctx.Done():
			log.Warn("scheduled jobs still running at the shutdown deadline are cancelled; a dispatch hands back the reminders it has not sent")
			cancelJobs()
			<-jobs.Done()
			errs = append(errs, fmt.Errorf("scheduled jobs still running after --shutdown-timeout %s were cancelled", timeout))
		}
	}
	log.Info("scheduled jobs finished")
	<-background
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the database: %w", err))
	} else {
		log.Info("database closed")
	}
	return errors.Join(errs...)
}

// closerFunc is a function as an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }
