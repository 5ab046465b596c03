package retention

import (
	"context"
	"errors"
	"strings"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// VersionReport is what PruneVersions removed, or would remove.
type VersionReport struct {
	// Versions are noncurrent versions (older data, old delete markers).
	Versions int
	// Bytes is their size.
	Bytes int64
	// Markers are delete markers removed once nothing was left behind them.
	Markers int
	// Locked are versions left under Object Lock, as KEY?versionId=ID.
	Locked []string
}

// PruneVersions removes what deletes leave behind in a versioned bucket,
// in the repository's own backup directories only (PREFIX/<id>/): every
// noncurrent version and, for a key whose current version is a delete
// marker, that marker once every version behind it is gone. It never
// touches a current version, and never removes a marker while a locked
// version remains behind it, which would bring that version (an old
// manifest) back. Versions under Object Lock are reported, not failed.
func PruneVersions(ctx context.Context, log logr.Logger, r repo.Repo, v storage.Versioned, dryRun bool) (VersionReport, error) {
	var rep VersionReport
	type key struct {
		noncurrent []storage.Version
		marker     *storage.Version
	}
	byKey := map[string]*key{}
	var order []string
	err := v.ListVersions(ctx, prefixDir(r.Prefix), func(ver storage.Version) error {
		if _, ok := idOf(r.Prefix, ver.Key); !ok {
			return nil // not a backup's key: another tool's, or a stray
		}
		k := byKey[ver.Key]
		if k == nil {
			k = &key{}
			byKey[ver.Key] = k
			order = append(order, ver.Key)
		}
		switch {
		case ver.Latest && ver.DeleteMarker:
			m := ver
			k.marker = &m
		case !ver.Latest:
			k.noncurrent = append(k.noncurrent, ver)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	var old []storage.Version
	for _, name := range order {
		for _, ver := range byKey[name].noncurrent {
			old = append(old, ver)
			rep.Versions++
			rep.Bytes += ver.Size
		}
	}
	if dryRun {
		for _, name := range order {
			if byKey[name].marker != nil {
				rep.Markers++
			}
		}
		return rep, nil
	}
	lockedKeys := map[string]bool{}
	if err := v.DeleteVersions(ctx, old); err != nil {
		var le *storage.LockedError
		if !errors.As(err, &le) {
			return rep, err
		}
		rep.Locked = le.Keys
		size := map[string]int64{}
		for _, ver := range old {
			size[ver.Key+"?versionId="+ver.VersionID] = ver.Size
		}
		for _, name := range le.Keys {
			lockedKeys[keyOfVersion(name)] = true
			rep.Bytes -= size[name]
		}
		rep.Versions -= len(le.Keys)
		log.Info("Noncurrent versions kept: they are under S3 Object Lock (warning)", "versions", len(le.Keys), "first", le.Keys[0])
	}
	var markers []storage.Version
	for _, name := range order {
		if m := byKey[name].marker; m != nil && !lockedKeys[name] {
			markers = append(markers, *m)
		}
	}
	if err := v.DeleteVersions(ctx, markers); err != nil {
		return rep, err
	}
	rep.Markers = len(markers)
	log.Info("Pruned noncurrent versions", "versions", rep.Versions, "bytes", rep.Bytes, "deleteMarkers", rep.Markers, "locked", len(rep.Locked))
	return rep, nil
}

// keyOfVersion is the key of a KEY?versionId=ID name.
func keyOfVersion(name string) string {
	if i := strings.LastIndex(name, "?versionId="); i >= 0 {
		return name[:i]
	}
	return name
}
