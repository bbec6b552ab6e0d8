package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// runCmd runs a command in this process and returns its exit code, stdout
// and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// quickStart is a new SQLite database with no data key set, as a newcomer
// has it.
func quickStart(t *testing.T) (dbPath string) {
	t.Setenv("DEVICEBANK_DATA_KEY", "")
	t.Setenv("DEVICEBANK_DATA_KEY_FILE", "")
	dbPath = filepath.Join(t.TempDir(), "devicebank.db")
	t.Setenv("DATABASE_URL", "sqlite:"+dbPath)
	return dbPath
}

func TestAQuickStartMakesItsDataKeyBesideTheDatabase(t *testing.T) {
	dbPath := quickStart(t)
	keyFile := dbPath + ".key"
	code, errOut := serveUntilListening(t)
	if code != 0 || !strings.Contains(errOut, "Made a new data key in "+keyFile) || !strings.Contains(errOut, "Keep a copy apart from the database") {
		t.Fatalf("serve: exit %d, stderr:\n%s", code, errOut)
	}
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	key, _ := os.ReadFile(keyFile)
	if _, err := keyring.ParseKEK(string(key)); err != nil {
		t.Fatalf("the key file holds no key: %v", err)
	}

	// The next start uses it, and says nothing of keys.
	if code, errOut := serveUntilListening(t); code != 0 || strings.Contains(errOut, "data key") {
		t.Fatalf("second start: exit %d, stderr:\n%s", code, errOut)
	}
	if again, _ := os.ReadFile(keyFile); !bytes.Equal(again, key) {
		t.Fatal("the second start replaced the key file")
	}

	// Another key: refused, named as the wrong one.
	t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
	if code, _, errOut := runCmd(t, "migrate"); code != 1 || !strings.Contains(errOut, "not the one this database's keys were made with") {
		t.Errorf("another key: exit %d, %s", code, errOut)
	}
	// The key file lost: refused, not a new key made over sealed data.
	t.Setenv("DEVICEBANK_DATA_KEY", "")
	if err := os.Rename(keyFile, keyFile+".elsewhere"); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd(t, "migrate")
	if code != 1 || !strings.Contains(errOut, "sealed with a data key and none is set") || !strings.Contains(errOut, "DEVICEBANK_DATA_KEY") {
		t.Errorf("no key: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Error("a new key file was made for a database that has keys")
	}
	// Given by file, as a deployment would: works.
	t.Setenv("DEVICEBANK_DATA_KEY_FILE", keyFile+".elsewhere")
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Errorf("the key by DEVICEBANK_DATA_KEY_FILE: exit %d, %s", code, errOut)
	}
}

func TestAKeyFileOthersMayReadIsRefused(t *testing.T) {
	quickStart(t)
	file := filepath.Join(t.TempDir(), "data.key")
	if err := os.WriteFile(file, []byte(keyring.Generate()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "migrate", "--data-key-file", file)
	if code != 1 || !strings.Contains(errOut, "may be read or changed by others than its owner") || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("a key file of mode 0644: exit %d, %s", code, errOut)
	}
	// Writable by its group: refused too (a group member could put in a key).
	groupWritable := filepath.Join(t.TempDir(), "data.key")
	os.WriteFile(groupWritable, []byte(keyring.Generate()+"\n"), 0o600)
	os.Chmod(groupWritable, 0o620)
	if code, _, errOut := runCmd(t, "migrate", "--data-key-file", groupWritable); code != 1 || !strings.Contains(errOut, "mode 0620") {
		t.Errorf("a key file of mode 0620: exit %d, %s", code, errOut)
	}
	for text, want := range map[string]string{"short": "not base64", "c2hvcnQ=": "is 5 bytes, want 32"} {
		file := filepath.Join(t.TempDir(), "data.key")
		os.WriteFile(file, []byte(text), 0o600)
		if code, _, errOut := runCmd(t, "migrate", "--data-key-file", file); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("a key file holding %q: exit %d, %s", text, code, errOut)
		}
	}
}

func TestPostgresWithoutADataKeyIsRefused(t *testing.T) {
	if !slices.Contains(dbtest.Engines(t), storage.Postgres) {
		t.Skip("no PostgreSQL (TEST_DATABASE_URL)")
	}
	t.Setenv("DEVICEBANK_DATA_KEY", "")
	t.Setenv("DEVICEBANK_DATA_KEY_FILE", "")
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, storage.Postgres))
	code, _, errOut := runCmd(t, "migrate")
	if code != 1 || !strings.Contains(errOut, "no data key is set") || !strings.Contains(errOut, "devicebank keys generate") {
		t.Errorf("exit %d, %s", code, errOut)
	}
	t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Errorf("with a key: exit %d, %s", code, errOut)
	}
}

func TestKeysGeneratePrintsANewKeyEachTime(t *testing.T) {
	_, a, _ := runCmd(t, "keys", "generate")
	code, b, _ := runCmd(t, "keys", "generate")
	if code != 0 || a == b || !strings.HasSuffix(a, "\n") {
		t.Fatalf("exit %d, %q then %q", code, a, b)
	}
	if _, err := keyring.ParseKEK(a); err != nil {
		t.Errorf("keys generate printed %q: %v", a, err)
	}
}

func TestKeysRotateRewrapsUnderTheNewKey(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) { rotateOn(t, engine) })
	}
}

func rotateOn(t *testing.T, engine storage.Dialect) {
	dir := t.TempDir()
	oldKey, newKey := keyring.Generate(), keyring.Generate()
	newFile := filepath.Join(dir, "new.key")
	if err := os.WriteFile(newFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, engine))
	t.Setenv("DEVICEBANK_DATA_KEY_FILE", "")
	t.Setenv("DEVICEBANK_DATA_KEY", oldKey)
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	// Refused: no new key, a new key others may read.
	if code, _, errOut := runCmd(t, "keys", "rotate"); code != 1 || !strings.Contains(errOut, "--new-key-file is required") {
		t.Errorf("no --new-key-file: exit %d, %s", code, errOut)
	}
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, []byte(newKey), 0o644)
	if code, _, errOut := runCmd(t, "keys", "rotate", "--new-key-file", open); code != 1 || !strings.Contains(errOut, "may be read or changed by others than its owner") {
		t.Errorf("a readable new key: exit %d, %s", code, errOut)
	}
	// A wrong current key: refused, nothing changed.
	t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
	if code, _, errOut := runCmd(t, "keys", "rotate", "--new-key-file", newFile); code != 1 || !strings.Contains(errOut, "not the one this database's keys were made with") {
		t.Errorf("a wrong current key: exit %d, %s", code, errOut)
	}
	t.Setenv("DEVICEBANK_DATA_KEY", oldKey)
	code, out, errOut := runCmd(t, "keys", "rotate", "--new-key-file", newFile)
	if code != 0 || !strings.Contains(out, "Wrapped 2 keys under the new data key") {
		t.Fatalf("rotate: exit %d, %s%s", code, out, errOut)
	}
	// Again: nothing left to do.
	if code, out, _ := runCmd(t, "keys", "rotate", "--new-key-file", newFile); code != 0 || !strings.Contains(out, "Wrapped 0 keys") {
		t.Errorf("a second rotation: exit %d, %s", code, out)
	}
	// Now the old key is refused and the new one works.
	if code, _, errOut := runCmd(t, "migrate"); code != 1 || !strings.Contains(errOut, "not the one") {
		t.Errorf("the old key after rotation: exit %d, %s", code, errOut)
	}
	t.Setenv("DEVICEBANK_DATA_KEY", newKey)
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Errorf("the new key: exit %d, %s", code, errOut)
	}
}

func TestKeysRotateReplacesTheQuickStartKeyFile(t *testing.T) {
	dbPath := quickStart(t)
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	newKey := keyring.Generate()
	newFile := filepath.Join(t.TempDir(), "new.key")
	os.WriteFile(newFile, []byte(newKey+"\n"), 0o600)
	code, out, errOut := runCmd(t, "keys", "rotate", "--new-key-file", newFile)
	if code != 0 || !strings.Contains(out, dbPath+".key now holds the new key") {
		t.Fatalf("rotate: exit %d, %s%s", code, out, errOut)
	}
	b, _ := os.ReadFile(dbPath + ".key")
	info, _ := os.Stat(dbPath + ".key")
	if strings.TrimSpace(string(b)) != newKey || info.Mode().Perm() != 0o600 {
		t.Errorf("the key file holds %q (mode %v), want the new key, 0600", b, info.Mode().Perm())
	}
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Errorf("after rotation: exit %d, %s", code, errOut)
	}
}

// Commands started at once on a new database (serve and migrate, say)
// share the one key the first of them made.
func TestCommandsStartedAtOnceOnANewDatabaseShareOneKey(t *testing.T) {
	bin := buildBinary(t)
	dbPath := quickStart(t)
	const n = 4
	errs := make(chan error, n)
	outs := make([]bytes.Buffer, n)
	for i := range n {
		go func() {
			cmd := exec.Command(bin, "migrate")
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			errs <- cmd.Run()
		}()
	}
	for i := range n {
		if err := <-errs; err != nil {
			t.Errorf("migrate %d of %d failed: %v", i+1, n, err)
		}
	}
	if t.Failed() {
		for i := range outs {
			t.Log(outs[i].String())
		}
		t.FailNow()
	}
	made := 0
	for i := range outs {
		if strings.Contains(outs[i].String(), "Made a new data key") {
			made++
		}
	}
	if made != 1 {
		t.Errorf("%d commands said they made the key, want 1", made)
	}
	entries, _ := os.ReadDir(filepath.Dir(dbPath))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".key.new-") {
			t.Errorf("a temporary key file was left: %s", e.Name())
		}
	}
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Errorf("after them: exit %d, %s", code, errOut)
	}
}

// addUserReadACL gives uid read access by a POSIX ACL entry, as systemd's
// write_credential does for LoadCredential= when the service's User= is
// not root (fchmod 0400, then fd_add_uid_acl_permission(fd, uid, ACL_READ)).
func addUserReadACL(t *testing.T, path string, uid uint32) {
	t.Helper()
	const undefined = 0xFFFFFFFF
	b := binary.LittleEndian.AppendUint32(nil, 2) // POSIX_ACL_XATTR_VERSION
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 4, undefined}, {0x02, 4, uid}, {0x04, 0, undefined}, {0x10, 4, undefined}, {0x20, 0, undefined}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	if err := syscall.Setxattr(path, "system.posix_acl_access", b, 0); err != nil {
		t.Skipf("no POSIX ACLs here: %v", err)
	}
}

// The key as docs/deploy/devicebank.service hands it over (LoadCredential=,
// User=devicebank): a root-owned file of mode 0400 with an ACL entry for
// the service's user, which stat shows as mode 0440. Readable by the
// service's user alone; it must be accepted.
func TestASystemdCredentialKeyFileIsAccepted(t *testing.T) {
	quickStart(t)
	file := filepath.Join(t.TempDir(), "data-key")
	if err := os.WriteFile(file, []byte(keyring.Generate()+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	addUserReadACL(t, file, 65534)
	info, _ := os.Stat(file)
	t.Logf("mode as stat shows it: %04o", info.Mode().Perm())
	if code, _, errOut := runCmd(t, "migrate", "--data-key-file", file); code != 0 {
		t.Errorf("a systemd credential (0400 + ACL user:devicebank:r): exit %d, %s", code, errOut)
	}
}

// A quick start stopped between making its key file and writing the key
// (power cut, disk full) leaves an empty key file and a database with no
// keys. Every later start must not be refused for good with "file exists".
func TestABlankKeyFileIsExplainedNotReplaced(t *testing.T) {
	for _, blank := range []string{"", "\n", "  \t\n"} {
		dbPath := quickStart(t)
		if err := os.WriteFile(dbPath+".key", []byte(blank), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCmd(t, "migrate")
		if code != 1 || !strings.Contains(errOut, dbPath+".key holds no key") || !strings.Contains(errOut, "delete the file and start again") {
			t.Errorf("a key file holding %q: exit %d, %s", blank, code, errOut)
		}
		if b, _ := os.ReadFile(dbPath + ".key"); string(b) != blank {
			t.Errorf("the blank key file was changed to %q", b)
		}
		// Deleted, as the message says: the next start makes a key.
		os.Remove(dbPath + ".key")
		if code, _, errOut := runCmd(t, "migrate"); code != 0 || !strings.Contains(errOut, "Made a new data key") {
			t.Errorf("after deleting it: exit %d, %s", code, errOut)
		}
	}
}

// A wrong key is refused before anything is migrated or converted.
func TestAWrongKeyChangesNothing(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			url := dbtest.FreshURL(t, engine)
			db := dbtest.OpenURL(t, url)
			// A database an older release left: keys made, migration 26 not yet applied.
			if _, err := migrations.ApplyBefore(ctx, db, 26); err != nil {
				t.Fatal(err)
			}
			right := keyring.Generate()
			kek, _ := keyring.ParseKEK(right)
			if _, err := keyring.Open(ctx, db, kek, time.Now()); err != nil {
				t.Fatal(err)
			}
			t.Setenv("DATABASE_URL", url)
			t.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
			code, _, errOut := runCmd(t, "migrate")
			if code != 1 || !strings.Contains(errOut, "not the one this database's keys were made with") || !strings.Contains(errOut, "nothing was changed") {
				t.Fatalf("a wrong key: exit %d, %s", code, errOut)
			}
			if migrations.Applied(ctx, db, 26) {
				t.Fatal("a migration was applied with a wrong key")
			}
			t.Setenv("DEVICEBANK_DATA_KEY", right)
			if code, _, errOut := runCmd(t, "migrate"); code != 0 || !migrations.Applied(ctx, db, 26) {
				t.Fatalf("the right key: exit %d, %s", code, errOut)
			}
		})
	}
}

// migratedForCommands is a new database of engine, migrated by the
// command, that the commands run below use (DATABASE_URL, the tests' data
// key), with services on it and a social worker to act as.
func migratedForCommands(t *testing.T, engine storage.Dialect) (*storage.DB, *app.Services, *accounts.Actor) {
	t.Helper()
	url := dbtest.FreshURL(t, engine)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("DEVICEBANK_DATA_KEY_FILE", "")
	t.Setenv("DEVICEBANK_DATA_KEY", dbtest.DataKey)
	if code, _, errOut := runCmd(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	db := dbtest.OpenURL(t, url)
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)})
	worker, err := svc.Accounts.CreateUser(context.Background(), nil, accounts.NewUser{Email: "w@agency.test", Name: "W",
		Role: accounts.SocialWorker, Password: "a long test password"})
	if err != nil {
		t.Fatal(err)
	}
	return db, svc, &accounts.Actor{ID: worker.ID, Role: worker.Role}
}

// keys rotate-data makes a new data key and seals every client record
// under it; the records read as before.
func TestKeysRotateDataSealsEveryRecordUnderANewKey(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) { rotateDataOn(t, engine) })
	}
}

func rotateDataOn(t *testing.T, engine storage.Dialect) {
	ctx := context.Background()
	live, svc, actor := migratedForCommands(t, engine)
	var ids []int64
	for i := range 3 {
		number, first, last, none, size := fmt.Sprintf("R-%d", i), "Rana", fmt.Sprintf("Qasim%d", i), clients.None, 1
		c, err := svc.Clients.Create(ctx, actor, clients.Input{CaseNumber: &number, FirstName: &first, LastName: &last,
			PreferredChannel: &none, HouseholdSize: &size})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	request, err := svc.Eligibility.FileRequest(ctx, actor, eligibility.RequestInput{ClientID: ids[0], DeviceKind: "phone",
		Reason: "to reach the housing office"})
	if err != nil {
		t.Fatal(err)
	}
	reminder := &notifications.Notification{Kind: notifications.Manual, DedupKey: "rotate-data", ClientID: &ids[0], Channel: "sms",
		Language: "en", Body: "Hi Rana", Note: "the charger", ScheduledAt: time.Now()}
	if _, err := svc.Notifications.Outbox.Enqueue(ctx, live, reminder); err != nil {
		t.Fatal(err)
	}
	co, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: "co@agency.test", Name: "Coordinator", Role: accounts.Coordinator,
		Password: "a long test password"})
	if err != nil {
		t.Fatal(err)
	}
	coordinator := &accounts.Actor{ID: co.ID, Role: co.Role}
	kind, make_, model := inventory.Kind("tablet"), "Acme", "T1"
	device, err := svc.Inventory.CreateDevice(ctx, coordinator, inventory.DeviceInput{Kind: &kind, Make: &make_, Model: &model})
	if err != nil {
		t.Fatal(err)
	}
	loan, err := svc.Inventory.IssueLoan(ctx, coordinator, inventory.IssueInput{ClientID: ids[0], DeviceID: device.ID,
		DueOn: calendar.Of(time.Now().AddDate(0, 1, 0)), Notes: "with a blue case", WalkInJustification: "walked in at the front desk"})
	if err != nil {
		t.Fatal(err)
	}
	before := svc.Clients.Keys.CurrentDataKey()
	code, out, errOut := runCmd(t, "keys", "rotate-data")
	if code != 0 || !strings.Contains(out, "client records sealed under it: 3\n") ||
		!strings.Contains(out, "device requests sealed under it: 1\n") || !strings.Contains(out, "notification texts sealed under it: 1\n") ||
		!strings.Contains(out, "loan notes sealed under it: 1\n") {
		t.Fatalf("rotate-data: exit %d, %s%s", code, out, errOut)
	}
	for _, table := range []string{"clients.personal_key", "device_requests.sealed_key", "notifications.sealed_key", "loans.sealed_key"} {
		name, column, _ := strings.Cut(table, ".")
		var under []int64
		if err := live.NewRaw("SELECT DISTINCT ? FROM ?", bun.Ident(column), bun.Ident(name)).Scan(ctx, &under); err != nil {
			t.Fatal(err)
		}
		if len(under) != 1 || under[0] == before {
			t.Fatalf("after rotate-data the rows of %s are under keys %v (before: %d)", name, under, before)
		}
	}
	// An instance that has not refreshed reads every kind of row.
	for i, id := range ids {
		got, err := svc.Clients.Get(ctx, actor, id)
		if err != nil || got.LastName != fmt.Sprintf("Qasim%d", i) {
			t.Fatalf("client %d: %+v, %v", id, got, err)
		}
	}
	if got, err := svc.Eligibility.DeviceRequest(ctx, actor, request.ID); err != nil || got.Reason != request.Reason {
		t.Fatalf("the request after rotate-data: %+v, %v", got, err)
	}
	if got, err := svc.Inventory.Loan(ctx, coordinator, loan.ID); err != nil || got.Notes != "with a blue case" {
		t.Fatalf("the loan after rotate-data: %+v, %v", got, err)
	}
	listed, err := svc.Notifications.Notification(ctx, actor, reminder.ID)
	if err != nil || listed.Body != "Hi Rana" {
		t.Fatalf("the reminder after rotate-data: %+v, %v", listed, err)
	}
}

// migrate seals the device requests and reminder texts stored before they
// were sealed, says how many, and finds none the second time; they read as
// stored.
func TestMigrateSealsStoredRequestsAndReminders(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db, svc, actor := migratedForCommands(t, engine)
			number, first, last, none, size := "R-1", "Rana", "Qasim", clients.None, 1
			c, err := svc.Clients.Create(ctx, actor, clients.Input{CaseNumber: &number, FirstName: &first, LastName: &last,
				PreferredChannel: &none, HouseholdSize: &size})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Eligibility.CurrentRuleSet(ctx); err != nil { // version 1
				t.Fatal(err)
			}
			res, err := db.ExecContext(ctx, `INSERT INTO device_requests (client_id, device_kind, urgency, status, outcome,
					rule_set_version, decision, priority_reasons, reason, created_by, created_at, updated_at)
				VALUES (?, 'phone', 'normal', 'needs_review', 'needs_review', 1, '{"outcome":"needs_review","rules":[]}',
					'["normal urgency: +10"]', 'to call the housing office', ?, ?, ?)`, c.ID, actor.ID, time.Now(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("inserted %d requests", n)
			}
			// A reminder sent before texts were sealed.
			if _, err := db.ExecContext(ctx, `INSERT INTO notifications (kind, dedup_key, recipient, client_id, channel, address,
					language, body, note, status, scheduled_at, next_attempt_at, attempts, last_error, created_at, updated_at)
				VALUES ('manual', 'sent-plain', 'client', ?, 'sms', '', 'en', 'Hi Rana, bring the charger', 'the charger', 'sent',
					?, ?, 1, '', ?, ?)`, c.ID, time.Now(), time.Now(), time.Now(), time.Now()); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCmd(t, "migrate")
			if code != 0 || !strings.Contains(out, "device requests sealed: 1 ") || !strings.Contains(out, "notification texts sealed: 1 ") ||
				strings.Contains(out, "up to date") {
				t.Fatalf("migrate over a plain request: exit %d, %s%s", code, out, errOut)
			}
			if code, out, errOut := runCmd(t, "migrate"); code != 0 || !strings.Contains(out, "up to date") {
				t.Fatalf("migrate again: exit %d, %s%s", code, out, errOut)
			}
			var stored string
			if err := db.NewRaw("SELECT reason FROM device_requests").Scan(ctx, &stored); err != nil || !keyring.IsSealed(stored) {
				t.Fatalf("the stored reason: %q, %v", stored, err)
			}
			if err := db.NewRaw("SELECT body FROM notifications").Scan(ctx, &stored); err != nil || !keyring.IsSealed(stored) {
				t.Fatalf("the stored body: %q, %v", stored, err)
			}
			sent, _, err := svc.Notifications.List(ctx, actor, notifications.Filter{ClientID: c.ID}, storage.Page{})
			if err != nil || len(sent) != 1 || sent[0].Body != "Hi Rana, bring the charger" {
				t.Fatalf("the reminder after migrate: %+v, %v", sent, err)
			}
			list, _, err := svc.Eligibility.Requests(ctx, actor, eligibility.RequestFilter{ClientID: c.ID}, storage.Page{})
			if err != nil || len(list) != 1 || list[0].Reason != "to call the housing office" ||
				fmt.Sprint(list[0].PriorityReasons) != "[normal urgency: +10]" || list[0].Decision.Outcome != eligibility.NeedsReview {
				t.Fatalf("the request after migrate: %+v, %v", list, err)
			}

			// Another plain request, whose reason is the first's sealed
			// value copied over (it does not open there): migrate seals
			// what it can, names the row in a warning, and succeeds.
			if _, err := db.ExecContext(ctx, `INSERT INTO device_requests (client_id, device_kind, urgency, status, outcome,
					rule_set_version, decision, priority_reasons, reason, created_by, created_at, updated_at)
				SELECT client_id, 'laptop', urgency, status, outcome, rule_set_version, '{"outcome":"needs_review","rules":[]}',
					'[]', reason, created_by, created_at, updated_at FROM device_requests`); err != nil {
				t.Fatal(err)
			}
			code, out, errOut = runCmd(t, "migrate")
			if code != 0 || !strings.Contains(out, "device requests sealed: 1 ") ||
				!strings.Contains(errOut, "device_requests: values of 1 rows do not open") {
				t.Fatalf("migrate over a request with a value that does not open: exit %d, %s%s", code, out, errOut)
			}
		})
	}
}
