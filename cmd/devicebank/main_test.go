package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// buildBinary compiles devicebank once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "devicebank")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cli runs the binary with the given database and stdin, and returns stdout.
func cli(t *testing.T, bin, dbURL, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("devicebank %v: %v\nstdout: %s\nstderr: %s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestWholeBinary boots the real binary on a free port against a new
// database and drives a whole loan over HTTP, as a coordinator and a social
// worker would, with users and tokens made by the CLI.
func TestWholeBinary(t *testing.T) {
	bin := buildBinary(t)
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			dbURL := dbtest.FreshURL(t, engine)
			srv := startServing(t, bin, "DATABASE_URL="+dbURL, "DEVICEBANK_ADMIN_EMAIL=it@agency.test")
			defer func() {
				srv.stop(os.Interrupt)
				// Client contact details must never reach the logs.
				for _, secret := range []string{"+1 312 555 0123", "+13125550123", "5550123", "rosa@example.org", "Rosa", "Alvarez"} {
					if strings.Contains(srv.logs.String(), secret) {
						t.Errorf("the service logged client detail %q:\n%s", secret, srv.logs.String())
					}
				}
			}()

			// The first start creates an admin and prints a one-time password.
			addr, adminEmail, adminPassword := srv.addr, srv.adminEmail, srv.adminPassword
			if adminEmail != "it@agency.test" || len(adminPassword) < 12 {
				t.Fatalf("first admin not announced: email %q password %q", adminEmail, adminPassword)
			}
			base := "http://" + addr

			call := func(token, method, path string, body any, want int) map[string]any {
				t.Helper()
				var rd io.Reader
				if body != nil {
					b, _ := json.Marshal(body)
					rd = bytes.NewReader(b)
				}
				req, _ := http.NewRequest(method, base+path, rd)
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer res.Body.Close()
				var out map[string]any
				json.NewDecoder(res.Body).Decode(&out)
				if res.StatusCode != want {
					t.Fatalf("%s %s: status %d, want %d: %v", method, path, res.StatusCode, want, out)
				}
				return out
			}

			health := call("", "GET", "/healthz", nil, 200)
			if health["database"] != string(engine) {
				t.Fatalf("healthz names database %v, want %s", health["database"], engine)
			}
			// The one-time password works only together with a new one.
			call("", "POST", "/api/v1/auth/token", map[string]any{"email": adminEmail, "password": adminPassword}, 422)
			admin := call("", "POST", "/api/v1/auth/token", map[string]any{"email": adminEmail, "password": adminPassword,
				"new_password": "a much better passphrase"}, 201)["token"].(string)
			call("", "POST", "/api/v1/auth/token", map[string]any{"email": adminEmail, "password": adminPassword}, 401)
			call(admin, "GET", "/api/v1/users", nil, 200)

			// Staff and tokens from the CLI, as an IT volunteer would make them.
			cli(t, bin, dbURL, "coordinator passphrase\n", "users", "add", "--email", "cora@agency.test", "--name", "Cora Ordoñez", "--role", "coordinator", "--password-stdin")
			cli(t, bin, dbURL, "social worker passphrase\n", "users", "add", "--email", "sam@agency.test", "--name", "Sam Worker", "--role", "social_worker", "--password-stdin")
			coordinator := lastLine(cli(t, bin, dbURL, "", "tokens", "create", "--email", "cora@agency.test", "--name", "front desk"))
			workerOut := cli(t, bin, dbURL, "", "tokens", "create", "--email", "sam@agency.test")
			worker := lastLine(workerOut)
			if !strings.HasPrefix(coordinator, "dbk_") || !strings.HasPrefix(worker, "dbk_") {
				t.Fatalf("tokens create printed %q and %q on the last line", coordinator, worker)
			}

			// The admin sets up the funding source the coordinator names.
			grant := call(admin, "POST", "/api/v1/funding-sources", map[string]any{"name": "City grant"}, 201)
			device := call(coordinator, "POST", "/api/v1/devices", map[string]any{"kind": "laptop", "make": "Lenovo",
				"model": "100e", "serial": "PF-123", "purchase_cost_cents": 21900, "funding_source_id": grant["id"],
				"accessories": []map[string]any{{"name": "charger", "replacement_cost_cents": 2500}}}, 201)
			client := call(worker, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0042", "first_name": "Rosa",
				"last_name": "Alvarez", "phone": "+1 312 555 0123", "email": "rosa@example.org", "preferred_language": "es",
				"preferred_channel": "sms", "household_size": 4, "postal_code": "60623"}, 201)
			// The worker asks for a laptop for Rosa, which refers her to the
			// coordinator; with no rules to decide it, the coordinator
			// approves it, the free laptop is held for her, and lent.
			request := call(worker, "POST", "/api/v1/requests", map[string]any{"client_id": client["id"], "device_kind": "laptop"}, 201)
			requestPath := fmt.Sprintf("/api/v1/requests/%v", request["id"])
			if got := call(coordinator, "POST", requestPath+"/approve", map[string]any{"justification": "income verified by phone"}, 200); got["status"] != "ready" || got["reserved_device_id"] != device["id"] {
				t.Fatalf("approved request: %v", got)
			}
			due := time.Now().AddDate(0, 1, 0).Format("2006-01-02")
			loan := call(coordinator, "POST", "/api/v1/loans", map[string]any{"client_id": client["id"], "device_id": device["id"], "due_on": due,
				"request_id": request["id"]}, 201)
			if got := call(worker, "GET", requestPath, nil, 200); got["status"] != "fulfilled" {
				t.Fatalf("request after the loan: %v", got)
			}
			loanPath := fmt.Sprintf("/api/v1/loans/%v", loan["id"])
			if got := call(worker, "GET", loanPath, nil, 200); got["status"] != "open" {
				t.Fatalf("the worker sees loan %v", got)
			}
			call(worker, "POST", loanPath+"/return", map[string]any{"condition": "good"}, 403)
			call(coordinator, "POST", loanPath+"/return", map[string]any{"condition": "good", "notes": "all parts back"}, 200)
			call(coordinator, "POST", fmt.Sprintf("/api/v1/devices/%v/inspection", device["id"]), map[string]any{"wiped": true, "outcome": "ready"}, 200)
			if got := call(coordinator, "GET", fmt.Sprintf("/api/v1/devices/%v", device["id"]), nil, 200); got["status"] != "available" {
				t.Fatalf("device after the loan: %v", got)
			}
			hist := call(worker, "GET", fmt.Sprintf("/api/v1/clients/%v/history", client["id"]), nil, 200)
			if hist["total"].(float64) < 3 {
				t.Fatalf("client history: %v", hist)
			}

			// A token revoked by the CLI, a process of its own, stops
			// working in the server: at once on SQLite; on PostgreSQL, where
			// the server keeps token lookups for --token-cache-ttl (10 s by
			// default), as soon as the database notifies it.
			if engine == storage.Postgres {
				srv.logs.waitFor(t, "token cache in use")
			}
			historyPath := fmt.Sprintf("/api/v1/clients/%v/history", client["id"])
			call(worker, "GET", historyPath, nil, 200)
			call(worker, "GET", historyPath, nil, 200)
			workerID := regexp.MustCompile(`Token (\d+) \(`).FindStringSubmatch(workerOut)
			if workerID == nil {
				t.Fatalf("tokens create printed %q", workerOut)
			}
			cli(t, bin, dbURL, "", "tokens", "revoke", "--id", workerID[1])
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				req, _ := http.NewRequest("GET", base+historyPath, nil)
				req.Header.Set("Authorization", "Bearer "+worker)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode == 401 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("2 s after the CLI revoked it, the token still gets %d", res.StatusCode)
				}
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			t.Setenv("DATABASE_URL", url)
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"migrate"}, nil, &out, &errOut); code != 0 {
				t.Fatalf("migrate exited %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), "applied 0001_foundation") {
				t.Fatalf("first migrate printed %q", out.String())
			}
			out.Reset()
			if code := run(context.Background(), []string{"migrate"}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "up to date") {
				t.Fatalf("second migrate exited %d and printed %q", code, out.String())
			}
		})
	}
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"users", "add"}, {"users", "list"}, {"users", "reset-password"}, {"tokens", "create"}, {"tokens", "revoke"},
		{"notify", "sweep"}, {"notify", "dispatch"}, {"notify", "digest"}, {"notify", "reports"}, {"report"}, {"backup"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(cmd, "--help"), nil, &out, &errOut)
		help := errOut.String()
		if code != 0 || !strings.Contains(help, "Usage: devicebank "+strings.Join(cmd, " ")) ||
			!strings.Contains(help, "DATABASE_URL") || !strings.Contains(help, "sqlite:devicebank.db") {
			t.Errorf("%v --help: exit %d, output:\n%s", cmd, code, help)
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, nil, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "tokens create") {
		t.Errorf("help: exit %d\n%s", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}
	// A group of commands lists its commands.
	for group, want := range map[string]string{"users": "users list", "tokens": "tokens revoke", "notify": "notify digest"} {
		for _, flag := range []string{"--help", "-h"} {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{group, flag}, nil, &out, &errOut); code != 0 ||
				!strings.Contains(out.String(), "Usage: devicebank "+group+" COMMAND") || !strings.Contains(out.String(), want) {
				t.Errorf("%s %s: exit %d, stdout:\n%s\nstderr:\n%s", group, flag, code, out.String(), errOut.String())
			}
		}
		var errOut bytes.Buffer
		if code := run(context.Background(), []string{group}, nil, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s alone: exit %d, stderr:\n%s", group, code, errOut.String())
		}
	}
}

// Secrets from the environment or a _FILE are used but never printed: not
// by --help, not by the usage a mistyped flag prints.
func TestUsageHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "sms-token")
	if err := os.WriteFile(token, []byte("sms-token-5ecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", "postgres://devicebank:db-pa55word@db.internal:5432/devicebank")
	t.Setenv("DEVICEBANK_SMTP_PASSWORD", "smtp-pa55word")
	t.Setenv("DEVICEBANK_SMS_AUTH_TOKEN", "")
	t.Setenv("DEVICEBANK_SMS_AUTH_TOKEN_FILE", token)
	for _, args := range [][]string{{"serve", "--help"}, {"notify", "dispatch", "--help"}, {"migrate", "--databse-url", "x"},
		{"users", "list", "-h"}, {"notify", "sweep", "--smtp-pasword", "x"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, nil, &out, &errOut)
		all := out.String() + errOut.String()
		for _, secret := range []string{"db-pa55word", "smtp-pa55word", "sms-token-5ecret", "db.internal"} {
			if strings.Contains(all, secret) {
				t.Errorf("%v printed %q:\n%s", args, secret, all)
			}
		}
		if !strings.Contains(all, `-database-url string`) || !strings.Contains(all, `(default "(set)")`) || code == 1 {
			t.Errorf("%v: exit %d, no usage saying (set):\n%s", args, code, all)
		}
	}
	// The hidden values are still the ones used.
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"notify", "dispatch", "--sms-account-sid", "AC1", "--sms-from", "+13125550100",
		"--agency-phone", "312-555-0199", "--database-url", "bogus:"}, nil, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "database URL must start with") {
		t.Fatalf("with the SMS token read from its file, dispatch should get as far as the database: exit %d, %s", code, errOut.String())
	}
}

func TestUsersAddRefusesBadInput(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"users", "add", "--email", "not-an-email", "--name", "", "--role", "boss", "--password-stdin"},
		strings.NewReader("aaaaaaaaaaaa\n"), &out, &errOut)
	msg := errOut.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"--email", "--name", "--role", "--password must not be one character repeated"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s: %s", want, msg)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"users", "list"}, nil, &out, &errOut); code != 0 || strings.TrimSpace(out.String()) != "" {
		t.Fatalf("a refused users add left users behind: %q", out.String())
	}
	// Without --password-stdin a one-time password is generated and shown.
	out.Reset()
	if code := run(context.Background(), []string{"users", "add", "--email", "fay@agency.test", "--name", "Fay Funder", "--role", "funder"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("users add: %s", errOut.String())
	}
	if !regexp.MustCompile(`One-time password: \S{12,}`).MatchString(out.String()) {
		t.Fatalf("no one-time password printed: %q", out.String())
	}
}

func TestTokensCreateAndRevoke(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"users", "add", "--email", "cora@agency.test", "--name", "Cora", "--role", "coordinator", "--password-stdin"},
		strings.NewReader("a long enough passphrase\n"), &out, &errOut); code != 0 {
		t.Fatalf("users add: %s", errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"tokens", "create", "--email", "CORA@agency.test", "--name", "desk"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("tokens create: %s", errOut.String())
	}
	token := lastLine(out.String())
	m := regexp.MustCompile(`Token (\d+) \(desk\)`).FindStringSubmatch(out.String())
	if m == nil || !strings.HasPrefix(token, "dbk_") {
		t.Fatalf("tokens create printed %q", out.String())
	}

	db := dbtest.OpenURL(t, os.Getenv("DATABASE_URL"))
	acc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)}).Accounts
	if _, err := acc.Authenticate(ctx, token); err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}
	if code := run(ctx, []string{"tokens", "revoke", "--id", m[1]}, nil, io.Discard, &errOut); code != 0 {
		t.Fatalf("tokens revoke: %s", errOut.String())
	}
	if _, err := acc.Authenticate(ctx, token); err == nil {
		t.Fatal("a revoked token still works")
	}
	errOut.Reset()
	if code := run(ctx, []string{"tokens", "revoke", "--id", "999"}, nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "not found") {
		t.Fatalf("revoking an unknown token: exit %d, %q", code, errOut.String())
	}
	if code := run(ctx, []string{"tokens", "create", "--email", "nobody@agency.test"}, nil, io.Discard, &errOut); code != 1 {
		t.Fatalf("a token for an unknown user: exit %d", code)
	}
}

// A secret file that cannot be read stops the command; it must not fall
// back to the default database and start on an empty one.
func TestUnreadableSecretFileStops(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DATABASE_URL_FILE", filepath.Join(dir, "missing"))
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate"}, nil, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "DATABASE_URL_FILE") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "devicebank.db")); err == nil {
		t.Fatal("a default SQLite database was created")
	}
	// A readable one is used.
	url := dbtest.FreshURL(t, "sqlite")
	os.WriteFile(filepath.Join(dir, "url"), []byte(url+"\n"), 0o600)
	t.Setenv("DATABASE_URL_FILE", filepath.Join(dir, "url"))
	if code := run(context.Background(), []string{"migrate"}, nil, io.Discard, &errOut); code != 0 {
		t.Fatalf("migrate with a readable secret file: %s", errOut.String())
	}
}

// serveUntilListening runs serve in this process with args until it
// listens, then stops it as SIGTERM would, and returns its exit code and
// what it wrote to standard error.
func serveUntilListening(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return startServe(t, args...)()
}

// Left at the UTC default, the time zone is warned about at start: a
// session at 17:30 in Chicago would be announced for 23:30.
func TestServeWarnsWhenNoTimeZoneIsSet(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	t.Setenv("DEVICEBANK_TIMEZONE", "")
	code, logs := serveUntilListening(t)
	if code != 0 || !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "no time zone is set") ||
		!strings.Contains(logs, "--timezone") {
		t.Errorf("serve without a time zone: exit %d, want 0 and a warning naming --timezone:\n%s", code, logs)
	}
	for _, set := range [][]string{{"--timezone", "America/Chicago"}, {"--timezone", "UTC"}} {
		code, logs = serveUntilListening(t, set...)
		if code != 0 || strings.Contains(logs, "time zone") {
			t.Errorf("serve %v: exit %d, want 0 and no time zone warning:\n%s", set, code, logs)
		}
	}
	t.Setenv("DEVICEBANK_TIMEZONE", "America/Chicago")
	if code, logs = serveUntilListening(t); code != 0 || strings.Contains(logs, "time zone") {
		t.Errorf("serve with DEVICEBANK_TIMEZONE: exit %d, want 0 and no time zone warning:\n%s", code, logs)
	}
}

// Client numbers stored before numbers were kept in E.164 are converted by
// migrate (and serve), reading those without a country code in the
// default country; each change is in the client's history; a number that
// is not one in use is left as it was and named by client id; a second run
// changes nothing.
func TestMigrateConvertsStoredPhoneNumbers(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			url := dbtest.FreshURL(t, engine)
			t.Setenv("DATABASE_URL", url)
			t.Setenv("DEVICEBANK_DEFAULT_COUNTRY", "")
			migrate := func(args ...string) string {
				t.Helper()
				var out, errOut bytes.Buffer
				if code := run(ctx, append([]string{"migrate"}, args...), nil, &out, &errOut); code != 0 {
					t.Fatalf("migrate %v exited %d: %s", args, code, errOut.String())
				}
				return out.String()
			}
			migrate()
			db := dbtest.OpenURL(t, url)
			svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)})
			u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "sam@agency.test", Name: "Sam", Role: accounts.SocialWorker,
				Password: "a long test password"})
			if err != nil {
				t.Fatal(err)
			}
			sw := &accounts.Actor{ID: u.ID, Role: accounts.SocialWorker}
			// As stored before: whatever was typed, digits and separators.
			stored := map[string]string{"+1 (312) 555-0100": "+13125550100", "3125550101": "+13125550101",
				"1-312-555-0102": "+13125550102", "+44 20 7946 0958": "+442079460958", "+13125550103": "+13125550103",
				"555-0100": "555-0100", "020 7946 0958": "020 7946 0958", "": ""}
			ids := map[string]int64{}
			for written := range stored {
				none, size := clients.None, 1
				c, err := svc.Clients.Create(ctx, sw, clients.Input{CaseNumber: str("P-" + written), FirstName: str("Ana"), LastName: str("Lopez"),
					PreferredChannel: &none, HouseholdSize: &size})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.NewUpdate().Table("clients").Set("phone = ?", written).Where("id = ?", c.ID).Exec(ctx); err != nil {
					t.Fatal(err)
				}
				ids[written] = c.ID
			}
			phoneOf := func(id int64) string {
				var p string
				if err := db.NewSelect().Table("clients").Column("phone").Where("id = ?", id).Scan(ctx, &p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			events := func() int {
				n, err := db.NewSelect().Table("audit_events").Where("action = 'client.updated' AND changes LIKE '%phone_e164%'").Count(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return int(n)
			}

			out := migrate()
			left := []int64{ids["555-0100"], ids["020 7946 0958"]}
			slices.Sort(left)
			wantLeft := fmt.Sprintf("client phone numbers left as they were, not being numbers in use: 2 (clients %d, %d)", left[0], left[1])
			if !strings.Contains(out, "client phone numbers converted to E.164: 4") || !strings.Contains(out, wantLeft) {
				t.Errorf("migrate printed %q, want 4 converted and %q", out, wantLeft)
			}
			for written, want := range stored {
				if got := phoneOf(ids[written]); got != want {
					t.Errorf("%q became %q, want %q", written, got, want)
				}
			}
			history, _, err := audit.List(ctx, db, audit.Filter{ClientID: ids["3125550101"]}, storage.Page{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			last := history[len(history)-1]
			if last.Action != "client.updated" || last.ActorID != nil ||
				string(last.Changes) != `{"fields":["phone"],"source":"phone_e164"}` {
				t.Errorf("the client's history ends with %s %s", last.Action, last.Changes)
			}
			if n := events(); n != 4 {
				t.Errorf("%d conversions recorded, want 4", n)
			}

			// Again: nothing to convert, the same two named.
			if out := migrate(); !strings.Contains(out, "The database is up to date.") || !strings.Contains(out, wantLeft) || events() != 4 {
				t.Errorf("a second migrate printed %q with %d conversions recorded; want nothing converted", out, events())
			}
			// In another country, its national numbers convert.
			if out := migrate("--default-country", "gb"); !strings.Contains(out, "client phone numbers converted to E.164: 1") ||
				phoneOf(ids["020 7946 0958"]) != "+442079460958" {
				t.Errorf("migrate --default-country gb printed %q; the GB number is %q", out, phoneOf(ids["020 7946 0958"]))
			}
			var errOut bytes.Buffer
			if code := run(ctx, []string{"migrate", "--default-country", "XX"}, nil, io.Discard, &errOut); code != 1 ||
				!strings.Contains(errOut.String(), "--default-country") {
				t.Errorf("migrate --default-country XX: exit %d, %q", code, errOut.String())
			}
		})
	}
}

func str(s string) *string { return &s }

// An admin without the API resets a password from the command line: a new
// one-time password is printed, and every token of the user stops working.
func TestUsersResetPassword(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			t.Setenv("DATABASE_URL", dbtest.FreshURL(t, engine))
			ctx := context.Background()
			var out, errOut bytes.Buffer
			if code := run(ctx, []string{"users", "add", "--email", "cora@agency.test", "--name", "Cora", "--role", "coordinator", "--password-stdin"},
				strings.NewReader("a long enough passphrase\n"), &out, &errOut); code != 0 {
				t.Fatalf("users add: %s", errOut.String())
			}
			out.Reset()
			if code := run(ctx, []string{"tokens", "create", "--email", "cora@agency.test"}, nil, &out, &errOut); code != 0 {
				t.Fatalf("tokens create: %s", errOut.String())
			}
			token := lastLine(out.String())

			out.Reset()
			if code := run(ctx, []string{"users", "reset-password", "--email", "CORA@agency.test"}, nil, &out, &errOut); code != 0 {
				t.Fatalf("users reset-password: %s", errOut.String())
			}
			m := regexp.MustCompile(`One-time password: (\S{12,})`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("no one-time password printed: %q", out.String())
			}
			db := dbtest.OpenURL(t, os.Getenv("DATABASE_URL"))
			acc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)}).Accounts
			if _, err := acc.Authenticate(ctx, token); err == nil {
				t.Fatal("a token made before the reset still works")
			}
			if _, _, err := acc.SignIn(ctx, accounts.SignIn{Email: "cora@agency.test", Password: "a long enough passphrase"}, ""); !apperr.Is(err, apperr.Unauthorized) {
				t.Fatalf("the old password after a reset: %v", err)
			}
			if _, _, err := acc.SignIn(ctx, accounts.SignIn{Email: "cora@agency.test", Password: m[1]}, ""); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("the one-time password without a new one: %v", err)
			}
			if _, _, err := acc.SignIn(ctx, accounts.SignIn{Email: "cora@agency.test", Password: m[1], NewPassword: "cora's very own words"}, ""); err != nil {
				t.Fatalf("the one-time password with a new one: %v", err)
			}

			errOut.Reset()
			if code := run(ctx, []string{"users", "reset-password", "--email", "nobody@agency.test"}, nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "not found") {
				t.Fatalf("resetting an unknown user: exit %d, %q", code, errOut.String())
			}
			if code := run(ctx, []string{"users", "reset-password"}, nil, io.Discard, io.Discard); code != 2 {
				t.Fatalf("users reset-password without --email: exit %d, want 2", code)
			}
		})
	}
}

// Token lifetimes come from flags or the environment; a token made on the
// command line says until when it works, and bad values stop the command.
func TestTokenLifetimeSettings(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"users", "add", "--email", "cora@agency.test", "--name", "Cora", "--role", "coordinator", "--password-stdin"},
		strings.NewReader("a long enough passphrase\n"), &out, &errOut); code != 0 {
		t.Fatalf("users add: %s", errOut.String())
	}
	create := func(args ...string) (string, int, string) {
		out.Reset()
		errOut.Reset()
		code := run(ctx, append([]string{"tokens", "create", "--email", "cora@agency.test"}, args...), nil, &out, &errOut)
		return out.String(), code, errOut.String()
	}
	printedExpiry := func(stdout string) time.Time {
		t.Helper()
		m := regexp.MustCompile(`works until (\S+) if used at least every (\S+):`).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("tokens create printed %q", stdout)
		}
		at, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	stdout, _, _ := create()
	if d := time.Until(printedExpiry(stdout)); d < 29*24*time.Hour || d > 30*24*time.Hour || !strings.Contains(stdout, "every 72h0m0s") {
		t.Fatalf("by default a token works 30 days, if used every 72h: %q", stdout)
	}
	stdout, _, _ = create("--token-lifetime", "12h", "--token-idle-timeout", "2d")
	if d := time.Until(printedExpiry(stdout)); d < 11*time.Hour || d > 12*time.Hour || !strings.Contains(stdout, "every 48h0m0s") {
		t.Fatalf("with --token-lifetime 12h --token-idle-timeout 2d: %q", stdout)
	}
	t.Setenv("DEVICEBANK_TOKEN_LIFETIME", "7d")
	stdout, _, _ = create()
	if d := time.Until(printedExpiry(stdout)); d < 6*24*time.Hour || d > 7*24*time.Hour {
		t.Fatalf("with DEVICEBANK_TOKEN_LIFETIME=7d: %q", stdout)
	}
	for _, bad := range [][]string{{"--token-lifetime", "forever"}, {"--token-lifetime", "0"}, {"--token-idle-timeout", "1m"}, {"--token-idle-timeout", "-3d"}} {
		if _, code, msg := create(bad...); code != 1 || !strings.Contains(msg, bad[0]) {
			t.Errorf("tokens create %v: exit %d, %q", bad, code, msg)
		}
		errOut.Reset()
		if code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, bad...), nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), bad[0]) {
			t.Errorf("serve %v: exit %d, %q", bad, code, errOut.String())
		}
	}
	for _, bad := range []string{"-1s", "2m", "soon", "10"} {
		errOut.Reset()
		if code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--token-cache-ttl", bad}, nil, io.Discard, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), "--token-cache-ttl must be a duration from 0 (off) to 1m") {
			t.Errorf("serve --token-cache-ttl %s: exit %d, %q", bad, code, errOut.String())
		}
	}
}

// The pool's settings are read on every command, from flags or the
// environment; a bad one stops the command before the database is opened,
// so a mistyped setting does not even create the SQLite file.
func TestPoolSettingsAreChecked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pool.db")
	t.Setenv("DATABASE_URL", "sqlite:"+path)
	for _, bad := range [][]string{
		{"--db-max-open-conns", "0"}, {"--db-max-open-conns", "lots"}, {"--db-max-idle-conns", "-2"},
		{"--db-max-open-conns", "3", "--db-max-idle-conns", "4"}, {"--db-conn-max-lifetime", "1 hour"}, {"--db-conn-max-idle-time", "-5m"},
	} {
		for _, cmd := range [][]string{{"migrate"}, {"serve", "--addr", "127.0.0.1:0"}} {
			var errOut bytes.Buffer
			if code := run(ctx, append(cmd, bad...), nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), bad[len(bad)-2]) {
				t.Errorf("%v %v: exit %d, %q", cmd, bad, code, errOut.String())
			}
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a bad pool setting created the database: %v", err)
	}
	t.Setenv("DEVICEBANK_DB_MAX_OPEN_CONNS", "none")
	var errOut bytes.Buffer
	if code := run(ctx, []string{"migrate"}, nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "--db-max-open-conns") {
		t.Errorf("DEVICEBANK_DB_MAX_OPEN_CONNS=none: exit %d, %q", code, errOut.String())
	}
	t.Setenv("DEVICEBANK_DB_MAX_OPEN_CONNS", "3")
	if code := run(ctx, []string{"migrate"}, nil, io.Discard, &errOut); code != 0 {
		t.Errorf("DEVICEBANK_DB_MAX_OPEN_CONNS=3: exit %d, %q", code, errOut.String())
	}
}
