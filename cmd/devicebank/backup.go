package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/devicebank/devicebank/storage"
)

// pgDumpAdvice is what backup says on PostgreSQL, whose own tools copy a
// live database consistently (and a server's backups belong to whoever
// runs the server).
const pgDumpAdvice = `backup copies SQLite databases only; back up PostgreSQL with its own pg_dump, such as
  pg_dump --format=custom --file=devicebank-$(date +%F).dump --dbname=devicebank
and restore with pg_restore (see docs/operations.md)`

// backup writes a consistent copy of the SQLite database to a new file
// while the service may be running: VACUUM INTO reads one snapshot (a read
// transaction, which under WAL never blocks the service's writers, nor is
// blocked by them) and writes it out compacted. The copy is written to a
// temporary name beside --out, synced, then linked to --out, so that --out
// is never a partial copy and an existing file is never overwritten.
func backup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	flags := newFlagSet("backup", "Copy the SQLite database to a new file, consistently, while the service runs.\n"+
		"The copy holds client records: it is readable by its owner only. On PostgreSQL use pg_dump.", stderr)
	cfg.register(flags)
	out := flags.String("out", "", "the file to write the copy to, which must not exist (required)")
	if err := parse(flags, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "--out is required: the file to write the copy to")
		flags.Usage()
		return errUsage
	}
	if strings.HasPrefix(cfg.DatabaseURL, "postgres://") || strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		return errors.New(pgDumpAdvice)
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("--out %s exists: give a new file name (a backup never overwrites a file)", *out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out: %w", err)
	}
	// storage.Open would create a missing database; a backup of nothing
	// must not look like one.
	if path := sqlitePath(cfg.DatabaseURL); path != "" {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("the database %s cannot be read: %w", path, err)
		}
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if db.Engine != storage.SQLite {
		return errors.New(pgDumpAdvice)
	}

	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // after the link below, only the temporary name goes
	// VACUUM INTO writes into an empty file, keeping its mode. The name is
	// made absolute: SQLite would read one starting with "file:" as a URI.
	into, err := filepath.Abs(tmpName)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", into); err != nil {
		return fmt.Errorf("copy the database: %w", err)
	}
	// SQLite does not sync what VACUUM INTO wrote.
	if err := syncFile(tmpName); err != nil {
		return err
	}
	if info, err := os.Stat(tmpName); err != nil || info.Size() == 0 {
		return fmt.Errorf("copy the database: the copy in %s is empty or unreadable (%v)", tmpName, err)
	}
	if err := os.Link(tmpName, *out); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("--out %s exists: give a new file name (a backup never overwrites a file)", *out)
	} else if err != nil {
		// A file system without hard links (a USB drive's FAT, some
		// network shares): a copy into a file created only if absent.
		if err := copyNew(tmpName, *out); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if err := syncFile(filepath.Dir(*out)); err != nil {
		return err
	}
	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up the SQLite database to %s (%d bytes).\n", *out, info.Size())
	return nil
}

// sqlitePath is the file a sqlite: or file: URL names, as storage.Open
// reads it, or "".
func sqlitePath(rawURL string) string {
	for _, prefix := range []string{"sqlite:", "file:"} {
		if rest, ok := strings.CutPrefix(rawURL, prefix); ok {
			path, _, _ := strings.Cut(rest, "?")
			return path
		}
	}
	return ""
}

// copyNew copies from into a new file to, mode 0600, refusing if to
// exists, and syncs it.
func copyNew(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	return dst.Close()
}

// syncFile flushes a file or a folder (a new name in it) to the disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
