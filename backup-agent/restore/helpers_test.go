package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/pgbackup/pgbackup/backup-agent/codec"
	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// unreachable is a target address where nothing listens: a test that gets
// as far as connecting fails there at once.
const unreachable = "127.0.0.1:1"

// testPrefix is where the unit tests' backups live.
const testPrefix = "team/pg"

// putBackup stores a complete backup of database "app" (dump, zstd) under
// testPrefix and returns its manifest.
func putBackup(t *testing.T, store storage.Store, id string, format manifest.Format, dump []byte) *manifest.Manifest {
	t.Helper()
	prefix := testPrefix
	ctx := context.Background()
	spec, err := compress.Parse("zstd:3")
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if err := (codec.Encoding{Compression: spec}).Encode(&stored, bytes.NewReader(dump)); err != nil {
		t.Fatal(err)
	}
	key := manifest.DatabaseKey(prefix, id, "app", format, spec.Ext())
	if err := store.PutIfAbsent(ctx, key, stored.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	started, _, err := manifest.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion, ID: id, Status: manifest.StatusComplete,
		StartedAt: started, FinishedAt: started.Add(time.Minute), AgentVersion: "test",
		Server: manifest.Server{Version: "17.2", VersionNum: 170002}, PgDumpVersion: "17.2",
		Format: format, Compression: "zstd:3",
		Databases: []manifest.Object{{Name: "app", Key: key, Size: int64(stored.Len()), SHA256: sum(stored.Bytes())}},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutIfAbsent(ctx, manifest.Key(prefix, id), b, "application/json"); err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeTools installs a pg_restore and a psql that report version and
// fail if they are ever run to restore: the tests that use them must stop
// before a restore starts.
func fakeTools(t *testing.T, version string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"pg_restore", "psql"} {
		script := `#!/bin/sh
if [ "$1" = "--version" ]; then echo "` + name + ` (PostgreSQL) ` + version + `"; exit 0; fi
echo "` + name + `: error: the fake was asked to restore" >&2
exit 1
`
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(pgdump.BinDirEnv, dir)
}

// capturedLog is a logger whose output the test can read.
type capturedLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (c *capturedLog) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.buf.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
}

func (c *capturedLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// testOptions are restore options for the backups putBackup makes.
func testOptions(targetURL string) Options {
	opts := DefaultOptions()
	opts.Destination = storage.Destination{URL: "s3://bucket/team/pg"}
	opts.Target = targetURL
	opts.SpoolDir = os.TempDir()
	return opts
}
