package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/devicebank/devicebank/storage"
)

// ceiling is the database's own throughput with the same number of
// clients: what the service's reads (Kind "read") or writes ("write") are
// compared with.
type ceiling struct {
	Name    string  `json:"name"`
	Kind    string  `json:"kind"`
	Command string  `json:"command"`
	TPS     float64 `json:"tps"`
}

// pgAdmin creates the load test's PostgreSQL databases through a
// connection to an existing one, and drops them at close unless kept.
type pgAdmin struct {
	db      *storage.DB
	base    *url.URL
	prefix  string
	keep    bool
	created []string
}

func openPGAdmin(ctx context.Context, rawURL, prefix string, keep bool) (*pgAdmin, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-pg-url must be a postgres:// URL (got %q)", rawURL)
	}
	db, err := storage.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("-pg-url: %w", err)
	}
	return &pgAdmin{db: db, base: u, prefix: prefix, keep: keep}, nil
}

// create makes a new empty database, PREFIX_PURPOSE_RANDOM, and returns
// its URL: -pg-url's with the database name replaced.
func (p *pgAdmin) create(ctx context.Context, purpose string) (string, error) {
	b := make([]byte, 4)
	crand.Read(b)
	name := p.prefix + "_" + purpose + "_" + hex.EncodeToString(b)
	// The name is made of checked parts (pgPrefixRe, a word, hex digits).
	if _, err := p.db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	p.created = append(p.created, name)
	u := *p.base
	u.Path = "/" + name
	return u.String(), nil
}

// close drops the databases created, even after an interrupt.
func (p *pgAdmin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !p.keep {
		for _, name := range p.created {
			p.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
	}
	p.db.Close()
}

// initPgbench creates a pgbench database (dropped at pg.close) and
// initialises it at -pgbench-scale; it returns its URL.
func initPgbench(ctx context.Context, pg *pgAdmin, o *options) (string, error) {
	dbURL, err := pg.create(ctx, "pgbench")
	if err != nil {
		return "", err
	}
	if _, err := pgbench(ctx, "-i", "-q", "-s", strconv.Itoa(o.scale()), dbURL); err != nil {
		return "", err
	}
	return dbURL, nil
}

// pgbenchCeilings runs, on the pgbench database at dbURL, pgbench's
// select-only script (-S) and its default tpcb-like one, each with -clients clients and threads for -duration.
func pgbenchCeilings(ctx context.Context, dbURL string, o *options) ([]ceiling, error) {
	var out []ceiling
	for _, c := range []struct{ name, kind, script string }{
		{"pgbench -S (select-only)", "read", "-S"},
		{"pgbench (tpcb-like)", "write", ""},
	} {
		args := []string{"-c", strconv.Itoa(o.clients), "-j", strconv.Itoa(o.clients)}
		if c.script != "" {
			args = append(args, c.script)
		}
		if o.warmup > 0 {
			if _, err := pgbench(ctx, append(args, "-T", seconds(o.warmup), dbURL)...); err != nil {
				return nil, err
			}
		}
		args = append(args, "-T", seconds(o.duration))
		text, err := pgbench(ctx, append(args, dbURL)...)
		if err != nil {
			return nil, err
		}
		tps, err := parseTPS(text)
		if err != nil {
			return nil, err
		}
		cmd := fmt.Sprintf("pgbench %s (scale %d)", strings.Join(args, " "), o.scale())
		out = append(out, ceiling{Name: c.name, Kind: c.kind, Command: cmd, TPS: tps})
	}
	return out, nil
}

// seconds is d in whole seconds for pgbench -T, rounded up, at least 1.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func pgbench(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput()
	if err != nil {
		// The URL is last: not shown, it may carry a password.
		return "", fmt.Errorf("pgbench %s: %v\n%s", strings.Join(args[:len(args)-1], " "), err, out)
	}
	return string(out), nil
}

// tpsRe finds pgbench's throughput without the time to connect: "tps =
// 1234.5 (without initial connection time)" since PostgreSQL 14, "tps =
// 1234.5 (excluding connections establishing)" before.
var tpsRe = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)

func parseTPS(output string) (float64, error) {
	m := tpsRe.FindStringSubmatch(output)
	if m == nil {
		return 0, fmt.Errorf("no \"tps = …\" excluding connection time in pgbench's output:\n%s", output)
	}
	return strconv.ParseFloat(m[1], 64)
}

// sqliteCeilings measures point selects of a device by id on the same
// SQLite file, in this process through database/sql with a prepared
// statement and a pool as large as the clients: there is no pgbench for
// SQLite, and this is the most a device read could hope for.
func sqliteCeilings(ctx context.Context, dbURL string, fx *fixture, o *options) ([]ceiling, error) {
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(o.clients)
	db.SetMaxIdleConns(o.clients)
	stmt, err := db.PrepareContext(ctx, "SELECT id, kind, status, asset_tag FROM devices WHERE id = ?")
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	w := workload{name: "SQLite point select", tx: 1, op: func(ctx context.Context, _ int, rnd *rand.Rand) error {
		var id int64
		var kind, status, tag string
		return stmt.QueryRowContext(ctx, pick(rnd, fx.DeviceIDs)).Scan(&id, &kind, &status, &tag)
	}}
	s, err := measure(ctx, w, o.clients, o.warmup, o.duration)
	if err != nil {
		return nil, err
	}
	if s.Errors > 0 {
		return nil, errors.New("SQLite point select: " + strings.Join(s.ErrorLog, "; "))
	}
	return []ceiling{{Name: "SQLite point select (in-process)", Kind: "read", TPS: s.OpsPerS,
		Command: fmt.Sprintf("database/sql, prepared SELECT of a device by id, %d goroutines", o.clients)}}, nil
}
