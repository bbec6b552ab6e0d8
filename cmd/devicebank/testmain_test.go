package main

import (
	"os"
	"testing"

	"github.com/devicebank/devicebank/storage/dbtest"
)

// TestMain runs the commands with a data key, as a deployment's run; the
// tests of the quick start (a new SQLite database, no key) unset it.
func TestMain(m *testing.M) {
	if os.Getenv("DEVICEBANK_DATA_KEY") == "" && os.Getenv("DEVICEBANK_DATA_KEY_FILE") == "" {
		// The tests' own key, so that their services (dbtest.Keys) open
		// what the commands sealed.
		os.Setenv("DEVICEBANK_DATA_KEY", dbtest.DataKey)
	}
	os.Exit(m.Run())
}
