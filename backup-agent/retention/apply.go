package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// SweepAge is how old leftovers of failed runs (objects without a
// manifest, open multipart uploads) must be before they are removed: old
// enough that no run still in progress can own them.
const SweepAge = 24 * time.Hour

// DefaultMaxSkew is how far the local clock may be from the storage
// server's, and a backup id may lie in the server's future, before
// retention refuses to delete anything.
const DefaultMaxSkew = 5 * time.Minute

// Options tune one Apply.
type Options struct {
	// Protect are backup ids never deleted, with why (the backup the run
	// just committed: "this run").
	Protect map[string]string
	// DryRun only reports.
	DryRun bool
	// LocalNow is the local clock, compared with the server's; time.Now
	// when nil.
	LocalNow func() time.Time
	// MaxSkew overrides DefaultMaxSkew when positive.
	MaxSkew time.Duration
}

// Report is what Apply did (or, dry, would do).
type Report struct {
	// ServerTime is the storage server's clock, against which ages were
	// measured.
	ServerTime time.Time
	// Kept and Deleted are complete backups, newest first.
	Kept    []Decision
	Deleted []Decision
	// Invalid are ids whose manifest exists but does not read or validate:
	// kept, filling no keep slot, and reported.
	Invalid []string
	// Orphans are ids of incomplete backups whose objects were removed.
	Orphans []string
	// AbortedUploads are keys of multipart uploads that were aborted.
	AbortedUploads []string
	// Locked are ids of backups (complete, or incomplete leftovers) that
	// were due for deletion but are under S3 Object Lock: the bucket keeps
	// them until the lock ends, and the next run tries again. A warning,
	// never a failure. A complete backup stays whole: its manifest, written
	// last, is locked at least as long as its data.
	Locked []string
}

// Apply enforces the policy under the repository's prefix and sweeps
// leftovers older than SweepAge. Callers run it only after a fully
// successful backup (or by hand, with prune).
//
// It deletes nothing, and returns a Refused error, when it cannot trust
// its inputs: the local clock disagrees with the storage server's, a
// backup id lies in the server's future, or the newest manifest does not
// read. Ages are measured against the server's clock. A manifest that
// cannot be read for another reason (throttling, a timeout) fails Apply
// before anything is deleted.
func Apply(ctx context.Context, log logr.Logger, r repo.Repo, p Policy, o Options) (Report, error) {
	var rep Report
	now, err := trustedNow(ctx, r.Store, o)
	if err != nil {
		return rep, err
	}
	rep.ServerTime = now
	entries, err := r.Scan(ctx)
	if err != nil {
		return rep, err
	}
	valid, err := readManifests(ctx, log, r, entries, &rep)
	if err != nil {
		return rep, err
	}
	if err := checkTrust(entries, valid, now, o.maxSkew()); err != nil {
		return rep, err
	}
	verified, err := newestVerified(ctx, log, r, entries, valid)
	if err != nil {
		return rep, err
	}
	byID := map[string]repo.Entry{}
	var backups []Backup
	for _, e := range entries {
		byID[e.ID] = e
		if valid[e.ID] {
			why := o.Protect[e.ID]
			if why == "" && e.ID == verified {
				why = "newest verified backup"
			}
			backups = append(backups, Backup{ID: e.ID, Started: e.Started, Protected: why})
		}
	}
	for _, d := range Decide(backups, p, now) {
		if d.Keep {
			rep.Kept = append(rep.Kept, d)
			continue
		}
		if o.DryRun {
			rep.Deleted = append(rep.Deleted, d)
			continue
		}
		if err := deleteBackup(ctx, r, byID[d.ID]); err != nil {
			if errors.Is(err, storage.ErrObjectLocked) {
				// The bucket keeps it (Object Lock): retained, not failed.
				rep.Locked = append(rep.Locked, d.ID)
				log.Info("Backup kept: it is under S3 Object Lock (warning)", "backupId", d.ID, "error", err.Error())
				continue
			}
			return rep, err
		}
		rep.Deleted = append(rep.Deleted, d)
		log.Info("Deleted backup by retention", "backupId", d.ID, "started", d.Started.UTC().Format(time.RFC3339))
	}
	return rep, sweep(ctx, log, r, entries, now, o, &rep)
}

// newestVerified returns the id of the newest valid backup whose
// verification succeeded ("" when none): retention never deletes it, so
// that a backup proven to restore always remains, whatever the policy.
// A record that cannot be read for a transient reason stops retention
// before anything is deleted; a damaged one is passed over.
func newestVerified(ctx context.Context, log logr.Logger, r repo.Repo, entries []repo.Entry, valid map[string]bool) (string, error) {
	for _, e := range slices.Backward(entries) {
		if !valid[e.ID] || !e.HasVerification() {
			continue
		}
		v, err := r.Verification(ctx, e.ID)
		if err != nil {
			if result.ReasonOf(err) == result.ReasonIntegrityFailed {
				log.Info("Ignoring a damaged verification record (warning)", "backupId", e.ID, "why", err.Error())
				continue
			}
			return "", fmt.Errorf("retention stopped before deleting anything: %w", err)
		}
		if v.Succeeded() {
			return e.ID, nil
		}
	}
	return "", nil
}

func (o Options) maxSkew() time.Duration {
	if o.MaxSkew > 0 {
		return o.MaxSkew
	}
	return DefaultMaxSkew
}

// trustedNow returns the storage server's time, after checking that the
// local clock agrees with it: a pod whose clock is wrong must not decide
// what is old.
func trustedNow(ctx context.Context, s storage.Store, o Options) (time.Time, error) {
	localNow := time.Now
	if o.LocalNow != nil {
		localNow = o.LocalNow
	}
	server, err := s.ServerTime(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the storage server's clock: %w", err)
	}
	local := localNow()
	if skew := local.Sub(server); skew > o.maxSkew() || -skew > o.maxSkew() {
		return time.Time{}, result.Errorf(result.ReasonRefused,
			"retention refused: the local clock (%s) is %s off the storage server's (%s), more than the %s tolerated; nothing was deleted (fix the node's time sync)",
			local.UTC().Format(time.RFC3339), skew.Round(time.Second).Abs(), server.UTC().Format(time.RFC3339), o.maxSkew())
	}
	return server, nil
}

// readManifests reads every complete entry's manifest and returns the ids
// of those that validate. Damaged ones are recorded in rep.Invalid; any
// other read error is returned.
func readManifests(ctx context.Context, log logr.Logger, r repo.Repo, entries []repo.Entry, rep *Report) (map[string]bool, error) {
	var ids []string
	for _, e := range entries {
		if e.Complete {
			ids = append(ids, e.ID)
		}
	}
	_, errs := r.Manifests(ctx, ids)
	valid := map[string]bool{}
	for i, id := range ids {
		switch err := errs[i]; {
		case err == nil:
			valid[id] = true
		case result.ReasonOf(err) == result.ReasonIntegrityFailed:
			rep.Invalid = append(rep.Invalid, id)
			log.Info("Kept a backup whose manifest does not validate; it fills no retention slot (warning)", "backupId", id, "why", err.Error())
		default:
			return nil, fmt.Errorf("retention: read the manifest of %s (nothing was deleted): %w", id, err)
		}
	}
	return valid, nil
}

// checkTrust refuses to act when the newest manifest is unreadable (what
// is "newest" is then unknown) or when a backup id lies in the future.
func checkTrust(entries []repo.Entry, valid map[string]bool, now time.Time, skew time.Duration) error {
	for _, e := range slices.Backward(entries) {
		if e.Started.After(now.Add(skew)) {
			return result.Errorf(result.ReasonRefused,
				"retention refused: backup %s lies %s in the future of the storage server's clock (%s); it was made by a run with a wrong clock, and would pass for the newest backup: nothing was deleted; check it, then delete it by hand",
				e.ID, e.Started.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339))
		}
	}
	for _, e := range slices.Backward(entries) {
		if !e.Complete {
			continue
		}
		if !valid[e.ID] {
			return result.Errorf(result.ReasonRefused,
				"retention refused: the newest backup's manifest (%s) does not read or validate, so which backups are newest is unknown; nothing was deleted", e.ID)
		}
		return nil
	}
	return nil
}

// sweep removes incomplete backups and aborts open multipart uploads, only
// under the prefix's own id-shaped directories, and only when nothing of
// the id is younger than SweepAge: its claim, objects and open uploads.
// A run still writing always has something younger.
func sweep(ctx context.Context, log logr.Logger, r repo.Repo, entries []repo.Entry, now time.Time, o Options, rep *Report) error {
	uploads, err := r.Store.Uploads(ctx, prefixDir(r.Prefix))
	if err != nil {
		return err
	}
	cutoff := now.Add(-SweepAge)
	// youngest is the newest activity seen under each id.
	youngest := map[string]time.Time{}
	seen := func(id string, t time.Time) {
		if t.After(youngest[id]) {
			youngest[id] = t
		}
	}
	var ours []storage.PendingUpload
	for _, u := range uploads {
		id, ok := idOf(r.Prefix, u.Key)
		if !ok {
			continue // not ours: another tool's upload under the bucket or prefix
		}
		seen(id, u.Initiated)
		ours = append(ours, u)
	}
	for _, e := range entries {
		seen(e.ID, e.Started)
		for _, obj := range e.Objects {
			seen(e.ID, obj.LastModified)
		}
	}
	stale := func(id string) bool { return o.Protect[id] == "" && youngest[id].Before(cutoff) }
	for _, e := range entries {
		if e.Complete || !stale(e.ID) {
			continue
		}
		if o.DryRun {
			rep.Orphans = append(rep.Orphans, e.ID)
			continue
		}
		if err := r.Store.Delete(ctx, keys(e.Objects)...); err != nil {
			if errors.Is(err, storage.ErrObjectLocked) {
				rep.Locked = append(rep.Locked, e.ID)
				log.Info("Incomplete backup kept: it is under S3 Object Lock (warning)", "backupId", e.ID, "error", err.Error())
				continue
			}
			return fmt.Errorf("sweep incomplete backup %s: %w", e.ID, err)
		}
		rep.Orphans = append(rep.Orphans, e.ID)
		log.Info("Swept an incomplete backup (no manifest)", "backupId", e.ID, "objects", len(e.Objects))
	}
	for _, u := range ours {
		id, _ := idOf(r.Prefix, u.Key)
		if !stale(id) {
			continue
		}
		rep.AbortedUploads = append(rep.AbortedUploads, u.Key)
		if o.DryRun {
			continue
		}
		if err := r.Store.AbortUpload(ctx, u); err != nil {
			return fmt.Errorf("abort stale upload of %s: %w", u.Key, err)
		}
		log.Info("Aborted a multipart upload left open", "key", u.Key, "initiated", u.Initiated.UTC().Format(time.RFC3339))
	}
	return nil
}

// idOf returns the backup id of a key directly under prefix
// (PREFIX/<id>/...), or false when the key is not in a backup directory.
func idOf(prefix, key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, prefixDir(prefix))
	if !ok {
		return "", false
	}
	id, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return "", false
	}
	if _, _, err := manifest.ParseID(id); err != nil {
		return "", false
	}
	return id, true
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
