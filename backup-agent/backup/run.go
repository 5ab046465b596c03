package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/progress"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/retention"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/internal/version"
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
	started := now()
	r := &run{log: log, opts: opts, deps: deps, now: now, started: started}
	res, err := r.execute(ctx)
	res.DurationSeconds = now().Sub(started).Round(time.Millisecond).Seconds()
	if err != nil {
		if ctx.Err() != nil && result.ReasonOf(err) != result.ReasonInterrupted {
			// Whatever broke last, the cause was the signal.
			err = result.Errorf(result.ReasonInterrupted, "interrupted: %w", err)
		}
		res.Fail(err)
		return res, err
	}
	res.Result = result.Succeeded
	return res, nil
}

type run struct {
	log     logr.Logger
	opts    Options
	deps    Deps
	now     func() time.Time
	started time.Time
	set     settings
	store   storage.Store
	id      string
	local   localCopies
}

func (r *run) execute(ctx context.Context) (result.Result, error) {
	var res result.Result
	set, err := r.opts.validate()
	if err != nil {
		return res, err
	}
	r.set = set
	pgDump, err := pgdump.Find("pg_dump")
	if err != nil {
		return res, err
	}
	dumpVersion, err := pgdump.ProgramVersion(ctx, pgDump)
	if err != nil {
		return res, err
	}
	if r.store, err = r.openStore(ctx); err != nil {
		return res, err
	}
	if err := r.store.Check(ctx); err != nil {
		return res, err
	}
	server, dbs, superuser, err := r.inspect(ctx, dumpVersion)
	if err != nil {
		return res, err
	}
	id, err := r.allocateID(ctx)
	if err != nil {
		return res, err
	}
	if set.format == manifest.FormatDirectory {
		// Whatever happens, leave the spool volume as it was found.
		defer func() { _ = os.RemoveAll(filepath.Join(r.opts.SpoolDir, id)) }()
	}
	res.BackupID = id
	r.id = id
	r.local = localCopies{root: filepath.Join(r.opts.SpoolDir, "local"), keep: r.opts.KeepLocal}
	log := r.log.WithValues("backupId", id)
	log.Info("Backup started", "destination", r.opts.Destination.URL, "databases", names(dbs),
		"format", set.format, "compression", set.compression.String(), "server", server.Version, "pgDump", dumpVersion.Full)

	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion, ID: id, Status: manifest.StatusComplete,
		StartedAt: r.started.UTC(), AgentVersion: version.Get().Version,
		Server:        manifest.Server{Version: server.Version, VersionNum: server.Num},
		PgDumpVersion: dumpVersion.Full, Format: set.format, Compression: set.compression.String(),
	}
	if set.recipients.Enabled() {
		m.Encryption = &manifest.Encryption{Type: crypt.Type, Recipients: set.recipients.Keys()}
	}
	if err := r.dumpGlobals(ctx, log, m, superuser); err != nil {
		r.discard(log, m)
		return res, err
	}
	if m.GlobalsSkipped != "" {
		res.Warnings = append(res.Warnings, "globals skipped: "+m.GlobalsSkipped)
	}
	for _, db := range dbs {
		obj, err := r.dumpDatabase(ctx, log, pgDump, id, db)
		if err != nil {
			r.discard(log, m)
			return res, fmt.Errorf("database %s: %w", db.Name, err)
		}
		m.Databases = append(m.Databases, obj)
		res.Databases = append(res.Databases, db.Name)
		res.Bytes += obj.Size
	}
	m.FinishedAt = r.now().UTC()
	if err := r.commit(ctx, m); err != nil {
		r.discard(log, m)
		return res, err
	}
	log.Info("Backup complete", "bytes", res.Bytes, "databases", res.Databases, "duration", r.now().Sub(r.started).Round(time.Millisecond).String())
	if r.local.enabled() {
		if body, err := m.Marshal(); err == nil {
			err = r.local.commit(log, id, body)
			if err != nil {
				log.Error(err, "Could not keep the local copy; the backup in S3 is complete")
				res.Warnings = append(res.Warnings, "local copy: "+err.Error())
			}
		}
	}
	res.Warnings = append(res.Warnings, r.applyRetention(ctx, log)...)
	return res, nil
}

// applyRetention runs the retention policy, now that this run has fully
// succeeded. Its failures are warnings: the backup itself is complete.
func (r *run) applyRetention(ctx context.Context, log logr.Logger) []string {
	if r.opts.Retention.Empty() {
		return nil
	}
	rep, err := retention.Apply(ctx, log, repo.Repo{Store: r.store, Prefix: r.set.prefix}, r.opts.Retention, r.now(), false)
	if err != nil {
		log.Error(err, "Retention failed; the backup is complete and nothing it protects was deleted")
		return []string{"retention failed: " + err.Error()}
	}
	log.Info("Retention applied", "kept", len(rep.Kept), "deleted", len(rep.Deleted), "sweptIncomplete", len(rep.Orphans), "abortedUploads", len(rep.AbortedUploads))
	return nil
}

func (r *run) openStore(ctx context.Context) (storage.Store, error) {
	if r.deps.Store != nil {
		return r.deps.Store, nil
	}
	s, _, err := r.opts.Destination.Open(ctx, storage.Config{Concurrency: r.opts.UploadConcurrency})
	return s, err
}

// inspect connects to the server, checks that pg_dump can dump it, and
// picks the databases to dump.
func (r *run) inspect(ctx context.Context, dump pgdump.Version) (server pgclient.ServerVersion, dbs []pgclient.Database, superuser bool, err error) {
	open := r.deps.OpenCatalog
	if open == nil {
		open = openPgCatalog
	}
	cat, err := open(ctx, r.log, r.opts.ConnectRetries)
	if err != nil {
		return server, nil, false, err
	}
	defer func() { _ = cat.Close(context.WithoutCancel(ctx)) }()
	if server, err = cat.Server(ctx); err != nil {
		return server, nil, false, err
	}
	if err := pgdump.CheckCompatible(dump, server.Major(), server.Version); err != nil {
		return server, nil, false, err
	}
	all, err := cat.Databases(ctx)
	if err != nil {
		return server, nil, false, err
	}
	if dbs, err = pgclient.Select(all, r.opts.Databases); err != nil {
		return server, nil, false, err
	}
	if len(dbs) == 0 {
		return server, nil, false, result.Errorf(result.ReasonConfigInvalid, "no database to back up: the server has no connectable non-template database")
	}
	if superuser, err = cat.Superuser(ctx); err != nil {
		return server, nil, false, err
	}
	return server, dbs, superuser, nil
}

// dumpGlobals stores roles and tablespaces (pg_dumpall --globals-only)
// as the manifest's globals, or records in it why they were skipped.
// Without superuser rights pg_dumpall cannot read role passwords; in auto
// mode that skips the globals with a warning, never silently.
func (r *run) dumpGlobals(ctx context.Context, log logr.Logger, m *manifest.Manifest, superuser bool) error {
	mode := r.opts.Globals
	if mode == GlobalsFalse {
		return nil
	}
	if mode == GlobalsAuto && !superuser && !r.opts.NoRolePasswords {
		m.GlobalsSkipped = "the backup role is not a superuser, so pg_dumpall cannot read role passwords; use --no-role-passwords to dump roles without them, or --globals=false"
		log.Info("Skipping globals (warning)", "why", m.GlobalsSkipped)
		return nil
	}
	pgDumpall, err := pgdump.Find("pg_dumpall")
	if err != nil {
		return err
	}
	args := []string{"--globals-only", "--no-password"}
	if r.opts.NoRolePasswords {
		args = append(args, "--no-role-passwords")
	}
	key := manifest.GlobalsKey(r.set.prefix, m.ID, r.suffix())
	log.Info("Dumping globals", "key", key)
	stream, err := pgdump.Start(ctx, pgdump.Command{Path: pgDumpall, Args: args, Env: os.Environ(), Reason: result.ReasonDumpFailed})
	if err != nil {
		return err
	}
	obj, err := r.storeStream(ctx, log.WithValues("globals", true), key, stream, 0)
	if err != nil {
		if mode == GlobalsAuto && strings.Contains(err.Error(), "permission denied") && ctx.Err() == nil {
			m.GlobalsSkipped = "pg_dumpall was refused: " + err.Error()
			log.Info("Skipping globals (warning)", "why", m.GlobalsSkipped)
			return nil
		}
		return fmt.Errorf("globals: %w", err)
	}
	m.Globals = &obj
	return nil
}

// allocateID returns the id for this run: the start time, with a suffix
// -N if a backup (complete or not) already uses it.
func (r *run) allocateID(ctx context.Context) (string, error) {
	for n := 0; n < 100; n++ {
		id := manifest.NewID(r.started, n)
		taken := false
		errTaken := errors.New("taken")
		err := r.store.List(ctx, manifest.Dir(r.set.prefix, id), func(storage.Object) error {
			taken = true
			return errTaken
		})
		if err != nil && !errors.Is(err, errTaken) {
			return "", err
		}
		if !taken {
			return id, nil
		}
	}
	return "", result.Errorf(result.ReasonStorageFailed, "no free backup id for %s: 100 backups started in the same second", manifest.NewID(r.started, 0))
}

// commit writes the manifest, which makes the backup exist.
func (r *run) commit(ctx context.Context, m *manifest.Manifest) error {
	body, err := m.Marshal()
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	key := manifest.Key(r.set.prefix, m.ID)
	if err := r.store.PutIfAbsent(ctx, key, body, "application/json"); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return result.Errorf(result.ReasonStorageFailed, "manifest %s already exists: another run wrote the same backup id", key)
		}
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// discard deletes the objects a failed run stored, so nothing of it is
// left but what retention would sweep anyway. It runs on a fresh context:
// the run's may be the cancelled one.
func (r *run) discard(log logr.Logger, m *manifest.Manifest) {
	if r.local.enabled() {
		r.local.drop(m.ID)
	}
	keys := make([]string, 0, len(m.Databases)+1)
	if m.Globals != nil {
		keys = append(keys, m.Globals.Key)
	}
	for _, d := range m.Databases {
		keys = append(keys, d.Key)
	}
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := r.store.Delete(ctx, keys...); err != nil {
		log.Error(err, "Could not delete the objects of the failed backup; they have no manifest, so they are not a backup, and retention sweeps them", "keys", keys)
		return
	}
	log.Info("Deleted the objects of the failed backup", "keys", keys)
}

// dumpDatabase streams one database: pg_dump | compress | sha256 | upload.
func (r *run) dumpDatabase(ctx context.Context, log logr.Logger, pgDump, id string, db pgclient.Database) (manifest.Object, error) {
	key := manifest.DatabaseKey(r.set.prefix, id, db.Name, r.set.format, r.suffix())
	log = log.WithValues("database", db.Name)
	log.Info("Dumping database", "key", key, "estimatedBytes", db.Size)
	if r.set.format == manifest.FormatDirectory {
		obj, err := r.dumpDirectory(ctx, log, pgDump, id, key, db)
		obj.Name = db.Name
		return obj, err
	}
	stream, err := pgdump.Start(ctx, pgdump.Command{
		Path:   pgDump,
		Args:   dumpArgs(r.set.format),
		Env:    dumpEnv(db.Name),
		Reason: result.ReasonDumpFailed,
	})
	if err != nil {
		return manifest.Object{}, err
	}
	obj, err := r.storeStream(ctx, log, key, stream, db.Size)
	obj.Name = db.Name
	return obj, err
}

// dumpDirectory dumps a database in parallel into the spool volume
// (pg_dump -Fd -j N), checks pg_dump's exit, then stores the directory as
// one tar archive and removes it.
func (r *run) dumpDirectory(ctx context.Context, log logr.Logger, pgDump, id, key string, db pgclient.Database) (manifest.Object, error) {
	if err := spool.CheckFree(r.opts.SpoolDir, db.Size); err != nil {
		return manifest.Object{}, err
	}
	dir := filepath.Join(r.opts.SpoolDir, id, url.PathEscape(db.Name))
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return manifest.Object{}, result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	args := append(dumpArgs(manifest.FormatDirectory), "--jobs", strconv.Itoa(r.opts.Jobs), "--file", dir)
	stream, err := pgdump.Start(ctx, pgdump.Command{Path: pgDump, Args: args, Env: dumpEnv(db.Name), Reason: result.ReasonDumpFailed})
	if err != nil {
		return manifest.Object{}, err
	}
	// pg_dump writes the files itself; its (empty) output ends with
	// io.EOF only if it exited 0.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		_ = stream.Close()
		return manifest.Object{}, err
	}
	log.Info("Directory dump written to the spool volume; uploading it as one tar", "jobs", r.opts.Jobs)
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(spool.WriteTar(pw, dir)) }()
	return r.storeStream(ctx, log, key, pr, db.Size)
}

// storeStream uploads a program's output (or a tar stream), compressed
// (and encrypted), and returns its manifest entry. The object is
// completed only if src ends with io.EOF, which a pgdump.Stream returns
// only after the program exited 0; otherwise the upload is aborted.
func (r *run) storeStream(ctx context.Context, log logr.Logger, key string, stream io.ReadCloser, expected int64) (manifest.Object, error) {
	defer func() { _ = stream.Close() }()
	var dumped, stored progress.Counter
	compressed, compressErr := r.compressPipe(dumped.Reader(stream))

	stopProgress := progress.Every(r.opts.ProgressInterval, func(elapsed time.Duration) {
		log.Info("Progress", "dumpedBytes", dumped.Load(), "storedBytes", stored.Load(),
			"dumpedMBps", progress.Rate(dumped.Load(), elapsed))
	})
	hash := sha256.New()
	sinks := []io.Writer{hash, &stored}
	if r.local.enabled() {
		f, err := r.local.create(r.id, key)
		if err != nil {
			stopProgress()
			_ = stream.Close()
			_ = compressed.CloseWithError(err)
			if cerr := <-compressErr; cerr != nil {
				log.V(1).Info("Compressor stopped", "error", cerr.Error())
			}
			return manifest.Object{}, err
		}
		defer func() { _ = f.Close() }()
		sinks = append(sinks, f)
	}
	body := io.TeeReader(compressed, io.MultiWriter(sinks...))
	obj, err := r.store.Upload(ctx, key, body, storage.WithExpectedSize(expected))
	stopProgress()
	if err != nil {
		// Stop the program first: the compressor may be blocked reading
		// from it (pg_dump waiting for a lock), and only then is it safe
		// to wait for the compressor.
		_ = stream.Close()
		_ = compressed.CloseWithError(err)
		if cerr := <-compressErr; cerr != nil {
			// The upload's error is the one to report; this one follows from it.
			log.V(1).Info("Compressor stopped", "error", cerr.Error())
		}
		log.Info("Upload aborted: nothing of this object is stored", "key", key, "dumpedBytes", dumped.Load())
		return manifest.Object{}, err
	}
	// Upload saw io.EOF, so the compressor has finished cleanly.
	if cerr := <-compressErr; cerr != nil {
		return manifest.Object{}, cerr
	}
	if obj.Size != stored.Load() {
		return manifest.Object{}, result.Errorf(result.ReasonIntegrityFailed, "stored %d bytes for %s but read %d", obj.Size, key, stored.Load())
	}
	log.Info("Stored", "key", key, "dumpedBytes", dumped.Load(), "storedBytes", obj.Size)
	return manifest.Object{Key: key, Size: obj.Size, SHA256: hex.EncodeToString(hash.Sum(nil))}, nil
}

// suffix is the object name suffix after the format's extension.
func (r *run) suffix() string {
	s := r.set.compression.Ext()
	if r.set.recipients.Enabled() {
		s += crypt.Ext
	}
	return s
}

// compressPipe compresses (and encrypts) src in a goroutine and returns
// the resulting stream. The stream ends with io.EOF only when src did
// (pg_dump exited 0) and every writer flushed; otherwise with their
// error. The channel yields the goroutine's error once it has finished.
func (r *run) compressPipe(src io.Reader) (*io.PipeReader, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := r.encode(pw, src)
		_ = pw.CloseWithError(err) // nil: the reader sees io.EOF
		done <- err
	}()
	return pr, done
}

// encode writes src to w compressed, then encrypted when recipients are
// set. Writers are closed innermost first: each Close flushes what the
// next one still needs, and an encrypted stream without its final chunk
// is a truncated one.
func (r *run) encode(w io.Writer, src io.Reader) error {
	var closers []io.Closer
	if r.set.recipients.Enabled() {
		ew, err := r.set.recipients.NewWriter(w)
		if err != nil {
			return result.Wrap(result.ReasonInternal, err)
		}
		closers = append(closers, ew)
		w = ew
	}
	zw, err := r.set.compression.NewWriter(w)
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	closers = append(closers, zw)
	_, err = io.Copy(zw, src)
	for _, c := range slices.Backward(closers) {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// dumpArgs are pg_dump's arguments: uncompressed output (the agent
// compresses), never a password prompt.
func dumpArgs(format manifest.Format) []string {
	args := []string{"--no-password"}
	switch format {
	case manifest.FormatCustom:
		args = append(args, "--format=custom", "--compress=0")
	case manifest.FormatPlain:
		args = append(args, "--format=plain")
	case manifest.FormatDirectory:
		args = append(args, "--format=directory", "--compress=0")
	}
	return args
}

// dumpEnv is pg_dump's environment: ours (the libpq variables) with
// PGDATABASE set to the database. A name in the environment is taken
// literally, where --dbname would parse one containing "=" as a
// connection string.
func dumpEnv(db string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return len(kv) >= len("PGDATABASE=") && kv[:len("PGDATABASE=")] == "PGDATABASE="
	})
	env = append(env, "PGDATABASE="+db)
	if os.Getenv("PGCONNECT_TIMEOUT") == "" {
		env = append(env, fmt.Sprintf("PGCONNECT_TIMEOUT=%d", int(pgclient.DefaultConnectTimeout.Seconds())))
	}
	return env
}

func names(dbs []pgclient.Database) []string {
	out := make([]string, len(dbs))
	for i, d := range dbs {
		out[i] = d.Name
	}
	return out
}
