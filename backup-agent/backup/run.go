package backup

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/notify"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// cleanupTimeout bounds the deletion of a failed run's objects, done on a
// fresh context because the run's own may be cancelled.
const cleanupTimeout = 60 * time.Second

// Catalog is what the run needs to know about the server before dumping.
type Catalog interface {
	Server(ctx context.Context) (pgclient.ServerVersion, error)
	// Superuser reports whether the connected role is a superuser.
	Superuser(ctx context.Context) (bool, error)
	Databases(ctx context.Context) ([]pgclient.Database, error)
	Close(ctx context.Context) error
}

// Deps are the run's connections to the outside, replaceable in tests.
type Deps struct {
	// Store receives the backup; nil means an S3 store built from the options.
	Store storage.Store
	// OpenCatalog connects to PostgreSQL; nil means pgclient with the libpq
	// environment.
	OpenCatalog func(ctx context.Context, log logr.Logger, retries int) (Catalog, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run performs one backup and returns its result; err is the failure that
// the result describes (nil on success).
func Run(ctx context.Context, log logr.Logger, opts Options, deps Deps) (result.Result, error) {
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	r := &run{log: log, opts: opts, deps: deps, now: now, started: now()}
	err := r.execute(ctx)
	res := r.res
	res.DurationSeconds = now().Sub(r.started).Round(time.Millisecond).Seconds()
	log.Info("Resources used", "peakRSSBytes", peakRSS(), "durationSeconds", res.DurationSeconds)
	if err != nil {
		if ctx.Err() != nil && (result.ReasonOf(err) != result.ReasonInterrupted || !strings.Contains(err.Error(), "interrupted")) {
			// Whatever broke last, the cause was the signal, and the
			// message says so (a bare "context canceled" from a step that
			// was waiting, for upload memory say, does not).
			err = result.Errorf(result.ReasonInterrupted, "interrupted: %w", err)
		}
		res.Fail(err)
	} else {
		res.Result = result.Succeeded
	}
	// The outcome is final: tell the webhook and the heartbeat. What
	// cannot be delivered is a warning, never a different outcome.
	if n := opts.notifyConfig(); n.Enabled() && n.Validate() == nil {
		res.Warnings = append(res.Warnings, notify.Send(ctx, log, n, opts.Destination.URL, res)...)
	}
	return res, err
}

// run is one backup. Its phases are prepare (settings, tools, store,
// server), claim (the backup id), dump (every object), commit (the
// manifest) and retention; a failure at any point goes through the one
// cleanup path, cleanup.
type run struct {
	log     logr.Logger
	opts    Options
	deps    Deps
	now     func() time.Time
	started time.Time
	set     settings
	store   storage.Store
	res     result.Result

	// id is the claimed backup id ("" until claimed); claim is the body of
	// its claim object.
	id    string
	claim []byte
	// created are the keys this run asked the store to create. Only these
	// are ever deleted by the run: the id is claimed, so no other run
	// writes under it, but the list, not the directory, is the authority.
	created []string
	// manifestSent is set once the manifest PUT may have reached the
	// store: from then on a failure deletes no data, because a manifest
	// that landed unseen would point at it.
	manifestSent bool
	local        localCopies
}

func (r *run) execute(ctx context.Context) (err error) {
	if err := pgclient.CheckTLSFiles("PGSSLROOTCERT", "PGSSLCERT", pgclient.SSLKeyEnv, "AWS_CA_BUNDLE"); err != nil {
		return err
	}
	// A client key from a Secret volume may be too open for libpq.
	keyPath := os.Getenv(pgclient.SSLKeyEnv)
	removeKey, err := pgclient.UsableSSLKey(os.TempDir())
	if err != nil {
		return err
	}
	defer removeKey()
	if keyPath != os.Getenv(pgclient.SSLKeyEnv) {
		r.log.Info("Client key copied to a private file: libpq refuses a key others may read", "key", keyPath)
	}
	job, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	if err := r.claimID(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			r.cleanup(err)
		}
	}()
	log := r.log.WithValues("backupId", r.id)
	log.Info("Backup started", "destination", r.opts.Destination.URL, "databases", names(job.dbs),
		"format", r.set.format, "compression", r.set.encoding.Compression.String(), "server", job.server.Version, "pgDump", job.dumpVersion.Full, "pgDumpPath", job.pgDump)
	m, err := r.dump(ctx, log, job)
	if err != nil {
		return err
	}
	if err := r.commit(ctx, log, m); err != nil {
		return err
	}
	log.Info("Backup complete", "bytes", r.res.Bytes, "databases", r.res.Databases, "duration", r.now().Sub(r.started).Round(time.Millisecond).String())
	r.keepLocal(log, m)
	r.applyRetention(ctx, log)
	return nil
}

// cleanup is the one path by which a failed run removes what it stored:
// the keys it created, then its claim, unless the manifest may have
// landed; and its local copy. It runs on a fresh context: the run's may be
// the cancelled one.
func (r *run) cleanup(cause error) {
	log := r.log.WithValues("backupId", r.id)
	r.local.drop(r.id)
	if r.manifestSent {
		log.Info("Kept the objects of the run: its manifest may have been stored, and would point at them; if it was not, retention sweeps them after 24 hours",
			"keys", len(r.created))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if len(r.created) > 0 {
		if err := r.store.Delete(ctx, r.created...); err != nil {
			log.Error(err, "Could not delete the objects of the failed backup; they have no manifest, so they are not a backup, and retention sweeps them", "keys", r.created)
			return
		}
		log.Info("Deleted the objects of the failed backup", "keys", r.created, "cause", cause.Error())
	}
	if err := r.store.Delete(ctx, manifest.ClaimKey(r.set.prefix, r.id)); err != nil {
		log.Error(err, "Could not delete the claim of the failed backup; retention sweeps it")
	}
}

func names(dbs []pgclient.Database) []string {
	out := make([]string, len(dbs))
	for i, d := range dbs {
		out[i] = d.Name
	}
	return out
}
