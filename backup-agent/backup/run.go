package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/internal/version"
)

// cleanupTimeout bounds the deletion of a failed run's objects, done on a
// fresh context because the run's own may be cancelled.
const cleanupTimeout = 60 * time.Second

// Catalog is what the run needs to know about the server before dumping.
type Catalog interface {
	Server(ctx context.Context) (pgclient.ServerVersion, error)
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
	server, dbs, err := r.inspect(ctx, dumpVersion)
	if err != nil {
		return res, err
	}
	id, err := r.allocateID(ctx)
	if err != nil {
		return res, err
	}
	res.BackupID = id
	log := r.log.WithValues("backupId", id)
	log.Info("Backup started", "destination", r.opts.Destination, "databases", names(dbs),
		"format", set.format, "compression", set.compression.String(), "server", server.Version, "pgDump", dumpVersion.Full)

	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion, ID: id, Status: manifest.StatusComplete,
		StartedAt: r.started.UTC(), AgentVersion: version.Get().Version,
		Server:        manifest.Server{Version: server.Version, VersionNum: server.Num},
		PgDumpVersion: dumpVersion.Full, Format: set.format, Compression: set.compression.String(),
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
	return res, nil
}

func (r *run) openStore(ctx context.Context) (storage.Store, error) {
	if r.deps.Store != nil {
		return r.deps.Store, nil
	}
	return storage.New(ctx, storage.Config{
		Bucket:      r.set.bucket,
		PathStyle:   r.opts.S3PathStyle,
		Concurrency: r.opts.UploadConcurrency,
	})
}

// inspect connects to the server, checks that pg_dump can dump it, and
// picks the databases to dump.
func (r *run) inspect(ctx context.Context, dump pgdump.Version) (pgclient.ServerVersion, []pgclient.Database, error) {
	open := r.deps.OpenCatalog
	if open == nil {
		open = openPgCatalog
	}
	cat, err := open(ctx, r.log, r.opts.ConnectRetries)
	if err != nil {
		return pgclient.ServerVersion{}, nil, err
	}
	defer func() { _ = cat.Close(context.WithoutCancel(ctx)) }()
	server, err := cat.Server(ctx)
	if err != nil {
		return server, nil, err
	}
	if err := pgdump.CheckCompatible(dump, server.Major(), server.Version); err != nil {
		return server, nil, err
	}
	all, err := cat.Databases(ctx)
	if err != nil {
		return server, nil, err
	}
	dbs, err := pgclient.Select(all, r.opts.Databases)
	if err != nil {
		return server, nil, err
	}
	if len(dbs) == 0 {
		return server, nil, result.Errorf(result.ReasonConfigInvalid, "no database to back up: the server has no connectable non-template database")
	}
	return server, dbs, nil
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
	keys := make([]string, 0, len(m.Databases))
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
	key := manifest.DatabaseKey(r.set.prefix, id, db.Name, r.set.format, r.set.compression.Ext())
	log = log.WithValues("database", db.Name)
	log.Info("Dumping database", "key", key, "estimatedBytes", db.Size)

	stream, err := pgdump.Start(ctx, pgdump.Command{
		Path:   pgDump,
		Args:   dumpArgs(r.set.format),
		Env:    dumpEnv(db.Name),
		Reason: result.ReasonDumpFailed,
	})
	if err != nil {
		return manifest.Object{}, err
	}
	defer func() { _ = stream.Close() }()

	var dumped, stored atomic.Int64
	raw := &countingReader{r: stream, n: &dumped}
	compressed, compressErr := r.compressPipe(raw)

	stopProgress := r.reportProgress(log, &dumped, &stored)
	hash := sha256.New()
	body := io.TeeReader(compressed, io.MultiWriter(hash, &countingWriter{n: &stored}))
	obj, err := r.store.Upload(ctx, key, body, storage.WithExpectedSize(db.Size))
	stopProgress()
	if err != nil {
		// Stop pg_dump first: the compressor may be blocked reading from
		// it (pg_dump waiting for a lock), and only then is it safe to
		// wait for the compressor.
		_ = stream.Close()
		_ = compressed.CloseWithError(err)
		if cerr := <-compressErr; cerr != nil {
			// The upload's error is the one to report; this one follows from it.
			log.V(1).Info("Compressor stopped", "error", cerr.Error())
		}
		log.Info("Upload aborted: nothing of this database is stored", "key", key, "dumpedBytes", dumped.Load())
		return manifest.Object{}, err
	}
	// Upload saw io.EOF, so the compressor has finished cleanly.
	if cerr := <-compressErr; cerr != nil {
		return manifest.Object{}, cerr
	}
	if obj.Size != stored.Load() {
		return manifest.Object{}, result.Errorf(result.ReasonIntegrityFailed, "stored %d bytes for %s but read %d", obj.Size, key, stored.Load())
	}
	log.Info("Database dumped", "key", key, "dumpedBytes", dumped.Load(), "storedBytes", obj.Size)
	return manifest.Object{Name: db.Name, Key: key, Size: obj.Size, SHA256: hex.EncodeToString(hash.Sum(nil))}, nil
}

// compressPipe compresses src in a goroutine and returns the compressed
// stream. The stream ends with io.EOF only when src did (pg_dump exited
// 0) and the compressor flushed; otherwise with their error. The channel
// yields the goroutine's error once it has finished.
func (r *run) compressPipe(src io.Reader) (*io.PipeReader, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := func() error {
			zw, err := r.set.compression.NewWriter(pw)
			if err != nil {
				return result.Wrap(result.ReasonInternal, err)
			}
			if _, err := io.Copy(zw, src); err != nil {
				_ = zw.Close()
				return err
			}
			return zw.Close()
		}()
		_ = pw.CloseWithError(err) // nil: the reader sees io.EOF
		done <- err
	}()
	return pr, done
}

// reportProgress logs the counters every ProgressInterval until stopped.
func (r *run) reportProgress(log logr.Logger, dumped, stored *atomic.Int64) (stop func()) {
	t := time.NewTicker(r.opts.ProgressInterval)
	quit := make(chan struct{})
	start := time.Now()
	go func() {
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				elapsed := time.Since(start).Seconds()
				log.Info("Progress", "dumpedBytes", dumped.Load(), "storedBytes", stored.Load(),
					"dumpedMBps", float64(dumped.Load())/elapsed/1e6)
			}
		}
	}()
	return func() { close(quit) }
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

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct{ n *atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}
