package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
)

// assertWhole checks that backup id is complete: its manifest reads and
// validates, and every object it lists is stored with its size and sha256.
func assertWhole(t *testing.T, s storage.Store, id string) *manifest.Manifest {
	t.Helper()
	m, err := repo.Repo{Store: s, Prefix: "team/pg"}.Manifest(context.Background(), id)
	if err != nil {
		t.Fatalf("backup %s: %v", id, err)
	}
	objs := slices.Clone(m.Databases)
	if m.Globals != nil {
		objs = append(objs, *m.Globals)
	}
	for _, o := range objs {
		b := readAll(t, s, o.Key)
		sum := sha256.Sum256(b)
		if int64(len(b)) != o.Size || hex.EncodeToString(sum[:]) != o.SHA256 {
			t.Fatalf("backup %s: object %s does not match its manifest entry", id, o.Key)
		}
	}
	return m
}

// Two runs starting in the same UTC second (a trigger at a scheduled
// minute, two resources sharing a destination) must not share an id: the
// loser of the manifest write used to delete the winner's objects.
func TestSameSecondRunsNeverShareABackupID(t *testing.T) {
	fakePgDump(t, "17.2")
	t.Setenv("FAKE_DELAY", "0.3") // both runs pick their id before either uploads
	store := newStore()
	var wg sync.WaitGroup
	ress := make([]result.Result, 3)
	errs := make([]error, 3)
	for i := range ress {
		wg.Go(func() {
			ress[i], errs[i] = Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
		})
	}
	wg.Wait()
	var ids []string
	for i := range ress {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		ids = append(ids, ress[i].BackupID)
	}
	slices.SortFunc(ids, manifest.CompareIDs)
	if strings.Join(ids, " ") != "20261129T030000Z 20261129T030000Z-1 20261129T030000Z-2" {
		t.Fatalf("ids %v, want three distinct ones", ids)
	}
	for _, id := range ids {
		assertWhole(t, store, id)
	}
}

// A run that fails deletes only what it created, never the objects of a
// run that shares its second.
func TestFailedRunDeletesOnlyItsOwnKeys(t *testing.T) {
	fakePgDump(t, "17.2")
	store := newStore()
	good, err := Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Join(keys(t, store), " ")
	t.Setenv("FAKE_FAIL_DB", "orders")
	bad, err := Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
	if err == nil || bad.BackupID == good.BackupID {
		t.Fatalf("want a failed run under its own id, got %q and %v", bad.BackupID, err)
	}
	if after := strings.Join(keys(t, store), " "); after != before {
		t.Fatalf("the failed run changed the store:\n got %s\nwant %s", after, before)
	}
	assertWhole(t, store, good.BackupID)
}

// A claim whose answer was lost is met again by the retried put (412):
// the run must see its own claim, not skip to -1.
func TestLostClaimAnswerIsResolved(t *testing.T) {
	fakePgDump(t, "17.2")
	mem := newStore()
	store := storagetest.NewFaulty(mem)
	store.Inject(storagetest.Fault{Op: storagetest.OpPutIfAbsent, KeyContains: "claim.json", Times: 1, Mode: storagetest.LoseAnswer,
		Err: fmt.Errorf("retried put: %w", storage.ErrExists)})
	res, err := Run(context.Background(), testr.New(t), options("app"), deps(store, pg17))
	if err != nil || res.BackupID != "20261129T030000Z" {
		t.Fatalf("run: %q, %v; want the first id", res.BackupID, err)
	}
	assertWhole(t, mem, res.BackupID)
}

// The manifest PUT landed but its answer was lost (a timeout, a retry that
// answers 412, SIGTERM while it is on the wire): the backup is complete,
// and the run must say so, never delete the data behind a manifest.
func TestLostManifestAnswerIsResolvedByReadingItBack(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"timeout", result.Errorf(result.ReasonStorageFailed, "put manifest: context deadline exceeded")},
		{"retry answered 412", fmt.Errorf("put manifest: %w", storage.ErrExists)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fakePgDump(t, "17.2")
			mem := newStore()
			store := storagetest.NewFaulty(mem)
			store.Inject(storagetest.Fault{Op: storagetest.OpPutIfAbsent, KeyContains: "manifest.json", Times: 1, Mode: storagetest.LoseAnswer, Err: tt.err})
			res, err := Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
			if err != nil || res.Result != result.Succeeded {
				t.Fatalf("run: %+v, %v; want success", res, err)
			}
			assertWhole(t, mem, res.BackupID)
		})
	}
}

// cancelOnManifest cancels the run's context while the manifest PUT is on
// the wire: the PUT lands, the answer is the cancellation.
type cancelOnManifest struct {
	*storage.MemStore
	cancel context.CancelFunc
}

func (c cancelOnManifest) PutIfAbsent(ctx context.Context, key string, body []byte, ct string) error {
	if !strings.HasSuffix(key, manifest.FileName) {
		return c.MemStore.PutIfAbsent(ctx, key, body, ct)
	}
	if err := c.MemStore.PutIfAbsent(ctx, key, body, ct); err != nil {
		return err
	}
	c.cancel()
	return ctx.Err()
}

func TestSIGTERMDuringTheManifestPutKeepsTheBackup(t *testing.T) {
	fakePgDump(t, "17.2")
	mem := newStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := options("app")
	opts.Retention.KeepLast = 1
	res, err := Run(ctx, testr.New(t), opts, deps(cancelOnManifest{MemStore: mem, cancel: cancel}, pg17))
	if err != nil {
		t.Fatalf("run: %v; the manifest is stored, so the backup succeeded", err)
	}
	assertWhole(t, mem, res.BackupID)
	if !slices.Contains(res.Warnings, "retention skipped: interrupted") {
		t.Errorf("warnings %v: retention must not run after the signal", res.Warnings)
	}
}

// When whether the manifest landed stays unknown (the PUT and the read
// back both fail), the run fails but keeps every object: a manifest that
// landed would point at them.
func TestUnknownCommitDeletesNoData(t *testing.T) {
	fakePgDump(t, "17.2")
	mem := newStore()
	store := storagetest.NewFaulty(mem)
	store.Inject(storagetest.Fault{Op: storagetest.OpPutIfAbsent, KeyContains: "manifest.json", Times: 1, Mode: storagetest.LoseAnswer})
	store.Inject(storagetest.Fault{Op: storagetest.OpGet, KeyContains: "manifest.json", Times: -1})
	res, err := Run(context.Background(), testr.New(t), options("app"), deps(store, pg17))
	if result.ExitCode(err) != result.ExitStorage || !strings.Contains(res.Message, "unknown") {
		t.Fatalf("run: %+v, %v; want StorageFailed saying the commit is unknown", res, err)
	}
	// The manifest did land: the backup must be whole.
	assertWhole(t, mem, res.BackupID)
}

// pg_dump that exits 0 with nothing, or with less than a whole dump, must
// never become a backup.
func TestEmptyOrShortDumpWithExitZeroFailsTheRun(t *testing.T) {
	for _, tt := range []struct{ name, env, format string }{
		{"empty custom", "FAKE_EMPTY", "custom"},
		{"empty plain", "FAKE_EMPTY", "plain"},
		{"plain without its end", "FAKE_SHORT", "plain"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fakePgDump(t, "17.2")
			t.Setenv(tt.env, "1")
			store := newStore()
			opts := options("app")
			opts.Format = tt.format
			res, err := Run(context.Background(), testr.New(t), opts, deps(store, pg17))
			if result.ExitCode(err) != result.ExitDumpRestore || !strings.Contains(res.Message, "nothing was stored") {
				t.Fatalf("run: %+v, %v; want DumpFailed", res, err)
			}
			if k := keys(t, store); len(k) != 0 {
				t.Fatalf("a short dump left %v", k)
			}
			noOpenUploads(t, store)
		})
	}
}

// In plain format a database named "globals" used to overwrite the roles
// dump; names like ".." or "a/b" must make distinct, safe keys.
func TestHostileDatabaseNamesGetDisjointKeys(t *testing.T) {
	fakePgDump(t, "17.2")
	super := fakeCatalog{server: pg17.server, super: true, dbs: []pgclient.Database{
		{Name: "globals"}, {Name: ".."}, {Name: "a/b"}, {Name: "A/B"}, {Name: "manifest.json"}, {Name: "claim.json"},
	}}
	store := newStore()
	opts := options()
	opts.Format, opts.Globals = "plain", GlobalsTrue
	res, err := Run(context.Background(), testr.New(t), opts, deps(store, super))
	if err != nil {
		t.Fatal(err)
	}
	m := assertWhole(t, store, res.BackupID)
	if m.Globals == nil {
		t.Fatal("no globals")
	}
	seen := map[string]string{m.Globals.Key: "globals"}
	for _, d := range m.Databases {
		if prev, ok := seen[d.Key]; ok {
			t.Fatalf("%q and %q share key %s", d.Name, prev, d.Key)
		}
		seen[d.Key] = d.Name
		if !strings.HasPrefix(d.Key, "team/pg/"+res.BackupID+"/db/") {
			t.Errorf("database %q stored at %s, outside the database key space", d.Name, d.Key)
		}
	}
}

// A database named ".." made the directory-format spool path the spool
// root, whose cleanup then emptied the whole volume, local copies
// included.
func TestDotDotDatabaseCannotEmptyTheSpoolVolume(t *testing.T) {
	fakePgDump(t, "17.2")
	spoolDir := t.TempDir()
	sentinel := filepath.Join(spoolDir, "someone-elses-file")
	if err := os.WriteFile(sentinel, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := fakeCatalog{server: pg17.server, dbs: []pgclient.Database{{Name: ".."}, {Name: "."}}}
	store := newStore()
	opts := options()
	opts.Format, opts.SpoolDir = "directory", spoolDir
	res, err := Run(context.Background(), testr.New(t), opts, deps(store, cat))
	if err != nil {
		t.Fatal(err)
	}
	assertWhole(t, store, res.BackupID)
	if _, err := os.Stat(sentinel); err != nil {
		t.Fatalf("the spool volume was emptied: %v", err)
	}
}

// A full spool volume fails the local copy with a warning; the backup in
// S3 succeeds.
func TestFullSpoolFailsOnlyTheLocalCopy(t *testing.T) {
	fakePgDump(t, "17.2")
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("this test writes to /dev/full to play a full volume: %v", err)
	}
	spoolDir := t.TempDir()
	dir := filepath.Join(spoolDir, "local", "20261129T030000Z", "db")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(dir, "app.dump.zst")); err != nil {
		t.Fatal(err)
	}
	store := newStore()
	opts := options("app")
	opts.SpoolDir, opts.KeepLocal = spoolDir, 1
	res, err := Run(context.Background(), testr.New(t), opts, deps(store, pg17))
	if err != nil {
		t.Fatalf("a full spool failed the backup: %v", err)
	}
	assertWhole(t, store, res.BackupID)
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "local copy") && strings.Contains(w, "no space left") }) {
		t.Fatalf("warnings %v, want the local copy's failure", res.Warnings)
	}
	if _, err := os.Stat(filepath.Join(spoolDir, "local", res.BackupID)); !os.IsNotExist(err) {
		t.Fatalf("the failed local copy was kept: %v", err)
	}
}

// Committing a local copy must not remove another run's copy in progress.
func TestLocalCommitLeavesAnotherRunsCopyInProgress(t *testing.T) {
	fakePgDump(t, "17.2")
	spoolDir := t.TempDir()
	other := filepath.Join(spoolDir, "local", "20261129T030000Z-1", "db")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "x.dump.zst"), []byte("writing"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(spoolDir, "local", "20261101T030000Z")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, stale, stale); err != nil {
		t.Fatal(err)
	}
	store := newStore()
	opts := options("app")
	opts.SpoolDir, opts.KeepLocal = spoolDir, 3
	if _, err := Run(context.Background(), testr.New(t), opts, deps(store, pg17)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "x.dump.zst")); err != nil {
		t.Fatalf("another run's local copy in progress was removed: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("a stale incomplete local copy was kept: %v", err)
	}
}

// A failed run without local copies must not remove anything relative to
// the working directory (the local-copy root is then unset).
func TestFailedRunWithoutLocalCopiesRemovesNothingLocally(t *testing.T) {
	fakePgDump(t, "17.2")
	t.Setenv("FAKE_FAIL_DB", "app")
	t.Chdir(t.TempDir())
	for _, dir := range []string{"20261129T030000Z", filepath.Join("local", "20261129T030000Z")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Run(context.Background(), testr.New(t), options("app"), deps(newStore(), pg17)); err == nil {
		t.Fatal("want a failure")
	}
	for _, dir := range []string{"20261129T030000Z", filepath.Join("local", "20261129T030000Z")} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s in the working directory was removed: %v", dir, err)
		}
	}
}
