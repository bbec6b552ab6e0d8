package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/reports"
)

const reportSummary = `Write the utilization report of a period (GET /api/v1/reports/utilization) to a file
or to standard output, as JSON, CSV or PDF.

It runs with the machine's authority, as an admin would, not as any user: the
report covers every funding source unless --funding-source-id names one (whoever
may run this command can read the database anyway). Before handing the file to a
funder, name their source with --funding-source-id. Small counts of people are
suppressed as in every report. Days are the agency's (--timezone).`

// report writes the utilization report as JSON, CSV or PDF, to --out or
// standard output.
func report(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("report", reportSummary, stderr)
	cfg.register(fs)
	from := fs.String("from", "", "the first day of the period, YYYY-MM-DD (required)")
	to := fs.String("to", "", "the last day of the period, YYYY-MM-DD, at most three years after --from (required)")
	format := fs.String("format", "json", "json, csv or pdf")
	out := fs.String("out", "", "the file to write, replaced if it exists; - (or empty, for json and csv): standard output")
	source := fs.String("funding-source-id", "", "count only the devices and data plans of this funding source")
	kind := fs.String("kind", "", "count only devices of this kind: phone, tablet, laptop, hotspot or other")
	postal := fs.String("postal-prefix", "", "count only clients whose postal code starts with this")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := reports.ParseParams(*from, *to, *source, *kind, *postal)
	var bad apperr.Fields
	switch {
	case *format != "json" && *format != "csv" && *format != "pdf":
		bad.Add("format", "must be json, csv or pdf")
	case *format == "pdf" && *out == "":
		// A PDF on a terminal is noise; "-" says standard output is meant.
		bad.Add("out", "is required with --format pdf: the file to write the PDF to, or - for standard output")
	}
	if err = apperr.Join(err, bad.Err()); err != nil {
		return describe(err)
	}
	loc, err := cfg.location()
	if err != nil {
		return err
	}
	opts := app.Options{Location: loc}
	if err := cfg.agency(&opts); err != nil {
		return err
	}
	return withServices(ctx, &cfg, opts, func(svc *app.Services) error {
		system := &accounts.Actor{Role: accounts.Admin}
		r, err := svc.Reports.Utilization(ctx, system, p)
		if err != nil {
			return err
		}
		var b []byte
		switch *format {
		case "json":
			if b, err = json.MarshalIndent(r, "", "  "); err == nil {
				b = append(b, '\n')
			}
		case "csv":
			var buf bytes.Buffer
			err = r.CSV(&buf)
			b = buf.Bytes()
		case "pdf":
			b, err = r.PDF()
		}
		if err != nil {
			return err
		}
		// The whole report is made before the file is touched: a failure
		// leaves no half-written file.
		if *out == "" || *out == "-" {
			_, err = stdout.Write(b)
			return err
		}
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(stdout, "Wrote %s (%d bytes): the report of %s to %s.\n", *out, len(b), p.From, p.To)
		return nil
	})
}
