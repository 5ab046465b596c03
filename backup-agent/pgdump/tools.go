package pgdump

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// BinDirEnv names the directory holding the PostgreSQL client programs.
const BinDirEnv = "PGBACKUP_PG_BIN_DIR"

// Find returns the path of a PostgreSQL client program: in
// $PGBACKUP_PG_BIN_DIR when set, else on PATH.
func Find(name string) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", result.Errorf(result.ReasonConfigInvalid, "%s not found in %s=%s", name, BinDirEnv, dir)
		}
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", result.Errorf(result.ReasonConfigInvalid,
			"%s not found on PATH: install the PostgreSQL client programs or set %s", name, BinDirEnv)
	}
	return p, nil
}

// Version is a client program's version.
type Version struct {
	// Full is the version as printed, e.g. "17.2".
	Full  string
	Major int
	Minor int
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?(?:[a-z]+\d*)?`)

// ParseVersion reads the output of `pg_dump --version`, for example
// "pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)".
func ParseVersion(out string) (Version, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return Version{}, fmt.Errorf("unrecognised version output %q", strings.TrimSpace(out))
	}
	v := Version{}
	v.Major, _ = strconv.Atoi(m[1])
	v.Full = m[1]
	if m[2] != "" {
		v.Minor, _ = strconv.Atoi(m[2])
		v.Full += "." + m[2]
	}
	return v, nil
}

// ProgramVersion runs `PATH --version`.
func ProgramVersion(ctx context.Context, path string) (Version, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Version{}, result.Errorf(result.ReasonConfigInvalid, "%s --version: %w: %s", path, err, strings.TrimSpace(out.String()))
	}
	v, err := ParseVersion(out.String())
	if err != nil {
		return Version{}, result.Errorf(result.ReasonConfigInvalid, "%s: %w", path, err)
	}
	return v, nil
}

// CheckCompatible refuses a pg_dump older than the server: pg_dump cannot
// dump servers of a newer major version. The error names the agent image
// that would work and how to build it.
func CheckCompatible(dump Version, serverMajor int, serverVersion string) error {
	if dump.Major < serverMajor {
		return result.Errorf(result.ReasonDumpFailed,
			"pg_dump %s is older than the server (PostgreSQL %s) and cannot dump it: use an agent image with PostgreSQL %d client tools "+
				"(build one with `make agent-image AGENT_PG_MAJOR=%d AGENT_PGDG=true IMAGE_TAG=<version>-pg%d`) or point %s at pg_dump %d or newer",
			dump.Full, serverVersion, serverMajor, serverMajor, serverMajor, BinDirEnv, serverMajor)
	}
	return nil
}
