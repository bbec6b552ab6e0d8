package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 200; i++ {
		sorted = append(sorted, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Millisecond}, {90, 180 * time.Millisecond}, {99, 198 * time.Millisecond},
		{99.9, 200 * time.Millisecond}, {100, 200 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(sorted, c.p); got != c.want {
			t.Errorf("p%v of 1..200 ms = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %v, want it", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
}

func TestParseTPSTakesTheFigureWithoutConnectionTime(t *testing.T) {
	pg15 := `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
number of failed transactions: 0 (0.000%)
latency average = 0.512 ms
initial connection time = 12.345 ms
tps = 15623.441020 (without initial connection time)
`
	pg13 := `tps = 1700.123456 (including connections establishing)
tps = 1745.654321 (excluding connections establishing)
`
	for text, want := range map[string]float64{pg15: 15623.441020, pg13: 1745.654321} {
		got, err := parseTPS(text)
		if err != nil || got != want {
			t.Errorf("parseTPS = %v, %v; want %v", got, err, want)
		}
	}
	if _, err := parseTPS("pgbench: error: connection to server failed\n"); err == nil {
		t.Error("parseTPS found a figure in an error")
	}
}

func TestParseProcStatusReadsRSSAndPeakInMiB(t *testing.T) {
	m, err := parseProcStatus("Name:\tdevicebank\nVmPeak:\t 1262000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t   30720 kB\n" +
		"RssAnon:\t   10240 kB\nRssFile:\t   20480 kB\nRssShmem:\t       0 kB\nThreads:\t9\n")
	if err != nil || m != (memory{rssMiB: 30, anonMiB: 10, fileMiB: 20, hwmMiB: 60}) {
		t.Errorf("parseProcStatus = %+v, %v; want RSS 30 MiB (10 allocated, 20 file), peak 60 MiB", m, err)
	}
	if _, err := parseProcStatus("Name:\tkthreadd\n"); err == nil {
		t.Error("parseProcStatus accepted a status without VmRSS")
	}
}

func TestSummaryIsTheMedianRound(t *testing.T) {
	rd := func(device, pgbench float64, errors int) round {
		r := round{Workloads: []stats{{Name: "device", TxPerS: device, P99ms: device / 100, Errors: errors}},
			Ceilings: []ceiling{{Name: "pgbench -S", Kind: "read", TPS: pgbench}}}
		r.computeRatios()
		return r
	}
	r := &result{Rounds: []round{rd(900, 1000, 0), rd(500, 2000, 2), rd(700, 1000, 1)}}
	r.summarize()
	// Workload: the round with the median tx/s (700), whole; ceiling: 1000;
	// ratio: the median of 0.9, 0.25 and 0.7, not 700/1000 by chance.
	if len(r.Workloads) != 1 || r.Workloads[0].TxPerS != 700 || r.Workloads[0].P99ms != 7 || r.Workloads[0].Errors != 3 {
		t.Errorf("workloads %+v, want the 700 tx/s round with every round's 3 errors", r.Workloads)
	}
	if len(r.Ceilings) != 1 || r.Ceilings[0].TPS != 1000 {
		t.Errorf("ceilings %+v, want 1000", r.Ceilings)
	}
	if len(r.Ratios) != 1 || r.Ratios[0].Value != 0.7 {
		t.Errorf("ratios %+v, want 0.7", r.Ratios)
	}
	if r.errors() != 3 {
		t.Errorf("errors() = %d, want 3", r.errors())
	}
	r.Rounds = r.Rounds[:2] // even: the lower middle
	r.summarize()
	if r.Workloads[0].TxPerS != 500 || r.Ratios[0].Value != 0.25 {
		t.Errorf("of two rounds: workload %v, ratio %v; want 500 and 0.25", r.Workloads[0].TxPerS, r.Ratios[0].Value)
	}
}

func TestBadFlagsAreNamedAndNothingRuns(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-db", "mysql"}, "-db must be sqlite, postgres or both"},
		{[]string{"-clients", "0"}, "-clients must be 1 to 256"},
		{[]string{"-rounds", "0"}, "-rounds must be 1 to 20"},
		{[]string{"-duration", "-1s"}, "-duration must be positive"},
		{[]string{"-warmup", "-1s"}, "-warmup must be 0 or positive"},
		{[]string{"-pg-prefix", "Load; DROP"}, "-pg-prefix must be"},
		{[]string{"-pgbench-scale", "-3"}, "-pgbench-scale must be"},
		{[]string{"-clients", "8", "-seed-devices", "100", "-seed-overdue", "95"}, "-seed-devices must be at least -seed-overdue plus -clients, 103"},
		{[]string{"-seed-clients", "4"}, "-seed-clients must be at least"},
		{[]string{"-workloads", "device,writes"}, `-workloads: "writes" is not a workload; the workloads are device, client, overdue, roundtrip`},
		{[]string{"-duration", "ten"}, `invalid value "ten" for flag -duration`},
		{[]string{"sqlite"}, `unexpected argument "sqlite"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, stderr.String(), c.want)
		}
		if stdout.Len() > 0 {
			t.Errorf("%v: measured something: %s", c.args, stdout.String())
		}
	}
}

func TestWithoutPgbenchPostgresIsRefusedBeforeAnything(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-db", "postgres"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "pgbench is not installed") || strings.Contains(stderr.String(), "building") {
		t.Errorf("stderr %q, want pgbench named as missing before any build", stderr.String())
	}
}

func TestAnAnswerOutside2xxIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, 1)
	if err := c.get(context.Background(), "good", "/api/v1/devices/1"); err != nil {
		t.Errorf("a 200 answer: %v", err)
	}
	err := c.get(context.Background(), "bad", "/api/v1/devices/1")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "/api/v1/devices/1") {
		t.Errorf("a 401 answer gave %v, want an error naming the request and the status", err)
	}
}

func TestAFailingClientIsCountedAndStops(t *testing.T) {
	var calls atomic.Int64
	w := workload{name: "flaky", tx: 1, op: func(_ context.Context, i int, _ *rand.Rand) error {
		calls.Add(1)
		if i == 1 {
			return errors.New("409 Conflict")
		}
		time.Sleep(time.Millisecond)
		return nil
	}}
	s := loop(context.Background(), w, 3, 100*time.Millisecond)
	if s.Errors != 1 || len(s.ErrorLog) != 1 || s.ErrorLog[0] != "409 Conflict" {
		t.Errorf("errors %d %q, want the one failing client's error", s.Errors, s.ErrorLog)
	}
	if s.Ops == 0 || int64(s.Ops) != calls.Load()-1 {
		t.Errorf("%d operations counted of %d made, one of which failed", s.Ops, calls.Load())
	}
}

// TestLoadtestRunsOnEachDatabase runs the whole command for a second with
// two clients on a small seed: on SQLite, and on PostgreSQL when
// TEST_DATABASE_URL names one (and pgbench is installed), creating its
// databases beside the test database and dropping them.
func TestLoadtestRunsOnEachDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs it (about 20 s a database)")
	}
	bin := filepath.Join(t.TempDir(), "devicebank")
	if err := buildServer(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
	engines := [][]string{{"-db", "sqlite", "-rounds", "2"}}
	if pgURL, prefix := testPG(t); pgURL != "" {
		engines = append(engines, []string{"-db", "postgres", "-pg-url", pgURL, "-pg-prefix", prefix, "-pgbench-scale", "1"})
	}
	for _, engine := range engines {
		t.Run(engine[1], func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			args := append([]string{"-clients", "2", "-duration", "1s", "-warmup", "100ms", "-server", bin, "-json", out,
				"-seed-devices", "40", "-seed-clients", "20", "-seed-overdue", "5"}, engine[2:]...)
			args = append(args, engine[:2]...)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			rounds := 1
			if slices.Contains(engine, "-rounds") {
				rounds = 2
			}
			checkResults(t, out, engine[1], rounds, stdout.String())
		})
	}
}

// checkResults checks the JSON the command wrote: each workload made
// requests without error, the ceilings and memory were measured, and the
// table was printed.
func checkResults(t *testing.T, path, engine string, rounds int, table string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var results []result
	if err := json.Unmarshal(b, &results); err != nil || len(results) != 1 || results[0].Engine != engine {
		t.Fatalf("-json wrote %s (%v), want the results of %s", b, err, engine)
	}
	r := results[0]
	if len(r.Rounds) != rounds {
		t.Fatalf("%d rounds measured, want %d", len(r.Rounds), rounds)
	}
	for _, rd := range r.Rounds {
		if len(rd.Workloads) != 4 || len(rd.Ratios) != len(r.Ratios) {
			t.Errorf("a round measured %d workloads and %d ratios, want 4 and %d", len(rd.Workloads), len(rd.Ratios), len(r.Ratios))
		}
	}
	if len(r.Workloads) != 4 {
		t.Fatalf("%d workloads measured, want 4", len(r.Workloads))
	}
	for _, w := range r.Workloads {
		if w.Ops == 0 || w.Errors != 0 || w.P50ms <= 0 || w.P99ms < w.P50ms || w.MaxMs < w.P99ms {
			t.Errorf("%s: %+v", w.Name, w)
		}
		if !strings.Contains(table, w.Name) {
			t.Errorf("the table does not show %s:\n%s", w.Name, table)
		}
	}
	if rt := r.Workloads[3]; rt.TxPerS != 3*rt.OpsPerS {
		t.Errorf("the round trip counts %v tx/s for %v round trips/s, want three each", rt.TxPerS, rt.OpsPerS)
	}
	wantCeilings, wantRatios := 1, 3
	if engine == "postgres" {
		wantCeilings, wantRatios = 2, 4
	}
	if len(r.Ceilings) != wantCeilings || len(r.Ratios) != wantRatios {
		t.Errorf("ceilings %+v, ratios %+v; want %d and %d", r.Ceilings, r.Ratios, wantCeilings, wantRatios)
	}
	for _, c := range r.Ceilings {
		if c.TPS <= 0 {
			t.Errorf("ceiling %+v", c)
		}
	}
	if m := r.Memory; m.IdleMiB <= 0 || m.IdleAnonMiB <= 0 || m.IdleFileMiB <= 0 || m.IdleAnonMiB+m.IdleFileMiB > m.IdleMiB+0.01 ||
		m.PeakMiB < m.EndMiB || m.EndMiB <= 0 {
		t.Errorf("memory %+v", m)
	}
}

// testPG is the PostgreSQL server of TEST_DATABASE_URL and a prefix for
// the databases the command creates there (the test database's name), or
// "" when there is none or no pgbench.
func testPG(t *testing.T) (string, string) {
	raw := os.Getenv("TEST_DATABASE_URL")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", ""
	}
	if _, err := exec.LookPath("pgbench"); err != nil {
		t.Log("pgbench is not installed: PostgreSQL is not measured")
		return "", ""
	}
	return raw, strings.Trim(u.Path, "/") + "_load"
}
