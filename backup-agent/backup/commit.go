package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/retention"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// readBackTimeout bounds the reading back of a manifest whose write had no
// clear answer; readBackTries is how often it is tried.
const (
	readBackTimeout = 30 * time.Second
	readBackTries   = 3
)

// commit writes the manifest, which makes the backup exist. An answer
// that is lost, late or a 412 does not say whether the manifest landed, so
// it is read back: the same bytes mean this run committed. Otherwise the
// run fails, but from the moment the PUT was sent it deletes no data: a
// manifest that lands late must not point at deleted objects.
func (r *run) commit(ctx context.Context, log logr.Logger, m *manifest.Manifest) error {
	if err := m.CheckKeys(r.set.prefix); err != nil {
		return result.Errorf(result.ReasonInternal, "refusing to commit backup %s: %w", m.ID, err)
	}
	body, err := m.Marshal()
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	key := manifest.Key(r.set.prefix, m.ID)
	r.manifestSent = true
	putErr := r.store.PutIfAbsent(ctx, key, body, "application/json")
	if putErr == nil {
		return nil
	}
	log.Info("The manifest write had no clear answer; reading it back", "key", key, "error", putErr.Error())
	ours, err := r.readBack(key, body)
	switch {
	case ours:
		log.Info("The manifest is stored: the write's answer was lost, the backup is complete", "key", key)
		return nil
	case err == nil && errors.Is(putErr, storage.ErrExists):
		// Our claim makes this impossible unless something else writes
		// under our id: say so, and touch nothing.
		return result.Errorf(result.ReasonStorageFailed, "manifest %s exists and is not this run's: something else writes under backup id %s; nothing was deleted", key, m.ID)
	case err != nil:
		return result.Errorf(result.ReasonStorageFailed, "write manifest %s: %w; reading it back failed too (%w), so whether the backup was committed is unknown: its objects are kept, and `pgbackup list` shows it if it was", key, putErr, err)
	default:
		return fmt.Errorf("write manifest: %w", putErr)
	}
}

// readBack reports whether the manifest at key holds exactly body. It
// runs on a fresh context: the run's may be the cancelled one (a SIGTERM
// while the PUT was on the wire). A missing manifest is a definite "no";
// err is set only when the question stays open.
func (r *run) readBack(key string, body []byte) (bool, error) {
	var err error
	for try := range readBackTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * time.Second)
		}
		var got []byte
		got, err = r.readObject(key, int64(len(body)))
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err == nil {
			return bytes.Equal(got, body), nil
		}
	}
	return false, err
}

func (r *run) readObject(key string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readBackTimeout)
	defer cancel()
	rc, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}

// keepLocal completes the local copy now that the backup is committed;
// its failure is a warning, the backup in S3 being complete.
func (r *run) keepLocal(log logr.Logger, m *manifest.Manifest) {
	if !r.local.enabled() {
		return
	}
	body, err := m.Marshal()
	if err == nil {
		err = r.local.commit(log, m.ID, body)
	}
	if err != nil {
		log.Error(err, "Could not keep the local copy; the backup in S3 is complete")
		r.res.Warnings = append(r.res.Warnings, "local copy: "+err.Error())
	}
}

// applyRetention runs the retention policy, now that this run has fully
// succeeded, protecting the backup it just committed. Its failures and
// refusals are warnings: the backup itself is complete.
func (r *run) applyRetention(ctx context.Context, log logr.Logger) {
	if r.opts.Retention.Empty() {
		return
	}
	if ctx.Err() != nil {
		log.Info("Retention skipped: the run was interrupted after its backup was committed (warning)")
		r.res.Warnings = append(r.res.Warnings, "retention skipped: interrupted")
		return
	}
	rep, err := retention.Apply(ctx, log, repo.Repo{Store: r.store, Prefix: r.set.prefix}, r.opts.Retention,
		retention.Options{Protect: map[string]string{r.id: "this run"}, LocalNow: r.now})
	for _, id := range rep.Invalid {
		r.res.Warnings = append(r.res.Warnings, "retention: backup "+id+" has a manifest that does not validate; kept, check it")
	}
	for _, id := range rep.Locked {
		r.res.Warnings = append(r.res.Warnings, "retention: backup "+id+" is under S3 Object Lock; kept until the lock ends, deleted by a later run")
	}
	if err != nil {
		log.Error(err, "Retention failed; the backup is complete and nothing it protects was deleted")
		r.res.Warnings = append(r.res.Warnings, "retention failed: "+err.Error())
		return
	}
	log.Info("Retention applied", "kept", len(rep.Kept), "deleted", len(rep.Deleted), "invalid", len(rep.Invalid), "locked", len(rep.Locked),
		"sweptIncomplete", len(rep.Orphans), "abortedUploads", len(rep.AbortedUploads))
}
