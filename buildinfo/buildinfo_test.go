package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	if want := (Info{Version: "v1.4.0", Revision: "0123abc", Time: "2026-11-30T10:00:00Z", Modified: true, GoVersion: "go1.26.0"}); stamped != want {
		t.Errorf("stamped build: %+v, want %+v", stamped, want)
	}
	if got := stamped.String(); got != "v1.4.0, commit 0123abc+modified, go1.26.0" {
		t.Errorf("String: %q", got)
	}
	// A test binary has no module version, and no VCS settings here.
	bare := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0"})
	if bare.Version != Devel || bare.Revision != "" || bare.String() != "(devel), go1.26.0" {
		t.Errorf("unstamped build: %+v %q", bare, bare.String())
	}
}
