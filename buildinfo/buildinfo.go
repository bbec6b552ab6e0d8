// Package buildinfo says which build of DeviceBank is running, from what the
// Go toolchain records in the binary (runtime/debug.ReadBuildInfo): the
// module's version, the commit it was built from and the Go version. Nothing
// is stamped by hand, so it cannot drift from the binary.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Devel is the version of a build that carries none: "go run", a build with
// -buildvcs=false or outside a clone, and tests. (Since Go 1.24 "go build"
// in a clone stamps the tag, or a pseudo-version of the commit with
// "+dirty" for uncommitted changes.)
const Devel = "(devel)"

// Info describes the running binary.
type Info struct {
	// Version is the main module's version: a tag such as v1.4.0, a
	// pseudo-version of a commit, or Devel.
	Version string
	// Revision, Time and Modified come from the version control system
	// when the binary was built in a clone with VCS stamping on (the
	// default of go build); empty when it was off (-buildvcs=false).
	Revision string
	Time     string
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: Devel}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = Devel // a test binary has none
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is one line, for the log: the version, the commit (with
// "+modified" for uncommitted changes) when known, and the Go version.
func (i Info) String() string {
	parts := []string{i.Version}
	if i.Revision != "" {
		rev := "commit " + i.Revision
		if i.Modified {
			rev += "+modified"
		}
		parts = append(parts, rev)
	}
	return strings.Join(append(parts, i.GoVersion), ", ")
}
