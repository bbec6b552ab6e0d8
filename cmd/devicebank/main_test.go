package main

import (
	"bufio"
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
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/app"
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
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
			srv.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "DEVICEBANK_ADMIN_EMAIL=it@agency.test")
			srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
			stdout, err := srv.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			srv.Stderr = &logs
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cancel()
				srv.Wait()
				// Client contact details must never reach the logs.
				for _, secret := range []string{"+1 555 222 3333", "rosa@example.org", "Rosa", "Alvarez"} {
					if strings.Contains(logs.String(), secret) {
						t.Errorf("the service logged client detail %q:\n%s", secret, logs.String())
					}
				}
			}()

			// The first start creates an admin and prints a one-time password.
			var addr, adminEmail, adminPassword string
			lines := bufio.NewScanner(stdout)
			deadline := time.After(30 * time.Second)
			got := make(chan string)
			go func() {
				for lines.Scan() {
					got <- lines.Text()
				}
				close(got)
			}()
			for addr == "" {
				select {
				case line, ok := <-got:
					if !ok {
						t.Fatalf("serve exited early:\n%s", logs.String())
					}
					if m := regexp.MustCompile(`email:\s+(\S+)`).FindStringSubmatch(line); m != nil {
						adminEmail = m[1]
					}
					if m := regexp.MustCompile(`one-time password:\s+(\S+)`).FindStringSubmatch(line); m != nil {
						adminPassword = m[1]
					}
					if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(line); m != nil {
						addr = m[1]
					}
				case <-deadline:
					t.Fatalf("serve did not start:\n%s", logs.String())
				}
			}
			go func() {
				for range got {
				}
			}()
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
			worker := lastLine(cli(t, bin, dbURL, "", "tokens", "create", "--email", "sam@agency.test"))
			if !strings.HasPrefix(coordinator, "dbk_") || !strings.HasPrefix(worker, "dbk_") {
				t.Fatalf("tokens create printed %q and %q on the last line", coordinator, worker)
			}

			device := call(coordinator, "POST", "/api/v1/devices", map[string]any{"kind": "laptop", "make": "Lenovo",
				"model": "100e", "serial": "PF-123", "purchase_cost_cents": 21900, "funding_source": "City grant",
				"accessories": []map[string]any{{"name": "charger", "replacement_cost_cents": 2500}}}, 201)
			client := call(worker, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0042", "first_name": "Rosa",
				"last_name": "Alvarez", "phone": "+1 555 222 3333", "email": "rosa@example.org", "preferred_language": "es",
				"preferred_channel": "sms", "household_size": 4, "postal_code": "60623"}, 201)
			due := time.Now().AddDate(0, 1, 0).Format("2006-01-02")
			loan := call(coordinator, "POST", "/api/v1/loans", map[string]any{"client_id": client["id"], "device_id": device["id"], "due_on": due}, 201)
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
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"users", "add"}, {"users", "list"}, {"tokens", "create"}, {"tokens", "revoke"},
		{"notify", "sweep"}, {"notify", "dispatch"}, {"notify", "digest"}} {
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
		strings.NewReader("short\n"), &out, &errOut)
	msg := errOut.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"--email", "--name", "--role", "--password"} {
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
	acc := app.New(db, app.Options{}).Accounts
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
