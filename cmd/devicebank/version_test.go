package main

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/buildinfo"
)

// devicebank version says what Go recorded of the build (a test binary is
// "(devel)", without a commit), with the Go version that built it.
func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, &out, io.Discard); code != 0 ||
		!strings.HasPrefix(out.String(), "devicebank "+buildinfo.Read().Version+"\ncommit:   ") || !strings.Contains(out.String(), "go:       "+runtime.Version()+"\n") {
		t.Errorf("version: exit %d, printed %q", code, out.String())
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"version", "--help"}, nil, io.Discard, &errOut); code != 0 || !strings.Contains(errOut.String(), "Usage: devicebank version") {
		t.Errorf("version --help: exit %d, %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"version", "extra"}, nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
