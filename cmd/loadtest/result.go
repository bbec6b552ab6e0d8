package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
)

// result is one database's measurements.
type result struct {
	Engine      string  `json:"engine"`
	Clients     int     `json:"clients"`
	Duration    string  `json:"duration"`
	Warmup      string  `json:"warmup"`
	SeedSeconds float64 `json:"seed_seconds"`
	// LoadBefore and LoadAfter are the machine's one-minute load average
	// before and after the workloads: above the number of cores, other
	// work shared the machine.
	LoadBefore float64   `json:"load_average_before"`
	LoadAfter  float64   `json:"load_average_after"`
	Workloads  []stats   `json:"workloads"`
	Ceilings   []ceiling `json:"ceilings"`
	Ratios     []ratio   `json:"ratios"`
	Memory     struct {
		// IdleMiB is the server's RSS once started and answering, before
		// any load; PeakMiB its high-water mark (VmHWM) and EndMiB its RSS
		// at the end of the load.
		IdleMiB float64 `json:"idle_rss_mib"`
		PeakMiB float64 `json:"peak_rss_mib"`
		EndMiB  float64 `json:"end_rss_mib"`
	} `json:"memory"`
}

// ratio is a workload's transactions per second over a ceiling's.
type ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// computeRatios compares each read with the read ceiling and each write
// (the round trip, counted as transactions) with the write ceiling.
func (r *result) computeRatios() {
	for _, w := range r.Workloads {
		kind := "read"
		if w.Name == roundTripName {
			kind = "write"
		}
		for _, c := range r.Ceilings {
			if c.Kind == kind && c.TPS > 0 {
				r.Ratios = append(r.Ratios, ratio{Name: w.Name + " / " + c.Name, Value: w.TxPerS / c.TPS})
			}
		}
	}
}

func (r *result) errors() int {
	n := 0
	for _, w := range r.Workloads {
		n += w.Errors
	}
	return n
}

// print writes r as a table.
func (r *result) print(out io.Writer) {
	fmt.Fprintf(out, "\n%s: %d clients, %s each after a %s warm-up (seeded in %.1f s)\n",
		r.Engine, r.Clients, r.Duration, r.Warmup, r.SeedSeconds)
	const row = "%-42s %8s %8s %7s %7s %7s %7s %6s\n"
	fmt.Fprintf(out, row, "workload", "ops/s", "tx/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors")
	for _, w := range r.Workloads {
		fmt.Fprintf(out, row, w.Name, f(w.OpsPerS, 0), f(w.TxPerS, 0), f(w.P50ms, 1), f(w.P90ms, 1), f(w.P99ms, 1), f(w.MaxMs, 1),
			strconv.Itoa(w.Errors))
	}
	for _, c := range r.Ceilings {
		fmt.Fprintf(out, row, c.Name, "", f(c.TPS, 0), "", "", "", "", "")
	}
	for _, c := range r.Ceilings {
		fmt.Fprintf(out, "  %s: %s\n", c.Name, c.Command)
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(out, "ratios (tx/s over the ceiling's tps):")
	}
	for _, rt := range r.Ratios {
		fmt.Fprintf(out, "  %-78s %5.3f\n", rt.Name, rt.Value)
	}
	fmt.Fprintf(out, "machine load average (1 min): %.1f before the workloads, %.1f after, on %d cores\n", r.LoadBefore, r.LoadAfter, runtime.NumCPU())
	fmt.Fprintf(out, "server RSS: idle %.1f MiB, peak %.1f MiB, at the end of the load %.1f MiB\n",
		r.Memory.IdleMiB, r.Memory.PeakMiB, r.Memory.EndMiB)
	for _, w := range r.Workloads {
		for _, e := range w.ErrorLog {
			fmt.Fprintf(out, "error in %s: %s\n", w.Name, e)
		}
	}
}

func f(v float64, decimals int) string { return strconv.FormatFloat(v, 'f', decimals, 64) }
