package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// downloadPlan is the plan of restoring the "app" backup putBackup made.
func downloadPlan(t *testing.T, m *manifest.Manifest, spoolDir string) plan {
	t.Helper()
	opts := testOptions("postgres://u@h/restored")
	opts.SpoolDir = spoolDir
	if m.Format == manifest.FormatCustom {
		opts.Jobs = 4 // a parallel restore downloads first
	}
	set, err := opts.validate()
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(m, opts, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDownloadedDumpIsPrivate: a decrypted dump written to the spool for
// a parallel or plain restore can be read by this user alone, whatever
// the umask.
func TestDownloadedDumpIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dump := bytes.Repeat([]byte("COPY public.t (a) FROM stdin;\n1\n\\.\n"), 1000)
	for _, format := range []manifest.Format{manifest.FormatCustom, manifest.FormatPlain} {
		t.Run(string(format), func(t *testing.T) {
			store := &storage.MemStore{}
			m := putBackup(t, store, "20261129T030000Z", format, dump)
			spoolDir := t.TempDir()
			path, cleanup, err := download(context.Background(), (&capturedLog{}).logger(), store, downloadPlan(t, m, spoolDir))
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			dir, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if file.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
				t.Errorf("downloaded dump %v in %v, want 0600 in 0700", file.Mode().Perm(), dir.Mode().Perm())
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, dump) {
				t.Errorf("downloaded %d bytes (%v), want the decoded dump", len(got), err)
			}
			cleanup()
			if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
				t.Errorf("cleanup left %d entries in the spool directory", len(left))
			}
		})
	}
}

// TestDownloadChecksSpoolSpace: a spool directory with less room than the
// stored object fails with StorageFailed (exit 5) before anything is
// written.
func TestDownloadChecksSpoolSpace(t *testing.T) {
	store := &storage.MemStore{}
	m := putBackup(t, store, "20261129T030000Z", manifest.FormatCustom, []byte("PGDMP fake archive"))
	spoolDir := t.TempDir()
	p := downloadPlan(t, m, spoolDir)
	p.obj.Size = 1 << 62
	_, _, err := download(context.Background(), (&capturedLog{}).logger(), store, p)
	if result.ExitCode(err) != result.ExitStorage || !strings.Contains(err.Error(), spoolDir) || !strings.Contains(err.Error(), "--spool-dir") {
		t.Fatalf("download: %v (exit %d), want exit 5 naming the spool directory", err, result.ExitCode(err))
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("the refused download left %d entries in the spool directory", len(left))
	}
}

// TestDownloadFillsInArchiveOffsets: a custom-format archive downloaded
// for a parallel restore gets the data offsets pg_dump leaves out when it
// writes to a pipe, so it becomes what pg_dump itself writes to a file
// (but for the creation time); a custom-format object that cannot be
// followed is written exactly as stored, with a warning.
func TestDownloadFillsInArchiveOffsets(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "pgarchive", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	piped, file := read("pg15-pipe.dump"), read("pg15-file.dump")
	notArchive := []byte("PGDMP, but not really an archive")
	for _, tt := range []struct {
		name    string
		dump    []byte
		want    []byte
		wantLog string
	}{
		{"piped archive", piped, file, `"msg"="Filled in the archive's data offsets" "entries"=`},
		{"archive with offsets", file, file, `"msg"="Filled in the archive's data offsets" "entries"=0`},
		{"not an archive", notArchive, notArchive, `could not be filled in; pg_restore -j reads it more slowly (warning)" "reason"="archive version`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &storage.MemStore{}
			m := putBackup(t, store, "20261129T030000Z", manifest.FormatCustom, tt.dump)
			log := &capturedLog{}
			path, cleanup, err := download(context.Background(), log.logger(), store, downloadPlan(t, m, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("downloaded %d bytes, want %d", len(got), len(tt.want))
			}
			differ := 0
			for i := range got {
				if got[i] != tt.want[i] {
					differ++
				}
			}
			// The two pg_dump runs differ in their creation time only:
			// at most its seconds, minutes and hours fields.
			if differ > 3 {
				t.Errorf("the downloaded archive differs from the wanted one in %d bytes", differ)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log lacks %s:\n%s", tt.wantLog, log)
			}
		})
	}
}
