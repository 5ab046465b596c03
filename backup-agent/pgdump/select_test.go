package pgdump

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// fakeInstall makes debianRoot/N/bin/NAME scripts that print version
// "N.1" for every major, and returns the root.
func fakeInstall(t *testing.T, majors ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range majors {
		dir := filepath.Join(root, m, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"pg_dump", "pg_dumpall"} {
			script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + m + ".1 (Debian)'\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := debianRoot
	debianRoot = root
	t.Cleanup(func() { debianRoot = old })
	return root
}

func TestChoose(t *testing.T) {
	tools := []Tool{{Path: "/15", Version: Version{"15.1", 15, 1}}, {Path: "/17", Version: Version{"17.1", 17, 1}}, {Path: "/18", Version: Version{"18.1", 18, 1}}}
	tests := []struct {
		server int
		want   string
		ok     bool
	}{
		{9, "/15", true},  // oldest that can: closest to the server
		{15, "/15", true}, // the server's own major
		{16, "/17", true}, // none of 16: the next newer
		{17, "/17", true}, // never a newer one when the own major is there
		{18, "/18", true}, // the newest
		{19, "", false},   // all older: refused by the caller
		{0, "/15", true},  // unknown version: the oldest
		{100, "", false},  // far future
	}
	for _, tt := range tests {
		got, ok := Choose(tools, tt.server)
		if ok != tt.ok || got.Path != tt.want {
			t.Errorf("Choose(server %d) = %q %v, want %q %v", tt.server, got.Path, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Choose(nil, 15); ok {
		t.Error("Choose(no tools) found one")
	}
	if Newest(tools).Path != "/18" || Newest(nil).Path != "" {
		t.Error("Newest")
	}
}

func TestCandidatesDebianLayout(t *testing.T) {
	root := fakeInstall(t, "18", "17", "notamajor")
	t.Setenv(BinDirEnv, "")
	t.Setenv("PATH", filepath.Join(root, "18", "bin")) // PATH's copy is one of them: listed once
	tools, err := Candidates(context.Background(), "pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 2 || tools[0].Version.Major != 17 || tools[1].Version.Major != 18 {
		t.Fatalf("tools %+v, want 17 then 18", tools)
	}
	if tools[0].Path != filepath.Join(root, "17", "bin", "pg_dump") {
		t.Errorf("17 at %s", tools[0].Path)
	}
	if p, err := tools[0].Sibling("pg_dumpall"); err != nil || p != filepath.Join(root, "17", "bin", "pg_dumpall") {
		t.Errorf("Sibling(pg_dumpall) = %q, %v", p, err)
	}
	if _, err := tools[0].Sibling("pg_restore"); result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), "pg_restore not found next to pg_dump") {
		t.Errorf("Sibling(pg_restore) = %v, want a config error naming both", err)
	}

	tool, err := ChooseFor(tools, 15, "15.18")
	if err != nil || tool.Version.Major != 17 {
		t.Errorf("ChooseFor(15) = %+v, %v; want 17", tool, err)
	}
	_, err = ChooseFor(tools, 19, "19.0")
	if result.ReasonOf(err) != result.ReasonDumpFailed || !strings.Contains(err.Error(), "pg_dump 18.1 is older than the server (PostgreSQL 19.0)") {
		t.Errorf("ChooseFor(19) = %v, want the refusal naming the newest pg_dump", err)
	}
}

func TestCandidatesBinDirWins(t *testing.T) {
	root := fakeInstall(t, "17", "18")
	t.Setenv(BinDirEnv, filepath.Join(root, "17", "bin"))
	tools, err := Candidates(context.Background(), "pg_dump")
	if err != nil || len(tools) != 1 || tools[0].Version.Major != 17 {
		t.Fatalf("with %s set: %+v, %v; want only its pg_dump 17", BinDirEnv, tools, err)
	}
}

func TestCandidatesNone(t *testing.T) {
	fakeInstall(t)
	t.Setenv(BinDirEnv, "")
	t.Setenv("PATH", t.TempDir())
	if _, err := Candidates(context.Background(), "pg_dump"); result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), "pg_dump not found on PATH") {
		t.Errorf("no pg_dump anywhere: %v, want a config error", err)
	}
}
