package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// SweepAge is how old leftovers of failed runs (objects without a
// manifest, open multipart uploads) must be before they are removed: old
// enough that no run still in progress can own them.
const SweepAge = 24 * time.Hour

// Report is what Apply did (or, dry, would do).
type Report struct {
	// Kept and Deleted are complete backups, newest first.
	Kept    []Decision
	Deleted []Decision
	// Orphans are ids of incomplete backups whose objects were removed.
	Orphans []string
	// AbortedUploads are keys of multipart uploads that were aborted.
	AbortedUploads []string
}

// Apply enforces the policy under the repository's prefix at time now,
// and sweeps leftovers older than SweepAge. With dryRun it only reports.
// Callers run it only after a fully successful backup.
func Apply(ctx context.Context, log logr.Logger, r repo.Repo, p Policy, now time.Time, dryRun bool) (Report, error) {
	var rep Report
	entries, err := r.Scan(ctx)
	if err != nil {
		return rep, err
	}
	var complete []Backup
	byID := map[string]repo.Entry{}
	for _, e := range entries {
		byID[e.ID] = e
		if e.Complete {
			complete = append(complete, Backup{ID: e.ID, Started: e.Started})
		}
	}
	for _, d := range Decide(complete, p, now) {
		if d.Keep {
			rep.Kept = append(rep.Kept, d)
			continue
		}
		rep.Deleted = append(rep.Deleted, d)
		if dryRun {
			continue
		}
		if err := deleteBackup(ctx, r, byID[d.ID]); err != nil {
			return rep, err
		}
		log.Info("Deleted backup by retention", "backupId", d.ID, "started", d.Started.UTC().Format(time.RFC3339))
	}
	for _, e := range entries {
		if e.Complete || !olderThan(e.Objects, now.Add(-SweepAge)) {
			continue
		}
		rep.Orphans = append(rep.Orphans, e.ID)
		if dryRun {
			continue
		}
		if err := r.Store.Delete(ctx, keys(e.Objects)...); err != nil {
			return rep, fmt.Errorf("sweep incomplete backup %s: %w", e.ID, err)
		}
		log.Info("Swept an incomplete backup (no manifest)", "backupId", e.ID, "objects", len(e.Objects))
	}
	uploads, err := r.Store.Uploads(ctx, prefixDir(r.Prefix))
	if err != nil {
		return rep, err
	}
	for _, u := range uploads {
		if u.Initiated.After(now.Add(-SweepAge)) {
			continue
		}
		rep.AbortedUploads = append(rep.AbortedUploads, u.Key)
		if dryRun {
			continue
		}
		if err := r.Store.AbortUpload(ctx, u); err != nil {
			return rep, fmt.Errorf("abort stale upload of %s: %w", u.Key, err)
		}
		log.Info("Aborted a multipart upload left open", "key", u.Key, "initiated", u.Initiated.UTC().Format(time.RFC3339))
	}
	return rep, nil
}

// deleteBackup removes the manifest first: from then on the backup is
// incomplete, so an interruption never leaves one that looks whole.
func deleteBackup(ctx context.Context, r repo.Repo, e repo.Entry) error {
	mkey := manifest.Key(r.Prefix, e.ID)
	if err := r.Store.Delete(ctx, mkey); err != nil {
		return fmt.Errorf("delete backup %s: manifest: %w", e.ID, err)
	}
	var rest []string
	for _, o := range e.Objects {
		if o.Key != mkey {
			rest = append(rest, o.Key)
		}
	}
	if err := r.Store.Delete(ctx, rest...); err != nil {
		return fmt.Errorf("delete backup %s (manifest already gone; the rest is swept later): %w", e.ID, err)
	}
	return nil
}

// olderThan reports whether every object was last modified before t.
func olderThan(objs []storage.Object, t time.Time) bool {
	for _, o := range objs {
		if !o.LastModified.Before(t) {
			return false
		}
	}
	return len(objs) > 0
}

func keys(objs []storage.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

func prefixDir(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}
