package pgdump

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// debianRoot is where Debian's postgresql-client-N packages install their
// programs, one directory per major version (/usr/lib/postgresql/17/bin).
// A variable so that tests can point it at a fake installation.
var debianRoot = "/usr/lib/postgresql"

// Tool is one installed client program and its version.
type Tool struct {
	Path    string
	Version Version
}

// Candidates lists the installed copies of a client program, oldest major
// first, one per major: the one in $PGBACKUP_PG_BIN_DIR alone when that is
// set (the user's explicit choice), else every Debian installation under
// /usr/lib/postgresql/N/bin plus the one on PATH.
func Candidates(ctx context.Context, name string) ([]Tool, error) {
	if os.Getenv(BinDirEnv) != "" {
		p, err := Find(name)
		if err != nil {
			return nil, err
		}
		v, err := ProgramVersion(ctx, p)
		if err != nil {
			return nil, err
		}
		return []Tool{{Path: p, Version: v}}, nil
	}
	var paths []string
	if dirs, err := os.ReadDir(debianRoot); err == nil {
		for _, d := range dirs {
			if _, err := strconv.Atoi(d.Name()); err != nil {
				continue
			}
			p := filepath.Join(debianRoot, d.Name(), "bin", name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				paths = append(paths, p)
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil && !slices.Contains(paths, p) {
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		_, err := Find(name) // its error says how to get the program
		return nil, err
	}
	var tools []Tool
	for _, p := range paths {
		v, err := ProgramVersion(ctx, p)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(tools, func(t Tool) bool { return t.Version.Major == v.Major }) {
			tools = append(tools, Tool{Path: p, Version: v})
		}
	}
	slices.SortFunc(tools, func(a, b Tool) int { return a.Version.Major - b.Version.Major })
	return tools, nil
}

// Choose picks, among tools (oldest first), the oldest major of at least
// atLeast: the program closest to the server it talks to. pg_dump of the
// server's own major is the pair PostgreSQL tests most; a newer one may
// write objects an older server's restore cannot take, and an older one
// cannot dump a newer server at all. ok is false when every tool is older.
func Choose(tools []Tool, atLeast int) (Tool, bool) {
	for _, t := range tools {
		if t.Version.Major >= atLeast {
			return t, true
		}
	}
	return Tool{}, false
}

// Newest is the newest of tools (oldest first); the zero Tool when empty.
func Newest(tools []Tool) Tool {
	if len(tools) == 0 {
		return Tool{}
	}
	return tools[len(tools)-1]
}

// ChooseFor is Choose for a server of major atLeast, refusing with
// CheckCompatible's error (which names the agent image that would work)
// when every tool is older.
func ChooseFor(tools []Tool, atLeast int, serverVersion string) (Tool, error) {
	if t, ok := Choose(tools, atLeast); ok {
		return t, nil
	}
	return Tool{}, CheckCompatible(Newest(tools).Version, atLeast, serverVersion)
}

// Sibling is program name in the same directory as t: pg_dumpall next to
// the pg_dump that was picked, psql next to pg_restore.
func (t Tool) Sibling(name string) (string, error) {
	p := filepath.Join(filepath.Dir(t.Path), name)
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", result.Errorf(result.ReasonConfigInvalid, "%s not found next to %s (%s)", name, filepath.Base(t.Path), filepath.Dir(t.Path))
	}
	return p, nil
}
