package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// LOWER must fold accented letters on both databases, or searches for
// clients named "Ángel Ñúñez" work on one and not the other.
func TestLowerFoldsUnicodeOnBothDatabases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		var got string
		if err := db.NewRaw("SELECT LOWER(?)", "Ángel ÑÚÑEZ Straße").Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if got != "ángel ñúñez straße" {
			t.Fatalf("LOWER gave %q", got)
		}
		var null *string
		if err := db.NewRaw("SELECT LOWER(NULL)").Scan(context.Background(), &null); err != nil || null != nil {
			t.Fatalf("LOWER(NULL) = %v, %v", null, err)
		}
	})
}

// A new SQLite database and its -wal and -shm files hold client records:
// only their owner may read them, whatever the process's umask allows.
func TestSQLiteFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	db := dbtest.OpenURL(t, "sqlite:"+path)
	if _, err := migrations.Apply(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has permissions %v, want -rw-------", filepath.Base(name), perm)
		}
	}
}
