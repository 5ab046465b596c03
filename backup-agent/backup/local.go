package backup

import (
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// localCopies keeps the stored objects (as stored: compressed, encrypted)
// of the newest complete backups on the spool volume too, for restores
// that should not wait for S3 (--keep-local). A copy counts as complete
// only once its manifest.json is written, after the backup's own.
type localCopies struct {
	root string // <spool>/local
	keep int
}

func (l localCopies) enabled() bool { return l.keep > 0 }

// create opens the local copy of the object key of backup id.
func (l localCopies) create(id, key string) (*os.File, error) {
	dir := filepath.Join(l.root, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, result.Errorf(result.ReasonStorageFailed, "local copy: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, path.Base(key)))
	if err != nil {
		return nil, result.Errorf(result.ReasonStorageFailed, "local copy: %w", err)
	}
	return f, nil
}

// commit writes the manifest next to the copies, then keeps the newest
// complete local backups and removes the rest (and any incomplete one).
func (l localCopies) commit(log logr.Logger, id string, manifestJSON []byte) error {
	if err := os.WriteFile(filepath.Join(l.root, id, manifest.FileName), manifestJSON, 0o600); err != nil {
		return result.Errorf(result.ReasonStorageFailed, "local copy: %w", err)
	}
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return result.Errorf(result.ReasonStorageFailed, "local copies: %w", err)
	}
	var complete []string
	for _, e := range entries {
		if _, _, err := manifest.ParseID(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(l.root, e.Name(), manifest.FileName)); err == nil {
			complete = append(complete, e.Name())
		} else if e.Name() != id {
			l.drop(e.Name()) // a failed run's leftovers
		}
	}
	slices.SortFunc(complete, func(a, b string) int { return repo.Compare(b, a) })
	for _, old := range complete[min(l.keep, len(complete)):] {
		l.drop(old)
		log.Info("Removed an old local copy", "backupId", old)
	}
	return nil
}

// drop removes the local copy of backup id.
func (l localCopies) drop(id string) { _ = os.RemoveAll(filepath.Join(l.root, id)) }
