package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/notifications"
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
	if strings.TrimSpace(string(b)) == "" {
		return "", "", errBlankKeyFile(beside)
	}
	return string(b), beside, nil
}

// errBlankKeyFile explains a key file beside the database that holds no
// key (made by hand: serve writes a whole file or none). It is not
// replaced: two starts at once could each put their own key in it.
func errBlankKeyFile(path string) error {
	return fmt.Errorf("%s holds no key: if the database is new (no client data yet), delete the file and start again, "+
		"and a new key is made; otherwise put the database's key in it", path)
}

// readKeyFile reads a key file, refusing one that anyone on the machine
// may read or write, or its group may write. Group read is let be: a
// systemd credential handed to a service's own user is a root-owned file of
// mode 0400 with an access list entry for that user, which stat shows as
// 0440. The mode is checked on the file opened, not on the name.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o027 != 0 {
		return nil, fmt.Errorf("%s may be read or changed by others than its owner (mode %04o): chmod 600 %s", path, info.Mode().Perm(), path)
	}
	return io.ReadAll(io.LimitReader(f, 4096))
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
		case beside == "" && n > 0:
			return nil, "", fmt.Errorf("this database's client data is sealed with a data key and none is set: %s", dataKeyHelp)
		case beside == "":
			return nil, "", fmt.Errorf("no data key is set, which protects client data in the database: %s", dataKeyHelp)
		case n > 0:
			// Keys, and no key file when it was looked for: another
			// command starting at once may have made both since.
			b, err := readKeyFile(beside)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", fmt.Errorf("this database's client data is sealed with a data key and none is set (%s is missing): %s", beside, dataKeyHelp)
			} else if err != nil {
				return nil, "", err
			}
			text = string(b)
		default:
			if text, madeFile, err = makeKeyFile(beside); err != nil {
				return nil, "", err
			}
		}
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

// checkKeyBeforeUpgrade refuses a configured key that did not wrap the
// database's keys before anything is migrated or converted, so a wrong key
// changes nothing. (With no key configured, openKeyring decides after.)
func (c *config) checkKeyBeforeUpgrade(ctx context.Context, db *storage.DB) error {
	text, _, err := c.kekText()
	if err != nil || text == "" || !migrations.Applied(ctx, db, dataKeysMigration) {
		return err
	}
	kek, err := keyring.ParseKEK(text)
	if err != nil {
		return err
	}
	if err := keyring.Check(ctx, db, kek); err != nil {
		return fmt.Errorf("%w; give the key this database was set up with (nothing was changed)", err)
	}
	return nil
}

// dataKeysMigration is the migration that made the data_keys table.
const dataKeysMigration = 24

// madeKeyFileNotice is what a command says after openKeyring made a key file.
func madeKeyFileNotice(path string) string {
	return fmt.Sprintf("Made a new data key in %s (mode 0600): it wraps the keys the database keeps for client data "+
		"and the audit trail's chain (docs/privacy.md). Keep a copy apart from the database and its backups.", path)
}

// makeKeyFile writes a new key to path, readable by its owner alone, and
// returns it and path; if another process made the file first (two commands
// started at once on a new database), it returns the key that process
// wrote, and "" for path. The file appears whole or not at all: it is
// written aside and then linked, never renamed over another.
func makeKeyFile(path string) (key, made string, err error) {
	key = keyring.Generate()
	tmp, err := writeAside(path, []byte(key+"\n"))
	if err != nil {
		return "", "", fmt.Errorf("make the data key file: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		// Another command starting at once made it first: its key.
		b, err := readKeyFile(path)
		if err == nil && strings.TrimSpace(string(b)) == "" {
			err = errBlankKeyFile(path)
		}
		return string(b), "", err
	} else if err != nil {
		return "", "", fmt.Errorf("make the data key file: %w", err)
	}
	return key, path, nil
}

// writeAside writes b to a new file (mode 0600) in path's folder, synced,
// and returns its name.
func writeAside(path string, b []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return "", err
	}
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
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
	// Not migrated here: the key check before migrations would refuse the
	// current key once a first run has rewrapped (Rewrap passes by keys
	// already under the new one).
	db, err := open(ctx, &cfg, false)
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
	tmp, err := writeAside(path, b)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone after the rename
	return os.Rename(tmp, path)
}

// sealedKind is a kind of row sealed in the database: what openData seals
// when stored before it was sealed, and what is sealed again after a new
// data key (keys rotate-data, serve's reseal job).
type sealedKind struct {
	what   string                             // "client records"
	stored func(context.Context) (int, error) // seals the rows stored plain
	reseal func(context.Context) (int, error) // reseals the rows under an older key
}

// sealedKinds are the kinds of sealed rows db holds, opened with ring.
func sealedKinds(db *storage.DB, ring *keyring.Ring) []sealedKind {
	cl := &clients.Service{DB: db, Keys: ring}
	el := &eligibility.Service{DB: db, Keys: ring}
	ob := &notifications.Outbox{DB: db, Keys: ring}
	inv := &inventory.Service{DB: db, Keys: ring}
	ag := &agreements.Service{DB: db, Keys: ring}
	return []sealedKind{
		{"client records", cl.SealStored, cl.Reseal},
		{"device requests", el.SealStored, el.Reseal},
		{"notification texts", ob.SealStored, ob.Reseal},
		{"loan notes", inv.SealStored, inv.Reseal},
		{"signed agreements", ag.SealStored, ag.Reseal},
	}
}

// sealedCount is how many rows of a kind a command sealed.
type sealedCount struct {
	what string
	n    int
}

// unlocked is what openData gives a command: the database's keys, the key
// file it made (or ""), and how many rows of each kind it sealed.
type unlocked struct {
	ring     *keyring.Ring
	madeFile string
	sealed   []sealedCount
	// unopened are the rows whose sealed values did not open while the
	// others were sealed (keyring.UnopenedError): left as they are.
	unopened []error
	// vacuumErr is why the database could not be vacuumed after sealing
	// (nil when it was, or needed not be): the plain values sealed may
	// linger in its free pages.
	vacuumErr error
}

// sealedAny reports whether openData sealed anything.
func (u unlocked) sealedAny() bool {
	for _, c := range u.sealed {
		if c.n > 0 {
			return true
		}
	}
	return false
}

// openData opens the database's keys (openKeyring), then seals the rows
// (client records, device requests, notification texts, loan notes,
// signed agreements) written before they were sealed, which SQL cannot. A value that does
// not open (damaged) is left as it is and reported, not a reason to stop. On SQLite a VACUUM follows a first
// sealing, so the plain values leave the file's free pages too
// (PostgreSQL's are reclaimed by its vacuum: privacy.md).
func (c *config) openData(ctx context.Context, db *storage.DB) (unlocked, error) {
	var u unlocked
	var err error
	if u.ring, u.madeFile, err = c.openKeyring(ctx, db); err != nil {
		return u, err
	}
	for _, k := range sealedKinds(db, u.ring) {
		n, err := k.stored(ctx)
		var unopened *keyring.UnopenedError
		switch {
		case errors.As(err, &unopened):
			u.unopened = append(u.unopened, err)
		case err != nil:
			return u, fmt.Errorf("seal the %s stored before they were sealed: %w", k.what, err)
		}
		u.sealed = append(u.sealed, sealedCount{k.what, n})
	}
	if u.sealedAny() && db.Engine == storage.SQLite {
		if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
			u.vacuumErr = err
		}
	}
	return u, nil
}

// report tells of what openData did that an operator should know.
func (u unlocked) report(say func(level slog.Level, msg string)) {
	if u.madeFile != "" {
		say(slog.LevelWarn, madeKeyFileNotice(u.madeFile))
	}
	for _, c := range u.sealed {
		if c.n > 0 {
			say(slog.LevelInfo, fmt.Sprintf("%s sealed: %d (stored before they were sealed)", c.what, c.n))
		}
	}
	for _, err := range u.unopened {
		say(slog.LevelWarn, err.Error())
	}
	if u.vacuumErr != nil {
		say(slog.LevelWarn, "the database could not be vacuumed after sealing the values stored plain, so they may "+
			"remain in its free pages until it is: run VACUUM on it when no other command uses it ("+u.vacuumErr.Error()+")")
	}
}

// defaultResealSchedule looks for rows to seal again every minute.
const defaultResealSchedule = "* * * * *"

// resealJob is serve's reseal job: it reads the database's keys again (a
// data key made by keys rotate-data becomes the one sealed under), then
// seals again the rows under an older key, batch by batch.
func resealJob(db *storage.DB, ring *keyring.Ring, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := ring.Refresh(ctx); err != nil {
			return err
		}
		_, err := resealAll(ctx, db, ring, func(what string, n int) {
			log.Info(what+" sealed under the current data key", "count", n)
		})
		return err
	}
}

// resealAll reseals every kind of sealed row under an older key, telling
// done of each kind it resealed, and returns how many rows in all. Values
// that do not open (keyring.UnopenedError) are reported with the rest
// done; another failure stops it.
func resealAll(ctx context.Context, db *storage.DB, ring *keyring.Ring, done func(what string, n int)) (int, error) {
	total := 0
	var unopened []error
	for _, k := range sealedKinds(db, ring) {
		n, err := k.reseal(ctx)
		total += n
		if n > 0 {
			done(k.what, n)
		}
		var u *keyring.UnopenedError
		switch {
		case errors.As(err, &u):
			unopened = append(unopened, err)
		case err != nil:
			return total, fmt.Errorf("%s: %w", k.what, err)
		}
	}
	return total, errors.Join(unopened...)
}

// keysRotateData makes a new data key and seals every sealed row under it;
// the service keeps running (its reseal job picks the key up).
func keysRotateData(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("keys rotate-data", "Make a new data key, the one client data is sealed under from now on, and seal again\n"+
		"under it every client record, device request, reminder text, loan note and signed\n"+
		"agreement. The older keys are kept (retired) so that every value still opens; running\n"+
		"instances pick the new key up within a minute (--reseal-schedule).", stderr)
	cfg.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	text, _, err := cfg.kekText()
	if err != nil {
		return err
	}
	if text == "" {
		return fmt.Errorf("the data key is not set: %s", dataKeyHelp)
	}
	kek, err := keyring.ParseKEK(text)
	if err != nil {
		return err
	}
	db, err := open(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	data, err := cfg.openData(ctx, db)
	if err != nil {
		return err
	}
	id, err := keyring.RotateData(ctx, db, kek, time.Now())
	if err != nil {
		return err
	}
	if err := data.ring.Refresh(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Data key %d is the current one.\n", id)
	_, err = resealAll(ctx, db, data.ring, func(what string, n int) {
		fmt.Fprintf(stdout, "%s sealed under it: %d\n", what, n)
	})
	return err
}
