package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// localStaleAge is how old an incomplete local copy must be before a later
// run removes it: younger ones may belong to a run still writing (two
// PostgresBackups sharing a spool volume, or a trigger during a scheduled
// run).
const localStaleAge = 24 * time.Hour

// localCopies keeps the stored objects (as stored: compressed, encrypted)
// of the newest complete backups on the spool volume too, for restores
// that should not wait for S3 (--keep-local). A copy counts as complete
// only once its manifest.json is written, after the backup's own.
//
// The local copy is a convenience: its failures (a full volume) never fail
// the backup in S3. A failed copy is removed and reported as a warning.
type localCopies struct {
	root string // <spool>/local
	keep int
	// failed is the first error of this run's copy; once set, nothing more
	// is written.
	failed error
}

func (l *localCopies) enabled() bool { return l.keep > 0 }

// localFile is one object's local copy. Its Write never fails: an error is
// remembered (and reported by finish), so a full spool volume cannot stop
// the upload it is tee'd from.
type localFile struct {
	l   *localCopies
	f   *os.File
	err error
}

// create opens the local copy of the object key of backup id, mirroring
// the key's path inside the backup (globals.sql.zst, db/<name>.dump.zst).
// It returns nil when local copies are off or already failed.
func (l *localCopies) create(prefix, id, key string) *localFile {
	if !l.enabled() || l.failed != nil {
		return nil
	}
	rel, ok := strings.CutPrefix(key, manifest.Dir(prefix, id))
	if !ok {
		l.fail(fmt.Errorf("key %s is outside backup %s", key, id))
		return nil
	}
	path := filepath.Join(l.root, id, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		l.fail(err)
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		l.fail(err)
		return nil
	}
	return &localFile{l: l, f: f}
}

func (l *localCopies) fail(err error) {
	if l.failed == nil {
		l.failed = err
	}
}

func (lf *localFile) Write(p []byte) (int, error) {
	if lf.err == nil {
		_, lf.err = lf.f.Write(p)
	}
	return len(p), nil
}

// finish syncs and closes the file; an error of the copy is kept for the
// run's warning.
func (lf *localFile) finish() {
	err := lf.err
	if err == nil {
		err = lf.f.Sync()
	}
	if cerr := lf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		lf.l.fail(err)
	}
}

// discard closes the file of an object whose upload failed.
func (lf *localFile) discard() { _ = lf.f.Close() }

// commit writes the manifest next to a whole copy, then keeps the newest
// complete local backups and removes the rest, and incomplete copies old
// enough not to be a run in progress. A copy that failed is removed and
// its error returned, for a warning.
func (l *localCopies) commit(log logr.Logger, id string, manifestJSON []byte) error {
	if l.failed != nil {
		l.drop(id)
		return fmt.Errorf("local copy of %s removed: %w", id, l.failed)
	}
	if err := writeSynced(filepath.Join(l.root, id, manifest.FileName), manifestJSON); err != nil {
		l.drop(id)
		return fmt.Errorf("local copy of %s removed: %w", id, err)
	}
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return fmt.Errorf("local copies: %w", err)
	}
	var complete []string
	for _, e := range entries {
		if _, _, err := manifest.ParseID(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		switch info, err := os.Stat(filepath.Join(l.root, e.Name(), manifest.FileName)); {
		case err == nil && info.Mode().IsRegular():
			complete = append(complete, e.Name())
		case e.Name() != id && olderThan(filepath.Join(l.root, e.Name()), localStaleAge):
			l.drop(e.Name()) // a failed run's leftovers, not a run in progress
		}
	}
	slices.SortFunc(complete, func(a, b string) int { return manifest.CompareIDs(b, a) })
	for _, old := range complete[min(l.keep, len(complete)):] {
		l.drop(old)
		log.Info("Removed an old local copy", "backupId", old)
	}
	return nil
}

// olderThan reports whether nothing in dir was modified within age.
func olderThan(dir string, age time.Duration) bool {
	cutoff := time.Now().Add(-age)
	young := errors.New("young")
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(cutoff) {
			return young
		}
		return nil
	})
	return err == nil
}

// writeSynced writes a file and syncs it before closing, so that a
// manifest never survives a crash that lost the data before it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// drop removes the local copy of backup id; nothing when local copies are
// off (the root is then not a directory of ours).
func (l *localCopies) drop(id string) {
	if !l.enabled() || l.root == "" || id == "" {
		return
	}
	_ = os.RemoveAll(filepath.Join(l.root, id))
}
