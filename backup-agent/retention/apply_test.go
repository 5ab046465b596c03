package retention

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
)

// clock is a settable time shared by a MemStore (the server) and Apply's
// local clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(c *clock) *storage.MemStore { return &storage.MemStore{Now: c.now} }

func store(t *testing.T, s storage.Store, key, body string) {
	t.Helper()
	if _, err := s.Upload(context.Background(), key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func validManifest(id string) *manifest.Manifest {
	started, _, _ := manifest.ParseID(id)
	key := manifest.DatabaseKey("pg", id, "app", manifest.FormatCustom, "")
	return &manifest.Manifest{SchemaVersion: 1, ID: id, Status: manifest.StatusComplete, StartedAt: started, Format: manifest.FormatCustom,
		Compression: "none", Databases: []manifest.Object{{Name: "app", Key: key, Size: 4, SHA256: strings.Repeat("a", 64)}}}
}

func completeBackup(t *testing.T, s storage.Store, id string) {
	t.Helper()
	m := validManifest(id)
	store(t, s, m.Databases[0].Key, "dump")
	b, _ := m.Marshal()
	store(t, s, manifest.Key("pg", id), string(b))
}

func allKeys(t *testing.T, s storage.Store) string {
	t.Helper()
	var ks []string
	_ = s.List(context.Background(), "", func(o storage.Object) error { ks = append(ks, o.Key); return nil })
	return strings.Join(ks, " ")
}

func opts(c *clock, dry bool) Options { return Options{DryRun: dry, LocalNow: c.now} }

func TestApply(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	for _, id := range []string{"20261125T010000Z", "20261126T010000Z", "20261127T010000Z", "20261128T010000Z"} {
		completeBackup(t, s, id)
	}
	store(t, s, "pg/20261128T020000Z/db/app.dump", "a failed run's object") // orphan
	store(t, s, "pg/README", "not a backup")
	r := repo.Repo{Store: s, Prefix: "pg"}
	c.t = c.t.Add(48 * time.Hour) // the orphan is now past SweepAge

	dry, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, opts(c, true))
	if err != nil {
		t.Fatal(err)
	}
	before := allKeys(t, s)
	if len(dry.Deleted) != 2 || len(dry.Orphans) != 1 || dry.Deleted[0].ID != "20261126T010000Z" || !dry.ServerTime.Equal(c.t) {
		t.Fatalf("dry run report %+v", dry)
	}
	if allKeys(t, s) != before {
		t.Fatal("a dry run changed the store")
	}

	rep, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, opts(c, false))
	if err != nil {
		t.Fatal(err)
	}
	want := "pg/20261127T010000Z/db/app.dump pg/20261127T010000Z/manifest.json pg/20261128T010000Z/db/app.dump pg/20261128T010000Z/manifest.json pg/README"
	if got := allKeys(t, s); got != want {
		t.Fatalf("after retention:\n got %s\nwant %s", got, want)
	}
	if len(rep.Kept) != 2 || len(rep.Deleted) != 2 || strings.Join(rep.Orphans, ",") != "20261128T020000Z" {
		t.Fatalf("report %+v", rep)
	}

	// A fresh orphan (a run in progress) is left alone.
	store(t, s, "pg/20261130T020000Z/claim.json", "{}")
	rep, err = Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, opts(c, false))
	if err != nil || len(rep.Orphans) != 0 || !strings.Contains(allKeys(t, s), "pg/20261130T020000Z/claim.json") {
		t.Fatalf("fresh orphan swept: %+v %v", rep, err)
	}
}

// failingDelete fails deleting one key, to interrupt a deletion half-way.
type failingDelete struct {
	*storage.MemStore
	fail string
}

func (f failingDelete) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if k == f.fail {
			return context.DeadlineExceeded
		}
	}
	return f.MemStore.Delete(ctx, keys...)
}

func TestApplyDeletesManifestFirst(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}
	mem := newStore(c)
	completeBackup(t, mem, "20261101T010000Z")
	completeBackup(t, mem, "20261102T010000Z")
	s := failingDelete{MemStore: mem, fail: "pg/20261101T010000Z/db/app.dump"}
	r := repo.Repo{Store: s, Prefix: "pg"}
	if _, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 1}, opts(c, false)); err == nil {
		t.Fatal("want the injected delete failure")
	}
	ms, err := r.Complete(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != "20261102T010000Z" {
		t.Fatalf("a half-deleted backup still looks complete: %d complete backups", len(ms))
	}
}

// assertRefused checks that Apply refused with exit 7 and deleted nothing.
func assertRefused(t *testing.T, s storage.Store, err error, before, mention string) {
	t.Helper()
	if result.ReasonOf(err) != result.ReasonRefused || !strings.Contains(err.Error(), mention) {
		t.Fatalf("err = %v (reason %s), want Refused mentioning %q", err, result.ReasonOf(err), mention)
	}
	if got := allKeys(t, s); got != before {
		t.Fatalf("a refused retention deleted something:\n got %s\nwant %s", got, before)
	}
}

// A backup written by a pod whose clock was days ahead has a future id:
// it would stay "newest" and keepLast 1 would delete every genuine backup.
func TestRetentionRefusesWhenABackupIDLiesInTheFuture(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	for _, id := range []string{"20261127T030000Z", "20261128T030000Z", "20261129T030000Z", "20261202T030000Z"} {
		completeBackup(t, s, id)
	}
	before := allKeys(t, s)
	_, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{KeepLast: 1},
		Options{LocalNow: c.now, Protect: map[string]string{"20261129T030000Z": "this run"}})
	assertRefused(t, s, err, before, "20261202T030000Z lies")
}

// A pod whose clock is ahead, with maxAge, would delete every backup.
func TestRetentionRefusesWhenTheLocalClockDisagreesWithTheServer(t *testing.T) {
	server := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(server)
	for _, id := range []string{"20261127T030000Z", "20261128T030000Z", "20261129T025000Z"} {
		completeBackup(t, s, id)
	}
	before := allKeys(t, s)
	local := &clock{t: server.t.AddDate(0, 0, 40)}
	_, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{MaxAge: 30 * 24 * time.Hour},
		Options{LocalNow: local.now})
	assertRefused(t, s, err, before, "off the storage server's")
}

// Ages are measured against the server's clock, not the pod's, within the
// tolerated skew.
func TestRetentionMeasuresAgeAgainstServerTime(t *testing.T) {
	server := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(server)
	completeBackup(t, s, "20261128T025800Z") // 24h02m old by the server
	completeBackup(t, s, "20261128T030300Z") // 23h57m old by the server
	completeBackup(t, s, "20261129T025900Z")
	local := &clock{t: server.t.Add(-4 * time.Minute)} // the pod is 4 min behind
	rep, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{MaxAge: 24 * time.Hour},
		Options{LocalNow: local.now})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].ID != "20261128T025800Z" || len(rep.Kept) != 2 {
		t.Fatalf("report %+v, want only the backup older than 24h by the server's clock deleted", rep)
	}
}

// A pod whose clock is behind commits an id older than the newest: with
// keepLast 1 retention would delete the backup it just reported.
func TestRetentionKeepsTheBackupThisRunCommitted(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	completeBackup(t, s, "20261129T025800Z")
	completeBackup(t, s, "20261129T025500Z") // this run, whose clock is 3 min behind
	rep, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{KeepLast: 1},
		Options{LocalNow: c.now, Protect: map[string]string{"20261129T025500Z": "this run"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 0 || !strings.Contains(allKeys(t, s), "20261129T025500Z/manifest.json") {
		t.Fatalf("the run's own backup was deleted: %+v", rep)
	}
}

func verification(t *testing.T, s storage.Store, id, res string) {
	t.Helper()
	v := manifest.Verification{SchemaVersion: manifest.VerificationSchemaVersion, BackupID: id, Result: res, RestoreSeconds: map[string]float64{}}
	if res == manifest.VerificationFailed {
		v.Reason = "VerificationFailed"
	}
	b, _ := v.Marshal()
	store(t, s, manifest.VerificationKey("pg", id), string(b))
}

// The newest backup proven to restore is never deleted, whatever the
// policy: if every newer backup turns out to be unrestorable, the one
// that was restored stays. A failed or damaged record protects nothing,
// and a transient failure to read a record deletes nothing.
func TestRetentionKeepsTheNewestVerifiedBackup(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	ids := []string{"20261125T010000Z", "20261126T010000Z", "20261127T010000Z", "20261128T010000Z", "20261129T010000Z"}
	for _, id := range ids {
		completeBackup(t, s, id)
	}
	verification(t, s, ids[0], manifest.VerificationSucceeded)
	verification(t, s, ids[1], manifest.VerificationSucceeded) // the newest verified
	verification(t, s, ids[2], manifest.VerificationFailed)
	store(t, s, manifest.VerificationKey("pg", ids[3]), "{damaged")
	r := repo.Repo{Store: s, Prefix: "pg"}

	f := storagetest.NewFaulty(s)
	f.Inject(storagetest.Fault{Op: storagetest.OpGet, KeyContains: ids[1] + "/verification.json", Times: -1})
	before := allKeys(t, s)
	if _, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: f, Prefix: "pg"}, Policy{KeepLast: 1}, opts(c, false)); err == nil {
		t.Fatal("retention went on after failing to read a verification record")
	}
	if allKeys(t, s) != before {
		t.Fatal("retention deleted something after failing to read a verification record")
	}

	rep, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 1}, opts(c, false))
	if err != nil {
		t.Fatal(err)
	}
	var kept, deleted []string
	for _, d := range rep.Kept {
		kept = append(kept, d.ID)
	}
	for _, d := range rep.Deleted {
		deleted = append(deleted, d.ID)
	}
	if strings.Join(kept, ",") != ids[4]+","+ids[1] || strings.Join(deleted, ",") != ids[3]+","+ids[2]+","+ids[0] {
		t.Fatalf("kept %v, deleted %v; want the newest and the newest verified kept", kept, deleted)
	}
	if keys := allKeys(t, s); strings.Contains(keys, ids[0]+"/") || strings.Contains(keys, ids[2]+"/verification.json") {
		t.Fatalf("a deleted backup's verification record stayed: %s", keys)
	}
}

// Manifests that do not validate (garbage, a foreign tool's, a newer
// schema, one listing no data) are kept but fill no slot: keepLast 2
// still keeps two restorable backups.
func TestRetentionInvalidManifestsFillNoSlot(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	for _, id := range []string{"20261120T010000Z", "20261121T010000Z", "20261122T010000Z", "20261129T010000Z"} {
		completeBackup(t, s, id)
	}
	newer := validManifest("20261124T010000Z")
	newer.SchemaVersion = 99
	dataless := validManifest("20261125T010000Z")
	dataless.Databases = nil
	foreign := validManifest("20261126T010000Z")
	foreign.Databases[0].Key = "pg/20261120T010000Z/db/app.dump" // points into another backup
	for _, m := range []*manifest.Manifest{newer, dataless, foreign} {
		b, _ := m.Marshal()
		store(t, s, manifest.Key("pg", m.ID), string(b))
	}
	store(t, s, manifest.Key("pg", "20261127T010000Z"), "not json")
	rep, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{KeepLast: 2}, opts(c, false))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Invalid, " "); got != "20261124T010000Z 20261125T010000Z 20261126T010000Z 20261127T010000Z" {
		t.Errorf("invalid = %s", got)
	}
	var kept []string
	for _, d := range rep.Kept {
		kept = append(kept, d.ID)
	}
	if strings.Join(kept, " ") != "20261129T010000Z 20261122T010000Z" {
		t.Fatalf("kept %v, want the two newest valid backups", kept)
	}
	for _, id := range rep.Invalid {
		if !strings.Contains(allKeys(t, s), "pg/"+id+"/manifest.json") {
			t.Errorf("invalid manifest %s was deleted", id)
		}
	}
}

func TestRetentionRefusesWhenTheNewestManifestIsUnreadable(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	completeBackup(t, s, "20261127T010000Z")
	completeBackup(t, s, "20261128T010000Z")
	store(t, s, manifest.Key("pg", "20261129T010000Z"), "{truncated")
	before := allKeys(t, s)
	_, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{KeepLast: 1}, opts(c, false))
	assertRefused(t, s, err, before, "newest backup's manifest (20261129T010000Z)")
}

// A manifest that cannot be read for a transient reason (throttling)
// fails retention before anything is deleted; it is not "invalid".
func TestRetentionStopsOnATransientManifestReadError(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)}
	mem := newStore(c)
	for _, id := range []string{"20261127T010000Z", "20261128T010000Z", "20261129T010000Z"} {
		completeBackup(t, mem, id)
	}
	s := storagetest.NewFaulty(mem)
	s.Inject(storagetest.Fault{Op: storagetest.OpGet, KeyContains: "20261129T010000Z/manifest.json", Times: -1})
	before := allKeys(t, s)
	rep, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: s, Prefix: "pg"}, Policy{KeepLast: 1}, opts(c, false))
	if err == nil || result.ReasonOf(err) != result.ReasonStorageFailed || len(rep.Invalid) != 0 {
		t.Fatalf("err = %v, report %+v: want StorageFailed", err, rep)
	}
	if allKeys(t, s) != before {
		t.Fatal("retention deleted after a failed manifest read")
	}
}

// The sweep acts only on the destination's own id directories, and never
// on an id that shows any activity younger than SweepAge.
func TestSweepOnlyTouchesStaleIDsOfItsOwnPrefix(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}
	mem := newStore(c)
	completeBackup(t, mem, "20261119T230000Z")
	// Old leftovers: a foreign upload at the bucket's top, one under the
	// prefix but outside an id, another tool's prefix, and a failed run.
	for _, k := range []string{"elsewhere/x.dump", "pg/scratch.dump", "pg-old/20261119T000000Z/db/app.dump", "pg/20261119T000000Z/db/app.dump", "pg/20261119T120000Z/db/big.dump"} {
		mem.OpenUpload(k)
	}
	store(t, mem, "pg/20261119T000000Z/db/app.dump", "failed run")
	store(t, mem, "pg-old/20261119T000000Z/db/app.dump", "another prefix")
	store(t, mem, "pg/scratch/20261119T000000Z/x", "not an id directory")
	store(t, mem, "pg/20261119T120000Z/db/app.dump", "a long run's first object")
	c.t = c.t.Add(47 * time.Hour)
	store(t, mem, "pg/20261119T120000Z/db/other.dump", "the same run, still writing")
	c.t = c.t.Add(2 * time.Hour)
	rep, err := Apply(context.Background(), testr.New(t), repo.Repo{Store: mem, Prefix: "pg"}, Policy{KeepLast: 5}, opts(c, false))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Orphans, " ") != "20261119T000000Z" {
		t.Fatalf("orphans %v, want only the failed run", rep.Orphans)
	}
	if strings.Join(rep.AbortedUploads, " ") != "pg/20261119T000000Z/db/app.dump" {
		t.Fatalf("aborted uploads %v, want only the failed run's", rep.AbortedUploads)
	}
	ups, _ := mem.Uploads(context.Background(), "")
	if len(ups) != 4 {
		t.Fatalf("open uploads after the sweep: %+v", ups)
	}
	got := allKeys(t, mem)
	for _, k := range []string{"pg-old/20261119T000000Z/db/app.dump", "pg/scratch/20261119T000000Z/x", "pg/20261119T120000Z/db/app.dump"} {
		if !strings.Contains(got, k) {
			t.Errorf("%s was swept", k)
		}
	}
}

// Object Lock: a backup the bucket refuses to delete is kept whole and
// reported as locked, the others are deleted, and nothing fails. A locked
// leftover of a failed run is kept and reported too.
func TestRetentionKeepsWhatObjectLockKeeps(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)}
	s := newStore(c)
	for _, id := range []string{"20261125T010000Z", "20261126T010000Z", "20261127T010000Z", "20261128T010000Z"} {
		completeBackup(t, s, id)
	}
	store(t, s, "pg/20261124T020000Z/db/app.dump", "a failed run's object")
	// Default retention locks each object from its creation: the oldest
	// backup and the leftover are still locked, the next one no longer.
	s.Locked = func(key string) bool {
		return strings.HasPrefix(key, "pg/20261125T010000Z/") || strings.HasPrefix(key, "pg/20261124T020000Z/")
	}
	c.t = c.t.Add(48 * time.Hour)
	r := repo.Repo{Store: s, Prefix: "pg"}
	rep, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, opts(c, false))
	if err != nil {
		t.Fatalf("Apply: %v (a lock is not a failure)", err)
	}
	if strings.Join(rep.Locked, " ") != "20261125T010000Z 20261124T020000Z" {
		t.Errorf("locked %q, want the oldest backup and the leftover", rep.Locked)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].ID != "20261126T010000Z" || len(rep.Orphans) != 0 {
		t.Errorf("deleted %+v, orphans %q: want only 20261126T010000Z deleted", rep.Deleted, rep.Orphans)
	}
	// The locked backup is still whole: it lists, with its manifest.
	entries, err := r.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.ID == "20261125T010000Z" && !e.Complete {
			t.Errorf("the locked backup lost its manifest: %+v", e)
		}
	}
	if keys := allKeys(t, s); !strings.Contains(keys, "pg/20261125T010000Z/manifest.json") || !strings.Contains(keys, "pg/20261125T010000Z/db/app.dump") {
		t.Errorf("the locked backup is not whole: %s", keys)
	}
}
