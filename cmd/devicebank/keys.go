package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// dataKeyHelp is how to give the key-encryption key, for errors.
const dataKeyHelp = "give it with DEVICEBANK_DATA_KEY or --data-key-file (DEVICEBANK_DATA_KEY_FILE); make a new one with `devicebank keys generate`"

// keyFileBeside is the key file the embedded quick start keeps beside its
// SQLite database: serve makes it on a database that has no keys yet.
func keyFileBeside(dbPath string) string { return dbPath + ".key" }

// kekText is the key-encryption key as configured: DEVICEBANK_DATA_KEY,
// else the file --data-key-file names, else (neither set, on SQLite) the
// database's own key file beside it, whose name is returned too: text is
// "" when that file is yet to be made.
func (c *config) kekText() (text, besideFile string, err error) {
	if c.DataKey != "" {
		return c.DataKey, "", nil
	}
	if c.DataKeyFile != "" {
		b, err := readKeyFile(c.DataKeyFile)
		if err != nil {
			return "", "", fmt.Errorf("--data-key-file: %w", err)
		}
		return string(b), "", nil
	}
	path := sqlitePath(c.DatabaseURL)
	if path == "" || path == ":memory:" {
		return "", "", nil
	}
	beside := keyFileBeside(path)
	b, err := readKeyFile(beside)
	if errors.Is(err, fs.ErrNotExist) {
		return "", beside, nil
	}
	if err != nil {
		return "", "", err
	}
	return string(b), beside, nil
}

// readKeyFile reads a key file, refusing one that others than its owner
// may read.
func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s may be read by others than its owner (mode %04o): chmod 600 %s", path, info.Mode().Perm(), path)
	}
	return os.ReadFile(path)
}

// openKeyring unwraps the database's keys with the configured
// key-encryption key. With none configured, a SQLite database that holds
// no keys yet (a new one) gets a new key in a file beside it, whose name
// is returned; any other database is refused, as one whose keys are
// wrapped is.
func (c *config) openKeyring(ctx context.Context, db *storage.DB) (ring *keyring.Ring, madeFile string, err error) {
	text, beside, err := c.kekText()
	if err != nil {
		return nil, "", err
	}
	if text == "" {
		// Neither set, and no key file beside the database.
		var n int
		if err := db.NewRaw("SELECT count(*) FROM data_keys").Scan(ctx, &n); err != nil {
			return nil, "", err
		}
		switch {
		case n > 0:
			return nil, "", fmt.Errorf("this database's client data is sealed with a data key and none is set: %s", dataKeyHelp)
		case beside == "":
			return nil, "", fmt.Errorf("no data key is set, which protects client data in the database: %s", dataKeyHelp)
		}
		if text, err = makeKeyFile(beside); err != nil {
			return nil, "", err
		}
		madeFile = beside
	}
	kek, err := keyring.ParseKEK(text)
	if err != nil {
		return nil, "", err
	}
	ring, err = keyring.Open(ctx, db, kek, time.Now())
	if errors.Is(err, keyring.ErrWrongKey) {
		return nil, "", fmt.Errorf("%w; give the key this database was set up with", err)
	}
	return ring, madeFile, err
}

// madeKeyFileNotice is what a command says after openKeyring made a key file.
func madeKeyFileNotice(path string) string {
	return fmt.Sprintf("Made a new data key in %s (mode 0600): it protects the client data in the database. "+
		"Keep a copy apart from the database and its backups: without it they cannot be read.", path)
}

// makeKeyFile writes a new key to path, which must not exist, readable by
// its owner alone.
func makeKeyFile(path string) (string, error) {
	key := keyring.Generate()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("make the data key file: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return key, f.Close()
}

// keysGenerate prints a new random key-encryption key.
func keysGenerate(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys generate", "Print a new random data key (32 bytes, base64), for DEVICEBANK_DATA_KEY or a file\n"+
		"named by --data-key-file, such as:\n\n  (umask 077; devicebank keys generate > /etc/devicebank/data.key)", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, keyring.Generate())
	return err
}

// keysRotate wraps the database's keys under a new key-encryption key.
func keysRotate(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("keys rotate", "Wrap the database's data keys under a new data key (the key-encryption key), read from\n"+
		"--new-key-file; the current one is read as by serve. Instances running on keep working;\n"+
		"restart each with the new key. Client data is not rewritten.", stderr)
	cfg.register(fs)
	newFile := fs.String("new-key-file", "", "the file holding the new data key, as `devicebank keys generate` prints it (mode 0600)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *newFile == "" {
		return errors.New("--new-key-file is required: make the new key with `devicebank keys generate`")
	}
	b, err := readKeyFile(*newFile)
	if err != nil {
		return fmt.Errorf("--new-key-file: %w", err)
	}
	next, err := keyring.ParseKEK(string(b))
	if err != nil {
		return fmt.Errorf("--new-key-file: %w", err)
	}
	text, beside, err := cfg.kekText()
	if err != nil {
		return err
	}
	if text == "" {
		return fmt.Errorf("the current data key is not set: %s", dataKeyHelp)
	}
	current, err := keyring.ParseKEK(text)
	if err != nil {
		return err
	}
	db, err := open(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := keyring.Rewrap(ctx, db, current, next)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrapped %d keys under the new data key (id %s).\n", n, next.ID())
	if beside == "" {
		fmt.Fprintln(stdout, "Restart every instance with the new key; keep the old one until then.")
		return nil
	}
	// The embedded database's own key file: it now holds the new key.
	if err := replaceFile(beside, b); err != nil {
		return fmt.Errorf("the keys are wrapped under the new key, but %s still holds the old one (copy %s over it): %w", beside, *newFile, err)
	}
	fmt.Fprintf(stdout, "%s now holds the new key; restart the service.\n", beside)
	return nil
}

// replaceFile replaces path's content with b atomically (a new file,
// mode 0600, renamed over it).
func replaceFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
