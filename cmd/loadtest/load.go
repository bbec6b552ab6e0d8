package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// A workload is what each concurrent client does again and again.
type workload struct {
	// key names it in -workloads; name in the report.
	key, name string
	// tx is how many transactions one operation makes (the loan round
	// trip: three), to compare it with pgbench's transactions.
	tx int
	// op runs one operation as client i (0 ≤ i < clients).
	op func(ctx context.Context, i int, rnd *rand.Rand) error
}

// workloads are the HTTP workloads, in the order they run.
func workloads(c *apiClient, fx *fixture) []workload {
	return []workload{
		{key: "device", name: "GET /api/v1/devices/{id}", tx: 1, op: func(ctx context.Context, _ int, rnd *rand.Rand) error {
			return c.get(ctx, fx.Coordinator, fmt.Sprintf("/api/v1/devices/%d", pick(rnd, fx.DeviceIDs)))
		}},
		{key: "client", name: "GET /api/v1/clients/{id}", tx: 1, op: func(ctx context.Context, _ int, rnd *rand.Rand) error {
			return c.get(ctx, fx.Worker, fmt.Sprintf("/api/v1/clients/%d", pick(rnd, fx.ClientIDs)))
		}},
		{key: "overdue", name: "GET /api/v1/loans?status=overdue", tx: 1, op: func(ctx context.Context, _ int, _ *rand.Rand) error {
			return c.get(ctx, fx.Coordinator, "/api/v1/loans?status=overdue")
		}},
		{key: "roundtrip", name: roundTripName, tx: 3, op: func(ctx context.Context, i int, _ *rand.Rand) error {
			return c.loanRoundTrip(ctx, fx.Writers[i])
		}},
	}
}

// workloadKeys are the keys -workloads takes, in the order they run.
var workloadKeys = []string{"device", "client", "overdue", "roundtrip"}

const roundTripName = "loan round trip (issue, return, inspect)"

func pick(rnd *rand.Rand, ids []int64) int64 { return ids[rnd.IntN(len(ids))] }

// stats is what a measurement found.
type stats struct {
	Name     string   `json:"name"`
	Ops      int      `json:"ops"`
	Errors   int      `json:"errors"`
	Seconds  float64  `json:"seconds"`
	OpsPerS  float64  `json:"ops_per_s"`
	TxPerS   float64  `json:"tx_per_s"`
	P50ms    float64  `json:"p50_ms"`
	P90ms    float64  `json:"p90_ms"`
	P99ms    float64  `json:"p99_ms"`
	MaxMs    float64  `json:"max_ms"`
	ErrorLog []string `json:"error_log,omitempty"`
}

// measure runs w with the given number of concurrent clients, first for
// warmup unmeasured, then for duration, and returns what the second run
// found. It fails only if ctx ends (an interrupt); failed operations are
// counted in the stats.
func measure(ctx context.Context, w workload, clients int, warmup, duration time.Duration) (stats, error) {
	if warmup > 0 {
		if s := loop(ctx, w, clients, warmup); s.Errors > 0 {
			return s, nil // already failing: the measurement would only repeat it
		}
	}
	s := loop(ctx, w, clients, duration)
	return s, ctx.Err()
}

// maxErrorLog is how many error messages a measurement keeps.
const maxErrorLog = 5

// loop runs w on each client until duration has passed, each client
// starting its next operation only once the last has answered (a closed
// loop, as pgbench's clients). A client whose operation fails stops: the
// state it left (a device on loan, say) is unknown, and the run already
// fails. Operations under way at the end are finished and counted; the
// rates are over the time until the last one finished.
func loop(ctx context.Context, w workload, clients int, duration time.Duration) stats {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		s         = stats{Name: w.name}
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(duration)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			var mine []time.Duration
			var err error
			for err == nil && ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				if err = w.op(ctx, i, rnd); err == nil {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, mine...)
			if err != nil && ctx.Err() == nil {
				s.Errors++
				if len(s.ErrorLog) < maxErrorLog {
					s.ErrorLog = append(s.ErrorLog, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	s.summarize(latencies, time.Since(start), w.tx)
	return s
}

// summarize fills in the rates and percentiles of the operations that
// succeeded.
func (s *stats) summarize(latencies []time.Duration, elapsed time.Duration, tx int) {
	slices.Sort(latencies)
	s.Ops = len(latencies)
	s.Seconds = elapsed.Seconds()
	s.OpsPerS = float64(s.Ops) / s.Seconds
	s.TxPerS = s.OpsPerS * float64(tx)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.P50ms = ms(percentile(latencies, 50))
	s.P90ms = ms(percentile(latencies, 90))
	s.P99ms = ms(percentile(latencies, 99))
	s.MaxMs = ms(percentile(latencies, 100))
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted:
// the smallest value at least p percent of the values are at or below. It
// is 0 for no values. Every latency is kept (a run makes at most a few
// hundred thousand), so the percentiles are exact.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
