package storage_test

import (
	"context"
	"testing"

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
