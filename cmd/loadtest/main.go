// Command loadtest measures DeviceBank under concurrent HTTP load: it builds
// the real server, seeds a fresh database, starts `devicebank serve` on it
// as a subprocess and drives it over HTTP with concurrent clients, side by
// side with the database's own ceiling (pgbench on PostgreSQL), and reports
// throughput, latency percentiles and the server's memory.
//
//	go run ./cmd/loadtest                       # both databases, 8 clients, 10 s each
//	go run ./cmd/loadtest -db sqlite -clients 4 -duration 5s -json out.json
//
// See docs/PERFORMANCE.md ("Under concurrent HTTP load") for what each
// figure means.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags, checked.
type options struct {
	engines   []string
	clients   int
	rounds    int
	duration  time.Duration
	warmup    time.Duration
	pgURL     string
	pgPrefix  string
	pgScale   int
	jsonPath  string
	keep      bool
	sizes     sizes
	serverBin string
	// only names the workloads to run (-workloads); nil: all of them.
	only []string
}

// defaultPGURL is the database the command connects to, to create and drop
// its own databases.
const defaultPGURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var pgPrefixRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// errUsage reports bad flags, already explained on stderr.
var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: go run ./cmd/loadtest [flags]\n\n"+
			"Measures the DeviceBank server under concurrent HTTP load on a fresh, seeded database,\n"+
			"side by side with the database's own ceiling (pgbench on PostgreSQL).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	db := fs.String("db", "both", "the database to measure: sqlite, postgres or both")
	fs.IntVar(&o.clients, "clients", 8, "concurrent HTTP clients (and pgbench clients), 1 to 256")
	fs.IntVar(&o.rounds, "rounds", 1, "how many times to measure the workloads and the ceiling, one after the other, 1 to 20; the report gives the medians and each round's ratios")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measurement runs (pgbench: rounded up to whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long each workload runs, unmeasured, before its measurement; 0: none")
	fs.StringVar(&o.pgURL, "pg-url", envOr("DEVICEBANK_LOAD_PG_URL", defaultPGURL),
		"PostgreSQL database to connect to to create and drop the load test's own databases (env DEVICEBANK_LOAD_PG_URL)")
	fs.StringVar(&o.pgPrefix, "pg-prefix", "devicebank_load", "name prefix of the PostgreSQL databases created (and dropped): PREFIX_app_…, PREFIX_pgbench_…")
	fs.IntVar(&o.pgScale, "pgbench-scale", 0, "pgbench -i scale factor; 0: the larger of 10 and -clients")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results to this file as JSON")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (binary, SQLite file, server log) and the PostgreSQL databases")
	fs.IntVar(&o.sizes.Devices, "seed-devices", 1000, "devices to seed")
	fs.IntVar(&o.sizes.Clients, "seed-clients", 500, "clients of the social worker to seed")
	fs.IntVar(&o.sizes.Overdue, "seed-overdue", 200, "overdue loans to seed")
	fs.IntVar(&o.sizes.WriterKinds, "writer-kinds", 4, "how many kinds the round trips' devices are of, in turn: tablet, phone, hotspot, laptop (1: every writer lends a tablet, and they take turns on its lock)")
	only := fs.String("workloads", "", "the workloads to run, comma-separated: "+strings.Join(workloadKeys, ", ")+"; empty: all")
	fs.StringVar(&o.serverBin, "server", "", "a devicebank binary to run instead of building ./cmd/devicebank")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		for _, k := range strings.Split(*only, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(workloadKeys, k) {
				return nil, fmt.Errorf("-workloads: %q is not a workload; the workloads are %s", k, strings.Join(workloadKeys, ", "))
			}
			o.only = append(o.only, k)
		}
	}
	switch *db {
	case "both":
		o.engines = []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		o.engines = []string{*db}
	default:
		return nil, fmt.Errorf("-db must be sqlite, postgres or both (got %q)", *db)
	}
	return o, o.check()
}

// check reports the first flag whose value cannot work.
func (o *options) check() error {
	switch {
	case o.clients < 1 || o.clients > 256:
		return fmt.Errorf("-clients must be 1 to 256 (got %d)", o.clients)
	case o.rounds < 1 || o.rounds > 20:
		return fmt.Errorf("-rounds must be 1 to 20 (got %d)", o.rounds)
	case o.duration <= 0:
		return fmt.Errorf("-duration must be positive, such as 10s (got %s)", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup must be 0 or positive (got %s)", o.warmup)
	case o.pgScale < 0:
		return fmt.Errorf("-pgbench-scale must be 0 (automatic) or positive (got %d)", o.pgScale)
	case !pgPrefixRe.MatchString(o.pgPrefix):
		return fmt.Errorf("-pg-prefix must be lower-case letters, digits and underscores, starting with a letter or underscore, at most 40 (got %q)", o.pgPrefix)
	}
	return o.sizes.check(o.clients)
}

// scale is the pgbench scale factor. pgbench's documentation asks for a
// scale at least the number of clients: tpcb-like updates one of `scale`
// branch rows per transaction, so fewer branches than clients measures
// lock waits on those rows rather than the database.
func (o *options) scale() int {
	if o.pgScale > 0 {
		return o.pgScale
	}
	return max(10, o.clients)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run is main without the process: it returns the exit code (0 when every
// request succeeded, 1 on any error, 2 for bad flags).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 2
	}
	results, err := measureAll(ctx, o, stderr)
	for _, r := range results {
		r.print(stdout)
	}
	if err == nil && o.jsonPath != "" {
		err = writeJSON(o.jsonPath, results)
	}
	if ctx.Err() != nil {
		err = errors.New("interrupted: the server was stopped and the temporary databases removed")
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 1
	}
	for _, r := range results {
		if n := r.errors(); n > 0 {
			fmt.Fprintf(stderr, "loadtest: %d requests failed on %s (see the errors above)\n", n, r.Engine)
			return 1
		}
	}
	return 0
}

// measureAll builds the server and measures each database in turn. It
// returns the results of the databases measured before any failure.
func measureAll(ctx context.Context, o *options, progress io.Writer) ([]*result, error) {
	if slices.Contains(o.engines, "postgres") {
		if _, err := exec.LookPath("pgbench"); err != nil {
			return nil, errors.New("pgbench is not installed (Debian: apt-get install postgresql-client); it measures PostgreSQL's own ceiling for -db postgres or both")
		}
	}
	dir, err := os.MkdirTemp("", "devicebank-load-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(progress, "keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.serverBin
	if bin == "" {
		bin = filepath.Join(dir, "devicebank")
		fmt.Fprintln(progress, "building ./cmd/devicebank")
		if err := buildServer(ctx, bin); err != nil {
			return nil, err
		}
	}
	var results []*result
	for _, engine := range o.engines {
		r, err := measureEngine(ctx, o, engine, bin, dir, progress)
		if err != nil {
			return results, fmt.Errorf("%s: %w", engine, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// buildServer builds the server binary at path, from the module the
// command is run in.
func buildServer(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/devicebank/devicebank/cmd/devicebank")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/devicebank: %v\n%s", err, out)
	}
	return nil
}

func writeJSON(path string, results []*result) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
