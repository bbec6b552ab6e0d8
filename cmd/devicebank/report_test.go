package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// seedFunding records three laptops, two of them paid by "City grant",
// and a funder linked to that source; it returns the source's id.
func seedFunding(t *testing.T, url string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)})
	mk := func(role accounts.Role) *accounts.Actor {
		u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: string(role) + "@agency.test", Name: string(role), Role: role, Password: "a long test password"})
		if err != nil {
			t.Fatal(err)
		}
		return &accounts.Actor{ID: u.ID, Role: role}
	}
	admin, co, funder := mk(accounts.Admin), mk(accounts.Coordinator), mk(accounts.Funder)
	name := "City grant"
	src, err := svc.Funding.Create(ctx, admin, funding.Input{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Accounts.UpdateUser(ctx, admin, funder.ID, accounts.UserPatch{FundingSourceIDs: &[]int64{src.ID}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		kind, mk, model := inventory.Kind("laptop"), "Acme", "L"
		in := inventory.DeviceInput{Kind: &kind, Make: &mk, Model: &model}
		if i < 2 {
			in.FundingSourceID = optional.Of(src.ID)
		}
		if _, err := svc.Inventory.CreateDevice(ctx, co, in); err != nil {
			t.Fatal(err)
		}
	}
	return src.ID
}

// devicebank report writes the report in each format, to a file or to
// standard output, covering every funding source or the one asked for.
func TestReportCommand(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			source := seedFunding(t, url)
			t.Setenv("DATABASE_URL", url)
			today := time.Now().UTC().Format("2006-01-02")
			from := time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02")
			report := func(args ...string) string {
				t.Helper()
				var out, errOut bytes.Buffer
				args = append([]string{"report", "--from", from, "--to", today}, args...)
				if code := run(context.Background(), args, nil, &out, &errOut); code != 0 {
					t.Fatalf("%v exited %d: %s", args, code, errOut.String())
				}
				return out.String()
			}
			devicesAtEnd := func(out string) float64 {
				t.Helper()
				var r struct {
					Period struct{ From, To string }
					Pool   struct {
						DevicesAtEnd float64 `json:"devices_at_end"`
					}
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				if r.Period.From != from || r.Period.To != today {
					t.Errorf("period %+v", r.Period)
				}
				return r.Pool.DevicesAtEnd
			}
			// JSON is the default; every source unless one is asked for.
			if n := devicesAtEnd(report()); n != 3 {
				t.Errorf("devices at end, all sources: %v", n)
			}
			if n := devicesAtEnd(report("--format", "json", "--funding-source-id", fmt.Sprint(source), "--out", "-")); n != 2 {
				t.Errorf("devices at end, City grant: %v", n)
			}
			csv := report("--format", "csv", "--kind", "laptop")
			if !strings.HasPrefix(csv, "section,measure,breakdown,value\n") || !strings.Contains(csv, "pool,devices_at_end,,3\n") {
				t.Errorf("CSV:\n%s", csv)
			}

			dir := t.TempDir()
			pdfFile, csvFile := filepath.Join(dir, "city.pdf"), filepath.Join(dir, "all.csv")
			if out := report("--format", "pdf", "--funding-source-id", fmt.Sprint(source), "--out", pdfFile); !strings.HasPrefix(out, "Wrote "+pdfFile) {
				t.Errorf("pdf: stdout %q", out)
			}
			pdf, err := os.ReadFile(pdfFile)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(doctest.Text(t, pdf)), " ")
			for _, want := range []string{"Device utilization report", "Funding sources City grant", "Devices at end 2"} {
				if !strings.Contains(text, want) {
					t.Errorf("the PDF lacks %q:\n%s", want, text)
				}
			}
			report("--format", "csv", "--out", csvFile)
			if b, err := os.ReadFile(csvFile); err != nil || !strings.Contains(string(b), "pool,devices_at_end,,3\n") {
				t.Errorf("CSV file: %v\n%s", err, b)
			}
		})
	}
}

// Bad flags are refused, each named, with exit 1 and nothing written; the
// help says the report is not limited to any user's view.
func TestReportCommandRefusesBadFlags(t *testing.T) {
	url := dbtest.FreshURL(t, "sqlite")
	seedFunding(t, url)
	t.Setenv("DATABASE_URL", url)
	out := filepath.Join(t.TempDir(), "report.pdf")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--to", "2026-11-30"}, []string{"--from is required"}},
		{[]string{"--from", "2026-11-01"}, []string{"--to is required"}},
		{[]string{"--from", "2026-11-31", "--to", "2026-11-30"}, []string{"--from "}},
		{[]string{"--from", "2026-11-30", "--to", "2026-11-01"}, []string{"--to must not be before from"}},
		{[]string{"--from", "2020-01-01", "--to", "2026-11-01"}, []string{"--to must be at most three years"}},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-30", "--format", "xlsx", "--kind", "toaster", "--postal-prefix", "<script>",
			"--funding-source-id", "x"}, []string{"--format must be json, csv or pdf", "--kind must be one of", "--postal-prefix must be",
			"--funding-source-id must be a funding source id"}},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-30", "--funding-source-id", "999", "--out", out}, []string{"--funding-source-id no funding source"}},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-30", "--format", "pdf"}, []string{"--out is required with --format pdf"}},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-30", "--out", filepath.Join(t.TempDir(), "missing", "r.json")}, []string{"--out: open"}},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"report"}, tc.args...)
		code := run(context.Background(), args, nil, &stdout, &stderr)
		if code != 1 || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, stdout.String(), stderr.String())
		}
		for _, want := range tc.want {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%v: stderr %q, want it to mention %q", tc.args, stderr.String(), want)
			}
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused report wrote %s (%v)", out, err)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"report", "--help"}, nil, &bytes.Buffer{}, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "as an admin would, not as any user") || !strings.Contains(stderr.String(), "-funding-source-id") {
		t.Errorf("report --help: exit %d\n%s", code, stderr.String())
	}
}

// notify reports queues last month's report for each funder, once; with
// no SMTP server the log records that it went, never its content.
func TestNotifyReportsThroughTheLog(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			seedFunding(t, url)
			t.Setenv("DATABASE_URL", url)
			pass := func(what string) (string, string) { return notifyPass(t, what) }
			if out, _ := pass("reports"); out != "reports: 1 created, 0 sent, 0 failed (0 to retry, 0 cancelled, 0 deferred)" {
				t.Fatalf("first run: %q", out)
			}
			if out, _ := pass("reports"); !strings.HasPrefix(out, "reports: 0 created") {
				t.Fatalf("second run: %q", out)
			}
			out, logs := pass("dispatch")
			if !strings.HasPrefix(out, "dispatch: 0 created, 1 sent") {
				t.Fatalf("dispatch: %q\n%s", out, logs)
			}
			first, last := notifications.ReportMonth(time.Now(), time.UTC)
			want := fmt.Sprintf(`msg="funder report" notification_id=1 kind=funder_report channel=email attachment=utilization-%s-to-%s.pdf attachment_bytes=`, first, last)
			if !strings.Contains(logs, want) {
				t.Errorf("the log does not say the report went (%s):\n%s", want, logs)
			}
			for _, secret := range []string{"%PDF", "City grant", "funder@agency.test", "is attached"} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log wrote %q:\n%s", secret, logs)
				}
			}
		})
	}
}
