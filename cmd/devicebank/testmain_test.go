package main

import (
	"os"
	"testing"

	"github.com/devicebank/devicebank/keyring"
)

// TestMain runs the commands with a data key, as a deployment's run; the
// tests of the quick start (a new SQLite database, no key) unset it.
func TestMain(m *testing.M) {
	if os.Getenv("DEVICEBANK_DATA_KEY") == "" && os.Getenv("DEVICEBANK_DATA_KEY_FILE") == "" {
		os.Setenv("DEVICEBANK_DATA_KEY", keyring.Generate())
	}
	os.Exit(m.Run())
}
