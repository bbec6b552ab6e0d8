package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/keyring"
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
	if code != 1 || !strings.Contains(errOut, "may be read by others") || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("a key file of mode 0644: exit %d, %s", code, errOut)
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
	if code, _, errOut := runCmd(t, "keys", "rotate", "--new-key-file", open); code != 1 || !strings.Contains(errOut, "may be read by others") {
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
