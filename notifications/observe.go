package notifications

import (
	"context"
	"time"
)

// Observer is told what the scheduled jobs and the dispatcher did, for
// the service's metrics (metrics.Metrics is one); the notifications do not
// depend on a metrics library. Its methods must be cheap and safe for
// concurrent use.
type Observer interface {
	// JobRun is told of each scheduled run of job ("sweep", "dispatch",
	// "digest", "reports"): how long it took and its error, if any.
	JobRun(job string, took time.Duration, err error)
	// Delivery is told of each notification the dispatcher handled: its
	// channel ("sms", "email"; "none" when no such channel is configured)
	// and the outcome ("sent", "retrying", "failed", "cancelled",
	// "deferred").
	Delivery(channel, outcome string)
}

// observe runs job, telling s.Observer how it went. A run cut short
// because the service is stopping (service ends) did not fail.
func (s *Service) observe(service context.Context, job string, run func() error) error {
	start := time.Now()
	err := run()
	if s.Observer != nil {
		failed := err
		if service.Err() != nil {
			failed = nil
		}
		s.Observer.JobRun(job, time.Since(start), failed)
	}
	return err
}

// delivered tells s.Observer of one notification's outcome.
func (s *Service) delivered(channel, outcome string) {
	if s.Observer != nil {
		s.Observer.Delivery(channel, outcome)
	}
}
