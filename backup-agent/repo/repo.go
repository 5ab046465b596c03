package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// maxManifestBytes bounds a manifest read: a manifest lists objects, not
// data, so anything larger is not one of ours.
const maxManifestBytes = 16 << 20

// fetchConcurrency is how many manifests are read at once when listing.
const fetchConcurrency = 8

// Entry is one backup id found under the prefix.
type Entry struct {
	ID string
	// Started is the start time encoded in the id.
	Started time.Time
	// Complete is true when the backup has a manifest.
	Complete bool
	// Objects are every object stored under the backup's directory,
	// manifest included.
	Objects []storage.Object
}

// Repo is the backups under one prefix of a store.
type Repo struct {
	Store  storage.Store
	Prefix string
}

// Scan lists every backup id under the prefix, complete or not, oldest
// first, from one paginated listing. Keys that are not under a backup id
// directory are ignored.
func (r Repo) Scan(ctx context.Context) ([]Entry, error) {
	base := ""
	if r.Prefix != "" {
		base = r.Prefix + "/"
	}
	byID := map[string]*Entry{}
	err := r.Store.List(ctx, base, func(o storage.Object) error {
		rest := strings.TrimPrefix(o.Key, base)
		id, name, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		started, _, err := manifest.ParseID(id)
		if err != nil {
			return nil // not a backup directory
		}
		e := byID[id]
		if e == nil {
			e = &Entry{ID: id, Started: started}
			byID[id] = e
		}
		e.Objects = append(e.Objects, o)
		if name == manifest.FileName {
			e.Complete = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	entries := make([]Entry, 0, len(byID))
	for _, e := range byID {
		entries = append(entries, *e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return manifest.CompareIDs(a.ID, b.ID) })
	return entries, nil
}

// Manifest reads and validates the manifest of backup id. A missing
// manifest or one that does not validate is IntegrityFailed: the backup
// is incomplete or damaged, and must not be restored.
func (r Repo) Manifest(ctx context.Context, id string) (*manifest.Manifest, error) {
	key := manifest.Key(r.Prefix, id)
	data, err := r.readSmall(ctx, key, "manifest")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, result.Errorf(result.ReasonIntegrityFailed,
			"backup %s has no manifest (%s): it does not exist or never completed, and cannot be restored", id, key)
	}
	if err != nil {
		return nil, err
	}
	m, err := manifest.Unmarshal(data)
	if err != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "manifest %s: %w", key, err)
	}
	if m.ID != id {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "manifest %s names backup %q", key, m.ID)
	}
	if err := m.CheckKeys(r.Prefix); err != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "manifest %s: %w", key, err)
	}
	return m, nil
}

// readSmall reads a metadata object (a manifest, a verification record)
// whole, refusing one larger than maxManifestBytes: metadata lists
// objects, it does not hold data, so anything larger is not ours. A
// missing object is returned as an error matching storage.ErrNotFound.
func (r Repo) readSmall(ctx context.Context, key, what string) ([]byte, error) {
	rc, err := r.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, result.Errorf(result.ReasonStorageFailed, "read %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s %s is larger than %d bytes", what, key, maxManifestBytes)
	}
	return data, nil
}

// Verification reads the verification record of backup id: nil (and no
// error) when the backup has none. A record that does not validate, or
// names another backup, is IntegrityFailed.
func (r Repo) Verification(ctx context.Context, id string) (*manifest.Verification, error) {
	key := manifest.VerificationKey(r.Prefix, id)
	data, err := r.readSmall(ctx, key, "verification record")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := manifest.UnmarshalVerification(data)
	if err != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "verification record %s: %w", key, err)
	}
	if v.BackupID != id {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "verification record %s names backup %q", key, v.BackupID)
	}
	return v, nil
}

// HasVerification reports whether a scanned entry holds a verification
// record (read it with Verification).
func (e Entry) HasVerification() bool {
	for _, o := range e.Objects {
		if strings.HasSuffix(o.Key, "/"+manifest.VerificationFileName) {
			return true
		}
	}
	return false
}

// Complete returns the manifests of every complete backup, newest first.
// A manifest that cannot be read or does not validate is reported through
// skip (and left out) rather than hiding every other backup.
func (r Repo) Complete(ctx context.Context, skip func(id string, err error)) ([]*manifest.Manifest, error) {
	listed, err := r.list(ctx, skip, false)
	if err != nil {
		return nil, err
	}
	out := make([]*manifest.Manifest, len(listed))
	for i, b := range listed {
		out[i] = b.Manifest
	}
	return out, nil
}

// Backup is a complete backup and its verification record, if any.
type Backup struct {
	*manifest.Manifest
	// Verification is nil when the backup was never verified.
	Verification *manifest.Verification `json:"verification,omitempty"`
	// VerificationError says why a stored record could not be used.
	VerificationError string `json:"verificationError,omitempty"`
}

// List returns every complete backup with its verification record,
// newest first; damaged manifests are reported through skip. A damaged
// record is kept as VerificationError; a transient failure to read one
// fails the listing.
func (r Repo) List(ctx context.Context, skip func(id string, err error)) ([]Backup, error) {
	return r.list(ctx, skip, true)
}

func (r Repo) list(ctx context.Context, skip func(id string, err error), verifications bool) ([]Backup, error) {
	entries, err := r.Scan(ctx)
	if err != nil {
		return nil, err
	}
	var complete []Entry
	for _, e := range slices.Backward(entries) {
		if e.Complete {
			complete = append(complete, e)
		}
	}
	ids := make([]string, len(complete))
	for i, e := range complete {
		ids[i] = e.ID
	}
	manifests, errs := r.Manifests(ctx, ids)
	out := make([]Backup, 0, len(ids))
	for i, m := range manifests {
		if errs[i] != nil {
			if result.ReasonOf(errs[i]) != result.ReasonIntegrityFailed {
				return nil, errs[i]
			}
			if skip != nil {
				skip(ids[i], errs[i])
			}
			continue
		}
		b := Backup{Manifest: m}
		if verifications && complete[i].HasVerification() {
			v, err := r.Verification(ctx, m.ID)
			switch {
			case err == nil:
				b.Verification = v
			case result.ReasonOf(err) == result.ReasonIntegrityFailed:
				b.VerificationError = err.Error()
			default:
				return nil, err
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// Manifests reads the manifests of ids, fetchConcurrency at a time, and
// returns them with their errors, index for index.
func (r Repo) Manifests(ctx context.Context, ids []string) ([]*manifest.Manifest, []error) {
	manifests := make([]*manifest.Manifest, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, fetchConcurrency)
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			manifests[i], errs[i] = r.Manifest(ctx, id)
		})
	}
	wg.Wait()
	return manifests, errs
}

// LatestVerified is the Selector.ID of the newest backup whose
// verification succeeded.
const LatestVerified = "latest-verified"

// Selector names a backup: the latest, the latest verified, an id, or the
// newest at or before a time.
type Selector struct {
	// ID is "latest" (or empty), "latest-verified" or a backup id.
	ID string
	// At, when set, picks the newest complete backup started at or before it.
	At time.Time
	// OnSkip, when set, is told of every newer backup that was passed over
	// because its manifest is damaged (IntegrityFailed), so that callers can
	// say which backup they did not restore and why.
	OnSkip func(id string, err error)
}

// Resolve returns the manifest of the selected backup.
func (r Repo) Resolve(ctx context.Context, sel Selector) (*manifest.Manifest, error) {
	verified := sel.ID == LatestVerified
	if sel.ID != "" && sel.ID != "latest" && !verified {
		if _, _, err := manifest.ParseID(sel.ID); err != nil {
			return nil, result.Wrap(result.ReasonConfigInvalid, err)
		}
		return r.Manifest(ctx, sel.ID)
	}
	entries, err := r.Scan(ctx)
	if err != nil {
		return nil, err
	}
	// Only a damaged manifest is passed over: a transient failure to read
	// the newest one (throttling, a timeout) must fail the resolution, never
	// silently pick an older backup.
	var lastErr error
	for _, e := range slices.Backward(entries) {
		if !e.Complete || (!sel.At.IsZero() && e.Started.After(sel.At)) || (verified && !e.HasVerification()) {
			continue
		}
		if verified {
			v, err := r.Verification(ctx, e.ID)
			if err != nil && result.ReasonOf(err) != result.ReasonIntegrityFailed {
				return nil, fmt.Errorf("read the verification record of backup %s: %w", e.ID, err)
			}
			if err != nil || !v.Succeeded() {
				if err == nil {
					err = result.Errorf(result.ReasonIntegrityFailed, "its verification failed: %s", v.Message)
				}
				lastErr = err
				if sel.OnSkip != nil {
					sel.OnSkip(e.ID, err)
				}
				continue
			}
		}
		m, err := r.Manifest(ctx, e.ID)
		if err != nil {
			if result.ReasonOf(err) != result.ReasonIntegrityFailed {
				return nil, fmt.Errorf("read the manifest of backup %s: %w", e.ID, err)
			}
			lastErr = err
			if sel.OnSkip != nil {
				sel.OnSkip(e.ID, err)
			}
			continue
		}
		return m, nil
	}
	where := "under this destination"
	if verified {
		where = "with a successful verification under this destination"
	}
	if !sel.At.IsZero() {
		where = "started at or before " + sel.At.UTC().Format(time.RFC3339)
	}
	if lastErr != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "no readable complete backup %s: %w", where, lastErr)
	}
	return nil, result.Errorf(result.ReasonIntegrityFailed, "no complete backup %s", where)
}
