package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
	LoadBefore float64 `json:"load_average_before"`
	LoadAfter  float64 `json:"load_average_after"`
	// The median round: each workload's and each ceiling's median
	// measurement, and the median of each ratio as measured in its round.
	round
	// Rounds are every round's own figures (-rounds).
	Rounds []round `json:"rounds"`
	Memory struct {
		// IdleMiB is the server's RSS once started and answering, before
		// any load (of it, IdleAnonMiB is memory the process allocated and
		// IdleFileMiB pages of its executable and libraries, shared with
		// the page cache); PeakMiB the highest high-water mark (VmHWM) of
		// a round and EndMiB the RSS at the end of the last round's load.
		IdleMiB     float64 `json:"idle_rss_mib"`
		IdleAnonMiB float64 `json:"idle_rss_anon_mib"`
		IdleFileMiB float64 `json:"idle_rss_file_mib"`
		PeakMiB     float64 `json:"peak_rss_mib"`
		EndMiB      float64 `json:"end_rss_mib"`
	} `json:"memory"`
}

// round is one round's measurements: the workloads, then the ceilings
// measured just after, and their ratios.
type round struct {
	Workloads []stats   `json:"workloads"`
	Ceilings  []ceiling `json:"ceilings"`
	Ratios    []ratio   `json:"ratios"`
}

// ratio is a workload's transactions per second over a ceiling's.
type ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// computeRatios compares each read with the read ceiling and each write
// (the round trip, counted as transactions) with the write ceiling.
func (r *round) computeRatios() {
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

// summarize sets the median round from r.Rounds: for each workload and
// ceiling the round in which it measured the median throughput, for each
// ratio the median value (of an even number of rounds: the lower middle).
// Errors are every round's.
func (r *result) summarize() {
	r.round = round{}
	if len(r.Rounds) == 0 {
		return
	}
	first := r.Rounds[0]
	for i := range first.Workloads {
		all := make([]stats, len(r.Rounds))
		errs := 0
		for j, rd := range r.Rounds {
			all[j] = rd.Workloads[i]
			errs += all[j].Errors
		}
		m := median(all, func(s stats) float64 { return s.TxPerS })
		m.Errors = errs
		r.Workloads = append(r.Workloads, m)
	}
	for i := range first.Ceilings {
		all := make([]ceiling, len(r.Rounds))
		for j, rd := range r.Rounds {
			all[j] = rd.Ceilings[i]
		}
		r.Ceilings = append(r.Ceilings, median(all, func(c ceiling) float64 { return c.TPS }))
	}
	for i := range first.Ratios {
		all := make([]ratio, len(r.Rounds))
		for j, rd := range r.Rounds {
			all[j] = rd.Ratios[i]
		}
		r.Ratios = append(r.Ratios, median(all, func(rt ratio) float64 { return rt.Value }))
	}
}

// median is the element of all whose value by is the median (of an even
// number: the lower middle).
func median[T any](all []T, by func(T) float64) T {
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b T) int { return cmp.Compare(by(a), by(b)) })
	return sorted[(len(sorted)-1)/2]
}

// errors counts the failed requests of every round.
func (r *result) errors() int {
	n := 0
	for _, rd := range r.Rounds {
		for _, w := range rd.Workloads {
			n += w.Errors
		}
	}
	return n
}

// print writes r as a table.
func (r *result) print(out io.Writer) {
	fmt.Fprintf(out, "\n%s: %d clients, %s each after a %s warm-up (seeded in %.1f s)\n",
		r.Engine, r.Clients, r.Duration, r.Warmup, r.SeedSeconds)
	if len(r.Rounds) > 1 {
		fmt.Fprintf(out, "the median of %d rounds (each workload's and ceiling's median round; each ratio's median)\n", len(r.Rounds))
	}
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
	for i, rt := range r.Ratios {
		fmt.Fprintf(out, "  %-78s %5.3f", rt.Name, rt.Value)
		if len(r.Rounds) > 1 {
			each := make([]string, len(r.Rounds))
			for j, rd := range r.Rounds {
				each[j] = f(rd.Ratios[i].Value, 3)
			}
			fmt.Fprintf(out, " (rounds: %s)", strings.Join(each, ", "))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "machine load average (1 min): %.1f before the workloads, %.1f after, on %d cores\n", r.LoadBefore, r.LoadAfter, runtime.NumCPU())
	m := r.Memory
	fmt.Fprintf(out, "server RSS: idle %.1f MiB (allocated %.1f, executable and libraries %.1f), peak %.1f MiB, at the end of the load %.1f MiB\n",
		m.IdleMiB, m.IdleAnonMiB, m.IdleFileMiB, m.PeakMiB, m.EndMiB)
	for _, rd := range r.Rounds {
		for _, w := range rd.Workloads {
			for _, e := range w.ErrorLog {
				fmt.Fprintf(out, "error in %s: %s\n", w.Name, e)
			}
		}
	}
}

func f(v float64, decimals int) string { return strconv.FormatFloat(v, 'f', decimals, 64) }
