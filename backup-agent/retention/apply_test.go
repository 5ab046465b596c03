package retention

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

func store(t *testing.T, s storage.Store, key, body string) {
	t.Helper()
	if _, err := s.Upload(context.Background(), key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func completeBackup(t *testing.T, s storage.Store, id string) {
	t.Helper()
	started, _, _ := manifest.ParseID(id)
	key := manifest.DatabaseKey("pg", id, "app", manifest.FormatCustom, "")
	store(t, s, key, "dump")
	m := manifest.Manifest{SchemaVersion: 1, ID: id, Status: manifest.StatusComplete, StartedAt: started, Format: manifest.FormatCustom,
		Compression: "none", Databases: []manifest.Object{{Name: "app", Key: key, Size: 4, SHA256: strings.Repeat("a", 64)}}}
	b, _ := m.Marshal()
	store(t, s, manifest.Key("pg", id), string(b))
}

func allKeys(t *testing.T, s storage.Store) string {
	t.Helper()
	var ks []string
	_ = s.List(context.Background(), "", func(o storage.Object) error { ks = append(ks, o.Key); return nil })
	return strings.Join(ks, " ")
}

func TestApply(t *testing.T) {
	s := &storage.MemStore{}
	for _, id := range []string{"20261125T010000Z", "20261126T010000Z", "20261127T010000Z", "20261128T010000Z"} {
		completeBackup(t, s, id)
	}
	store(t, s, "pg/20261128T020000Z/app.dump", "a failed run's object") // orphan
	store(t, s, "pg/README", "not a backup")
	r := repo.Repo{Store: s, Prefix: "pg"}
	// Two days from now, so the orphan is past SweepAge.
	now := time.Now().Add(48 * time.Hour)

	dry, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, now, true)
	if err != nil {
		t.Fatal(err)
	}
	before := allKeys(t, s)
	if len(dry.Deleted) != 2 || len(dry.Orphans) != 1 || dry.Deleted[0].ID != "20261126T010000Z" {
		t.Fatalf("dry run report %+v", dry)
	}
	if allKeys(t, s) != before {
		t.Fatal("a dry run changed the store")
	}

	rep, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "pg/20261127T010000Z/app.dump pg/20261127T010000Z/manifest.json pg/20261128T010000Z/app.dump pg/20261128T010000Z/manifest.json pg/README"
	if got := allKeys(t, s); got != want {
		t.Fatalf("after retention:\n got %s\nwant %s", got, want)
	}
	if len(rep.Kept) != 2 || len(rep.Deleted) != 2 || strings.Join(rep.Orphans, ",") != "20261128T020000Z" {
		t.Fatalf("report %+v", rep)
	}

	// A fresh orphan (a run in progress) is left alone.
	store(t, s, "pg/20261129T000000Z/app.dump", "in progress")
	rep, err = Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 2}, time.Now(), false)
	if err != nil || len(rep.Orphans) != 0 || !strings.Contains(allKeys(t, s), "pg/20261129T000000Z/app.dump") {
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
	mem := &storage.MemStore{}
	completeBackup(t, mem, "20261101T010000Z")
	completeBackup(t, mem, "20261102T010000Z")
	s := failingDelete{MemStore: mem, fail: "pg/20261101T010000Z/app.dump"}
	r := repo.Repo{Store: s, Prefix: "pg"}
	if _, err := Apply(context.Background(), testr.New(t), r, Policy{KeepLast: 1}, time.Now(), false); err == nil {
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
