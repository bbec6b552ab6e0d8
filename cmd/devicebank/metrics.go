package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/metrics"
)

// metricsFlagHelp is --metrics-addr's usage line.
const metricsFlagHelp = "address to serve Prometheus metrics on at /metrics, such as 127.0.0.1:9090; empty: no metrics " +
	"(the default). Keep it off the public network (env DEVICEBANK_METRICS_ADDR)"

// listenMetrics opens --metrics-addr before anything else starts, so a bad
// address stops serve with nothing changed. An empty address (metrics off)
// gives a nil listener.
func listenMetrics(addr, publicAddr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	// (Port 0, any free port, is two different ports.)
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "0" && addr == publicAddr {
		return nil, fmt.Errorf("--metrics-addr %q is the public --addr: metrics must be on an address of their own", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %q: %w", addr, err)
	}
	return ln, nil
}

// startMetrics serves the service's metrics on ln, by a small server of
// its own beside the public one, which never answers /metrics. It returns
// the metrics, for the public server to record its requests in, and a
// function that stops the metrics server. The scheduled jobs report to
// them from now on.
func startMetrics(ln net.Listener, svc *app.Services, log *slog.Logger, stdout io.Writer) (*metrics.Metrics, func()) {
	m := metrics.New(metrics.Options{DB: svc.DB, Now: svc.Notifications.Now, Logger: log})
	svc.Notifications.Observer = m
	if svc.Accounts.Tokens != nil {
		m.WatchTokenCache(svc.Accounts.Tokens)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	// Every phase of a connection is timed, so that whoever reaches the
	// port cannot hold connections open by sending slowly or not at all.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err.Error())
		}
	}()
	log.Info("metrics are served", "addr", ln.Addr().String())
	fmt.Fprintf(stdout, "Metrics are served on http://%s/metrics\n", ln.Addr().String())
	return m, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}
