package main

import (
	"context"
	"fmt"
	"io"

	"github.com/devicebank/devicebank/buildinfo"
)

// version prints what the Go toolchain recorded of this build: honestly
// "(devel)" for go run, and for builds without version control information.
func version(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Print the version of this build, its commit and the Go version that built it.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	info := buildinfo.Read()
	fmt.Fprintf(stdout, "devicebank %s\n", info.Version)
	switch {
	case info.Revision == "":
		fmt.Fprintln(stdout, "commit:   unknown (built without version control information: outside a clone, or with -buildvcs=false)")
	case info.Modified:
		fmt.Fprintf(stdout, "commit:   %s, with uncommitted changes\n", info.Revision)
	default:
		fmt.Fprintf(stdout, "commit:   %s\n", info.Revision)
	}
	if info.Time != "" {
		fmt.Fprintf(stdout, "time:     %s\n", info.Time)
	}
	fmt.Fprintf(stdout, "go:       %s\n", info.GoVersion)
	return nil
}
