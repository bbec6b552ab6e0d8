package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"
)

// measureEngine measures one database: a fresh database seeded, the server
// started on it, each workload run against it, then the database's own
// ceiling with the same number of clients.
func measureEngine(ctx context.Context, o *options, engine, bin, dir string, progress io.Writer) (*result, error) {
	r := &result{Engine: engine, Clients: o.clients, Duration: o.duration.String(), Warmup: o.warmup.String()}
	var pg *pgAdmin
	dbURL := "sqlite:" + filepath.Join(dir, "devicebank.db")
	if engine == "postgres" {
		var err error
		if pg, err = openPGAdmin(ctx, o.pgURL, o.pgPrefix, o.keep); err != nil {
			return nil, err
		}
		defer pg.close()
		if dbURL, err = pg.create(ctx, "app"); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(progress, "%s: seeding %d devices, %d clients, %d overdue loans\n", engine, o.sizes.Devices, o.sizes.Clients, o.sizes.Overdue)
	start := time.Now()
	fx, err := seed(ctx, dbURL, o.sizes, o.clients)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	r.SeedSeconds = time.Since(start).Seconds()

	srv, err := startServer(ctx, bin, dbURL, filepath.Join(dir, engine+"-server.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	// Idle: started, migrations checked, the first request (healthz)
	// answered, nothing else yet.
	idle, err := srv.memory()
	if err != nil {
		return nil, err
	}
	r.Memory.IdleMiB = idle.rssMiB

	r.LoadBefore, _ = loadAverage() // only informative: 0 if unknown
	c := newAPIClient(srv.base, o.clients)
	if err := c.checkOverdue(ctx, fx.Coordinator, o.sizes.Overdue); err != nil {
		return nil, err
	}
	for _, w := range workloads(c, fx) {
		if o.only != nil && !slices.Contains(o.only, w.key) {
			continue
		}
		fmt.Fprintf(progress, "%s: %s\n", engine, w.name)
		s, err := measure(ctx, w, o.clients, o.warmup, o.duration)
		if err != nil {
			return nil, err
		}
		r.Workloads = append(r.Workloads, s)
	}
	end, err := srv.memory()
	if err != nil {
		return nil, err
	}
	r.Memory.PeakMiB, r.Memory.EndMiB = end.hwmMiB, end.rssMiB
	r.LoadAfter, _ = loadAverage()
	// The server stops before the ceiling is measured, so as not to
	// share the machine with it.
	srv.stop()

	fmt.Fprintf(progress, "%s: the database's own ceiling\n", engine)
	if pg != nil {
		r.Ceilings, err = pgbenchCeilings(ctx, pg, o)
	} else {
		r.Ceilings, err = sqliteCeilings(ctx, dbURL, fx, o)
	}
	if err != nil {
		return nil, err
	}
	r.computeRatios()
	return r, nil
}
