package retention

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// fakeVersions is a versioned bucket's listing; deletes of locked
// versions are refused as S3 does.
type fakeVersions struct {
	versions []storage.Version
	locked   map[string]bool // KEY?versionId=ID
	deleted  []string
}

func (f *fakeVersions) ListVersions(_ context.Context, prefix string, fn func(storage.Version) error) error {
	for _, v := range f.versions {
		if strings.HasPrefix(v.Key, prefix) {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeVersions) DeleteVersions(_ context.Context, vs []storage.Version) error {
	var locked []string
	for _, v := range vs {
		name := v.Key + "?versionId=" + v.VersionID
		if f.locked[name] {
			locked = append(locked, name)
			continue
		}
		f.deleted = append(f.deleted, name)
	}
	if len(locked) > 0 {
		return result.Wrap(result.ReasonStorageFailed, &storage.LockedError{Bucket: "b", Keys: locked})
	}
	return nil
}

func TestPruneVersions(t *testing.T) {
	v := func(key, id string, latest, marker bool) storage.Version {
		return storage.Version{Key: key, VersionID: id, Latest: latest, DeleteMarker: marker, Size: 10}
	}
	f := &fakeVersions{
		versions: []storage.Version{
			// A backup deleted by retention: data and manifest behind markers.
			v("pg/20261101T000000Z/manifest.json", "m1", false, false), v("pg/20261101T000000Z/manifest.json", "d1", true, true),
			v("pg/20261101T000000Z/db/app.dump", "a1", false, false), v("pg/20261101T000000Z/db/app.dump", "d2", true, true),
			// A deleted backup whose manifest version is still locked.
			v("pg/20261102T000000Z/manifest.json", "m2", false, false), v("pg/20261102T000000Z/manifest.json", "d3", true, true),
			v("pg/20261102T000000Z/db/app.dump", "a2", false, false), v("pg/20261102T000000Z/db/app.dump", "d4", true, true),
			// A live backup: current versions only.
			v("pg/20261103T000000Z/manifest.json", "m3", true, false),
			// Not ours: another tool's files under the prefix and beside it.
			v("pg/README", "r1", false, false), v("pg/README", "r2", true, true), v("pgother/20261101T000000Z/x", "o1", false, false),
		},
		locked: map[string]bool{"pg/20261102T000000Z/manifest.json?versionId=m2": true},
	}
	r := repo.Repo{Prefix: "pg"}
	dry, err := PruneVersions(context.Background(), testr.New(t), r, f, true)
	if err != nil || dry.Versions != 4 || dry.Markers != 4 || len(f.deleted) != 0 {
		t.Fatalf("dry run %+v (%v), deleted %q", dry, err, f.deleted)
	}
	rep, err := PruneVersions(context.Background(), testr.New(t), r, f, false)
	if err != nil {
		t.Fatalf("PruneVersions: %v (a lock is a warning)", err)
	}
	want := []string{
		"pg/20261101T000000Z/manifest.json?versionId=m1", "pg/20261101T000000Z/db/app.dump?versionId=a1",
		"pg/20261102T000000Z/db/app.dump?versionId=a2",
		// markers only where nothing locked is left behind them
		"pg/20261101T000000Z/manifest.json?versionId=d1", "pg/20261101T000000Z/db/app.dump?versionId=d2",
		"pg/20261102T000000Z/db/app.dump?versionId=d4",
	}
	if !slices.Equal(f.deleted, want) {
		t.Errorf("deleted\n%q\nwant\n%q", f.deleted, want)
	}
	if rep.Versions != 3 || rep.Markers != 3 || rep.Bytes != 30 || !slices.Equal(rep.Locked, []string{"pg/20261102T000000Z/manifest.json?versionId=m2"}) {
		t.Errorf("report %+v", rep)
	}
}
