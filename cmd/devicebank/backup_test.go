package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// A backup taken while loans are being written holds every loan committed
// before it began, passes SQLite's integrity check, is readable by its
// owner only, and, copied back in place of the database, is the database:
// the service starts on it and reads those loans.
func TestBackupUnderWriteLoadRestores(t *testing.T) {
	ctx := context.Background()
	url := dbtest.FreshURL(t, storage.SQLite)
	dbPath := sqlitePath(url)
	t.Setenv("DATABASE_URL", url)
	var errOut bytes.Buffer
	if code := run(ctx, []string{"migrate"}, nil, io.Discard, &errOut); code != 0 {
		t.Fatalf("migrate: %s", errOut.String())
	}

	// The running service: its own handle on the file, writing loans from
	// several goroutines, each lending a new device to a new client.
	live, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	svc := app.New(live, app.Options{Keys: dbtest.Keys(t, live)})
	u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "ada@agency.test", Name: "Ada", Role: accounts.Admin, Password: "a long test password"})
	if err != nil {
		t.Fatal(err)
	}
	admin := &accounts.Actor{ID: u.ID, Role: accounts.Admin}
	worker, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "sam@agency.test", Name: "Sam", Role: accounts.SocialWorker, Password: "a long test password"})
	if err != nil {
		t.Fatal(err)
	}
	lend := func(g, i int) (int64, error) {
		s := func(v string) *string { return &v }
		none, size, kind := clients.None, 1, inventory.Kind("laptop")
		c, err := svc.Clients.Create(ctx, admin, clients.Input{CaseNumber: s(fmt.Sprintf("B-%d-%d", g, i)), FirstName: s("Rosa"), LastName: s("Alvarez"),
			PreferredChannel: &none, HouseholdSize: &size, CaseworkerID: &worker.ID})
		if err != nil {
			return 0, err
		}
		d, err := svc.Inventory.CreateDevice(ctx, admin, inventory.DeviceInput{Kind: &kind, Make: s("Acme"), Model: s("L")})
		if err != nil {
			return 0, err
		}
		l, err := svc.Inventory.IssueLoan(ctx, admin, inventory.IssueInput{ClientID: c.ID, DeviceID: d.ID,
			DueOn: calendar.Of(time.Now()).AddDays(30), WalkInJustification: "walked in at the front desk"})
		if err != nil {
			return 0, err
		}
		return l.ID, nil
	}
	var (
		mu        sync.Mutex
		committed []int64
		writers   sync.WaitGroup
		stop      = make(chan struct{})
		enough    = make(chan struct{})
		failures  = make(chan error, 4)
	)
	for g := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id, err := lend(g, i)
				if err != nil {
					failures <- err
					return
				}
				mu.Lock()
				committed = append(committed, id)
				if len(committed) == 20 {
					close(enough)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case err := <-failures:
		t.Fatalf("writing loans: %v", err)
	}
	mu.Lock()
	before := append([]int64(nil), committed...)
	mu.Unlock()

	out := filepath.Join(t.TempDir(), "devicebank-backup.db")
	var stdout bytes.Buffer
	code := run(ctx, []string{"backup", "--out", out}, nil, &stdout, &errOut)
	close(stop)
	writers.Wait()
	close(failures)
	for err := range failures {
		t.Fatalf("writing loans during the backup: %v", err)
	}
	if code != 0 || !strings.Contains(stdout.String(), "Backed up the SQLite database to "+out) {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, stdout.String(), errOut.String())
	}
	mu.Lock()
	t.Logf("%d loans committed before the backup began, %d by the end of the writing", len(before), len(committed))
	mu.Unlock()
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup's mode: %v %v, want 0600", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp")); len(left) > 0 {
		t.Errorf("temporary files left beside the backup: %v", left)
	}

	copyDB, err := storage.Open(ctx, "sqlite:"+out)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := copyDB.NewRaw("PRAGMA integrity_check").Scan(ctx, &check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the backup: %q %v", check, err)
	}
	loansIn := func(db *storage.DB) map[int64]bool {
		var ids []int64
		if err := db.NewSelect().Table("loans").Column("id").Scan(ctx, &ids); err != nil {
			t.Fatal(err)
		}
		set := map[int64]bool{}
		for _, id := range ids {
			set[id] = true
		}
		return set
	}
	inBackup := loansIn(copyDB)
	copyDB.Close()
	for _, id := range before {
		if !inBackup[id] {
			t.Errorf("loan %d, committed before the backup began, is not in it", id)
		}
	}

	// Restore as docs/operations.md says: stop the service, replace the
	// database file by the backup and remove its -wal and -shm files, start.
	live.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dbPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run(ctx, []string{"migrate"}, nil, &stdout, &errOut); code != 0 || !strings.Contains(stdout.String(), "up to date") {
		t.Fatalf("migrate on the restored database: exit %d, %q %q", code, stdout.String(), errOut.String())
	}
	restoredDB := dbtest.OpenURL(t, url)
	restored := app.New(restoredDB, app.Options{Keys: dbtest.Keys(t, restoredDB)})
	for _, id := range before {
		if l, err := restored.Inventory.Loan(ctx, admin, id); err != nil || l.Status != inventory.LoanOpen {
			t.Errorf("loan %d in the restored database: %+v %v", id, l, err)
		}
	}
}

// backup needs --out, never overwrites a file, and sends PostgreSQL to
// pg_dump; each refusal changes nothing.
func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	url := dbtest.FreshURL(t, storage.SQLite)
	t.Setenv("DATABASE_URL", url)
	if code := run(ctx, []string{"migrate"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatal("migrate failed")
	}
	var errOut bytes.Buffer
	if code := run(ctx, []string{"backup"}, nil, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "--out is required") {
		t.Errorf("backup without --out: exit %d, %q", code, errOut.String())
	}

	existing := filepath.Join(t.TempDir(), "precious.db")
	if err := os.WriteFile(existing, []byte("not to be lost"), 0o644); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := run(ctx, []string{"backup", "--out", existing}, nil, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "--out "+existing+" exists") {
		t.Errorf("backup over an existing file: exit %d, %q", code, errOut.String())
	}
	if b, _ := os.ReadFile(existing); string(b) != "not to be lost" {
		t.Errorf("the existing file was changed: %q", b)
	}

	// A database that does not exist is not created and backed up empty.
	missing := filepath.Join(t.TempDir(), "missing.db")
	out := filepath.Join(t.TempDir(), "copy.db")
	errOut.Reset()
	if code := run(ctx, []string{"backup", "--database-url", "sqlite:" + missing, "--out", out}, nil, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), missing) {
		t.Errorf("backup of a missing database: exit %d, %q", code, errOut.String())
	}
	for _, f := range []string{missing, out} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was created", f)
		}
	}

	// PostgreSQL is refused, pointing to pg_dump, without connecting (the
	// server named here does not exist).
	t.Setenv("DATABASE_URL", "postgres://devicebank:secret@db.invalid:5432/devicebank")
	errOut.Reset()
	if code := run(ctx, []string{"backup", "--out", out}, nil, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "pg_dump --format=custom") || strings.Contains(errOut.String(), "secret") {
		t.Errorf("backup on PostgreSQL: exit %d, %q", code, errOut.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("backup on PostgreSQL wrote %s", out)
	}
	if engines := dbtest.Engines(t); len(engines) > 1 {
		t.Setenv("DATABASE_URL", dbtest.FreshURL(t, storage.Postgres))
		errOut.Reset()
		if code := run(ctx, []string{"backup", "--out", out}, nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "pg_dump") {
			t.Errorf("backup on the test PostgreSQL: exit %d, %q", code, errOut.String())
		}
	}
}

// A relative --out that begins "file:" is a file name like any other, not
// an SQLite URI: the copy is there, whole and private, and nothing is left
// beside it.
func TestBackupToANameThatLooksLikeAURI(t *testing.T) {
	ctx := context.Background()
	url := dbtest.FreshURL(t, storage.SQLite)
	t.Setenv("DATABASE_URL", url)
	if code := run(ctx, []string{"migrate"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatal("migrate failed")
	}
	t.Chdir(t.TempDir())
	if err := os.Mkdir("file:copies", 0o700); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	if code := run(ctx, []string{"backup", "--out", "file:copies/uri.db"}, nil, io.Discard, &errOut); code != 0 {
		t.Fatalf("backup: exit %d, %s", code, errOut.String())
	}
	info, err := os.Stat("file:copies/uri.db")
	if err != nil || info.Size() == 0 || info.Mode().Perm() != 0o600 {
		t.Fatalf("the copy: %v, %v", info, err)
	}
	if left, _ := filepath.Glob("file:copies/.*"); len(left) != 0 {
		t.Errorf("left beside the copy: %v", left)
	}
	copyDB := dbtest.OpenURL(t, "sqlite:"+filepath.Join("file:copies", "uri.db"))
	var n int
	if err := copyDB.NewRaw("SELECT count(*) FROM schema_migrations").Scan(ctx, &n); err != nil || n == 0 {
		t.Errorf("the copy's migrations: %d, %v", n, err)
	}
}
