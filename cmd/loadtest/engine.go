package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devicebank/devicebank/keyring"
)

// measureEngine measures one database: a fresh database seeded, then
// -rounds rounds of: the server started on it, each workload run against
// it, the server stopped, the database's own ceiling measured with the same
// number of clients.
func measureEngine(ctx context.Context, o *options, engine, bin, dir string, progress io.Writer) (*result, error) {
	r := &result{Engine: engine, Clients: o.clients, Duration: o.duration.String(), Warmup: o.warmup.String()}
	e := &engineRun{o: o, name: engine, bin: bin, dir: dir, progress: progress, dbURL: "sqlite:" + filepath.Join(dir, "devicebank.db")}
	// The data key the database is seeded with and the server given, for
	// every round alike: the one set for this run, else a new one.
	e.dataKey = os.Getenv("DEVICEBANK_DATA_KEY")
	if path := os.Getenv("DEVICEBANK_DATA_KEY_FILE"); e.dataKey == "" && path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("DEVICEBANK_DATA_KEY_FILE: %w", err)
		}
		e.dataKey = strings.TrimSpace(string(b))
	}
	if e.dataKey == "" {
		e.dataKey = keyring.Generate()
	}
	if engine == "postgres" {
		pg, err := openPGAdmin(ctx, o.pgURL, o.pgPrefix, o.keep)
		if err != nil {
			return nil, err
		}
		defer pg.close()
		if e.dbURL, err = pg.create(ctx, "app"); err != nil {
			return nil, err
		}
		if e.pgbenchURL, err = initPgbench(ctx, pg, o); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(progress, "%s: seeding %d devices, %d clients, %d overdue loans\n", engine, o.sizes.Devices, o.sizes.Clients, o.sizes.Overdue)
	start := time.Now()
	var err error
	if e.fx, err = seed(ctx, e.dbURL, e.dataKey, o.sizes, o.clients); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	r.SeedSeconds = time.Since(start).Seconds()

	r.LoadBefore, _ = loadAverage() // only informative: 0 if unknown
	for i := range o.rounds {
		if o.rounds > 1 {
			fmt.Fprintf(progress, "%s: round %d of %d\n", engine, i+1, o.rounds)
		}
		rd, err := e.round(ctx, r)
		if err != nil {
			return nil, err
		}
		r.Rounds = append(r.Rounds, rd)
	}
	r.LoadAfter, _ = loadAverage()
	r.summarize()
	return r, nil
}

// engineRun is what each round on one database needs.
type engineRun struct {
	o                 *options
	name, bin, dir    string
	dbURL, pgbenchURL string // pgbenchURL: "" on SQLite
	dataKey           string // DEVICEBANK_DATA_KEY the database is seeded with and the server given
	fx                *fixture
	progress          io.Writer
}

// round starts the server, runs the workloads against it, stops it and
// measures the database's ceiling. The first round also records the
// server's idle memory; each round updates r's peak and end memory.
func (e *engineRun) round(ctx context.Context, r *result) (round, error) {
	var rd round
	srv, err := startServer(ctx, e.bin, e.dbURL, e.dataKey, filepath.Join(e.dir, e.name+"-server.log"))
	if err != nil {
		return rd, err
	}
	defer srv.stop()
	c := newAPIClient(srv.base, e.o.clients)
	if len(r.Rounds) == 0 {
		// Idle: started, migrations checked, the first request (healthz)
		// answered, nothing else yet.
		idle, err := srv.memory()
		if err != nil {
			return rd, err
		}
		r.Memory.IdleMiB, r.Memory.IdleAnonMiB, r.Memory.IdleFileMiB = idle.rssMiB, idle.anonMiB, idle.fileMiB
		if err := c.checkOverdue(ctx, e.fx.Coordinator, e.o.sizes.Overdue); err != nil {
			return rd, err
		}
	}
	for _, w := range workloads(c, e.fx) {
		if e.o.only != nil && !slices.Contains(e.o.only, w.key) {
			continue
		}
		fmt.Fprintf(e.progress, "%s: %s\n", e.name, w.name)
		s, err := measure(ctx, w, e.o.clients, e.o.warmup, e.o.duration)
		if err != nil {
			return rd, err
		}
		rd.Workloads = append(rd.Workloads, s)
	}
	end, err := srv.memory()
	if err != nil {
		return rd, err
	}
	r.Memory.PeakMiB, r.Memory.EndMiB = max(r.Memory.PeakMiB, end.hwmMiB), end.rssMiB
	// The server stops before the ceiling is measured, so as not to
	// share the machine with it.
	srv.stop()

	fmt.Fprintf(e.progress, "%s: the database's own ceiling\n", e.name)
	if e.pgbenchURL != "" {
		rd.Ceilings, err = pgbenchCeilings(ctx, e.pgbenchURL, e.o)
	} else {
		rd.Ceilings, err = sqliteCeilings(ctx, e.dbURL, e.fx, e.o)
	}
	if err != nil {
		return rd, err
	}
	rd.computeRatios()
	return rd, nil
}
