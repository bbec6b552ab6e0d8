package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/storage/dbtest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// serve --metrics-addr serves the metrics on that address, and only there:
// the public address answers /metrics with a 404. The requests to the
// public address are counted by route pattern; the metrics stop with the
// service.
func TestServeMetricsAddr(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			t.Setenv("DATABASE_URL", dbtest.FreshURL(t, engine))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdout, w := io.Pipe()
			var stderr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--timezone", "UTC"}, nil, w, &stderr)
				w.Close()
				done <- code
			}()
			metricsURL := regexp.MustCompile(`Metrics are served on (http://\S+/metrics)`)
			listening := regexp.MustCompile(`listening on (\S+)`)
			var scrapeURL, public string
			lines := bufio.NewScanner(stdout)
			for public == "" && lines.Scan() {
				if m := metricsURL.FindStringSubmatch(lines.Text()); m != nil {
					scrapeURL = m[1]
				}
				if m := listening.FindStringSubmatch(lines.Text()); m != nil {
					public = "http://" + m[1]
				}
			}
			go io.Copy(io.Discard, stdout)
			if scrapeURL == "" || public == "" {
				cancel()
				<-done
				t.Fatalf("serve did not say where it serves the metrics and the service:\n%s", stderr.String())
			}

			if code, _ := get(t, public+"/healthz"); code != 200 {
				t.Errorf("healthz: %d", code)
			}
			if code, _ := get(t, public+"/metrics"); code != 404 {
				t.Errorf("the public address answers /metrics with %d, want 404", code)
			}
			code, text := get(t, scrapeURL)
			for _, want := range []string{
				`devicebank_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
				`devicebank_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
				`devicebank_outbox_notifications{status="pending"} 0`,
				`devicebank_job_failures_total{job="sweep"} 0`,
				`go_sql_open_connections{db_name="devicebank"}`,
			} {
				if code != 200 || !strings.Contains(text, want) {
					t.Errorf("the metrics (%d) lack %s:\n%s", code, want, text)
				}
			}
			if code, _ := get(t, strings.TrimSuffix(scrapeURL, "/metrics")+"/healthz"); code != 404 {
				t.Errorf("the metrics address answers another path with %d, want 404", code)
			}

			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d:\n%s", code, stderr.String())
			}
			if _, err := http.Get(scrapeURL); err == nil {
				t.Errorf("the metrics are still served after serve returned")
			}
		})
	}
}

// Without --metrics-addr (the default) nothing listens for metrics and the
// public address has no /metrics either.
func TestServeHasNoMetricsByDefault(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	t.Setenv("DEVICEBANK_METRICS_ADDR", "")
	code, logs := serveUntilListening(t, "--timezone", "UTC")
	if code != 0 || strings.Contains(logs, "metrics") {
		t.Errorf("serve: exit %d, want 0 and no metrics:\n%s", code, logs)
	}
}

// A bad --metrics-addr, or DEVICEBANK_METRICS_ADDR, stops serve before it
// touches the database, with an error naming the flag.
func TestServeRefusesABadMetricsAddr(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		args []string
		env  string
		want string
	}{
		{args: []string{"--metrics-addr", "nonsense"}, want: "--metrics-addr"},
		{args: []string{"--metrics-addr", "127.0.0.1:99999"}, want: "--metrics-addr"},
		{args: []string{"--metrics-addr", busy.Addr().String()}, want: "--metrics-addr"},
		{args: []string{"--addr", "127.0.0.1:18080", "--metrics-addr", "127.0.0.1:18080"}, want: "--metrics-addr"},
		{env: "localhost", want: "--metrics-addr"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		dbPath := filepath.Join(dir, "devicebank.db")
		t.Setenv("DATABASE_URL", "sqlite:"+dbPath)
		t.Setenv("DEVICEBANK_METRICS_ADDR", c.env)
		var stdout, stderr bytes.Buffer
		args := append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("serve %v (DEVICEBANK_METRICS_ADDR=%q): exit %d, want 1 and an error naming %s: %q", c.args, c.env, code, c.want, stderr.String())
		}
		if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
			t.Errorf("serve %v created the database before refusing the address (%v)", c.args, err)
		}
	}
}
