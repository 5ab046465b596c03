package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by the Makefile: -X github.com/pgbackup/pgbackup/internal/version.Version=...
var (
	// Version is the release version, for example "v0.1.0" or a `git describe` string.
	Version = ""
	// Commit is the full git commit the binary was built from.
	Commit = ""
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information, filling what the linker did not stamp
// from the build information the Go toolchain embeds.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String renders the information on one line, as `pgbackup version` prints it.
func (i Info) String() string {
	return fmt.Sprintf("pgbackup %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
