package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
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
	"github.com/pgbackup/pgbackup/backup-agent/readahead"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/rowcount"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/internal/version"
)

// dump stores globals and every database under the claimed id and returns
// the manifest describing them (not yet written).
func (r *run) dump(ctx context.Context, log logr.Logger, j job) (*manifest.Manifest, error) {
	m := &manifest.Manifest{
		SchemaVersion: manifest.SchemaVersion, ID: r.id, Status: manifest.StatusComplete,
		StartedAt: r.started.UTC(), AgentVersion: version.Get().Version,
		Server:        manifest.Server{Version: j.server.Version, VersionNum: j.server.Num, Standby: j.server.Standby},
		PgDumpVersion: j.dumpVersion.Full, Format: r.set.format, Compression: r.set.encoding.Compression.String(),
	}
	if r.set.encoding.Recipients.Enabled() {
		m.Encryption = &manifest.Encryption{Type: crypt.Type, Recipients: r.set.encoding.Recipients.Keys()}
	}
	m.ExcludedDatabases = j.excluded
	r.local = localCopies{root: filepath.Join(r.opts.SpoolDir, "local"), keep: r.opts.KeepLocal}
	if r.set.format == manifest.FormatDirectory {
		// Whatever happens, leave the spool volume as it was found.
		defer func() { _ = os.RemoveAll(r.spoolDir()) }()
	}
	if err := r.dumpGlobals(ctx, log, m, j.pgDump, j.superuser); err != nil {
		return nil, err
	}
	if m.GlobalsSkipped != "" {
		r.res.Warnings = append(r.res.Warnings, "globals skipped: "+m.GlobalsSkipped)
	}
	for _, db := range j.dbs {
		obj, err := r.dumpDatabase(ctx, log, j.pgDump, db)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db.Name, err)
		}
		obj.PgDumpOptions = r.set.sel.Args(db.Name)
		if obj.TablesSkipped != "" {
			r.res.Warnings = append(r.res.Warnings, "database "+db.Name+": "+obj.TablesSkipped)
		}
		m.Databases = append(m.Databases, obj)
		r.res.Databases = append(r.res.Databases, db.Name)
		r.res.Bytes += obj.Size
	}
	m.FinishedAt = r.now().UTC()
	return m, nil
}

// spoolDir is this run's scratch directory for directory-format dumps.
func (r *run) spoolDir() string { return filepath.Join(r.opts.SpoolDir, r.id) }

// dumpGlobals stores roles and tablespaces (pg_dumpall --globals-only)
// as the manifest's globals, or records in it why they were skipped.
// Without superuser rights pg_dumpall cannot read role passwords; in auto
// mode that skips the globals with a warning, never silently.
func (r *run) dumpGlobals(ctx context.Context, log logr.Logger, m *manifest.Manifest, pgDump string, superuser bool) error {
	mode := r.opts.Globals
	if mode == GlobalsFalse {
		return nil
	}
	if mode == GlobalsAuto && !superuser && !r.opts.NoRolePasswords {
		m.GlobalsSkipped = "the backup role is not a superuser, so pg_dumpall cannot read role passwords; use --no-role-passwords to dump roles without them, or --globals=false"
		log.Info("Skipping globals (warning)", "why", m.GlobalsSkipped)
		return nil
	}
	// pg_dumpall of the same installation as the pg_dump that dumps.
	pgDumpall, err := pgdump.Tool{Path: pgDump}.Sibling("pg_dumpall")
	if err != nil {
		return err
	}
	args := []string{"--globals-only", "--no-password"}
	if r.opts.NoRolePasswords {
		args = append(args, "--no-role-passwords")
	}
	key := manifest.GlobalsKey(r.set.prefix, m.ID, r.set.encoding.Ext())
	log.Info("Dumping globals", "key", key)
	stream, err := pgdump.Start(ctx, pgdump.Command{Path: pgDumpall, Args: args, Env: os.Environ(), Reason: result.ReasonDumpFailed})
	if err != nil {
		return err
	}
	obj, err := r.storeStream(ctx, log.WithValues("globals", true), key, stream, shapeGlobals, nil, 0)
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

// dumpDatabase streams one database: pg_dump | check | compress | sha256 | upload.
func (r *run) dumpDatabase(ctx context.Context, log logr.Logger, pgDump string, db pgclient.Database) (manifest.Object, error) {
	key := manifest.DatabaseKey(r.set.prefix, r.id, db.Name, r.set.format, r.set.encoding.Ext())
	log = log.WithValues("database", db.Name)
	log.Info("Dumping database", "key", key, "estimatedBytes", db.Size)
	if r.set.format == manifest.FormatDirectory {
		obj, err := r.dumpDirectory(ctx, log, pgDump, key, db)
		obj.Name = db.Name
		return obj, err
	}
	stream, err := pgdump.Start(ctx, pgdump.Command{
		Path:   pgDump,
		Args:   r.dumpArgs(r.set.format, db.Name),
		Env:    dumpEnv(db.Name),
		Reason: result.ReasonDumpFailed,
	})
	if err != nil {
		return manifest.Object{}, err
	}
	shape, counter := shapeCustom, rowcount.NewCustom()
	if r.set.format == manifest.FormatPlain {
		shape, counter = shapePlain, rowcount.NewPlain()
	}
	obj, err := r.storeStream(ctx, log, key, stream, shape, counter, db.Size)
	obj.Name = db.Name
	return obj, err
}

// dumpDirectory dumps a database in parallel into the spool volume
// (pg_dump -Fd -j N), checks pg_dump's exit, then stores the directory as
// one tar archive and removes it. The directory is named by the encoded
// database name, so no name ("..", "a/b") can point it elsewhere.
func (r *run) dumpDirectory(ctx context.Context, log logr.Logger, pgDump, key string, db pgclient.Database) (manifest.Object, error) {
	if err := spool.CheckFree(r.opts.SpoolDir, db.Size); err != nil {
		return manifest.Object{}, err
	}
	dir := filepath.Join(r.spoolDir(), manifest.EncodeName(db.Name))
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return manifest.Object{}, result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	args := append(r.dumpArgs(manifest.FormatDirectory, db.Name), "--jobs", strconv.Itoa(r.opts.Jobs), "--file", dir)
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
	if st, err := os.Stat(filepath.Join(dir, "toc.dat")); err != nil || st.Size() == 0 {
		return manifest.Object{}, result.Errorf(result.ReasonDumpFailed, "pg_dump exited 0 but wrote no table of contents (toc.dat) into %s: nothing was stored", dir)
	}
	log.Info("Directory dump written to the spool volume; uploading it as one tar", "jobs", r.opts.Jobs)
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(spool.WriteTar(pw, dir)) }()
	return r.storeStream(ctx, log, key, pr, Shape{What: "the tar of the directory dump"}, rowcount.NewDirectoryTar(), db.Size)
}

// storeStream uploads a program's output (or a tar stream), checked,
// compressed (and encrypted), and returns its manifest entry. A counter,
// when given, counts each table's rows as the dump streams through it;
// counts it cannot take are a warning, never a failed backup. The object
// is completed only if src ends with io.EOF, which a pgdump.Stream returns
// only after the program exited 0 and the checked reader only for output
// of the expected shape; otherwise the upload is aborted.
func (r *run) storeStream(ctx context.Context, log logr.Logger, key string, stream io.ReadCloser, shape Shape, counter rowcount.Counter, expected int64) (manifest.Object, error) {
	// pg_dump's output is read ahead on a goroutine of its own, so that
	// pg_dump, and the server backend behind it, go on while the encoder
	// is busy: that backend is the one part of a dump that cannot use a
	// second core, so every pause of it lengthens the backup. The stream
	// closes first, which ends a read the goroutine may be waiting in.
	ahead := readahead.New(stream, dumpReadAhead, dumpReadAheadBuffers)
	defer func() {
		_ = stream.Close()
		_ = ahead.Close()
	}()
	var dumped, stored progress.Counter
	src := dumped.Reader(ahead)
	if counter != nil {
		src = io.TeeReader(src, counter)
	}
	encoded, encodeErr := r.set.encoding.Pipe(newCheckedReader(src, shape))
	stopProgress := progress.Every(r.opts.ProgressInterval, func(elapsed time.Duration) {
		log.Info("Progress", "dumpedBytes", dumped.Load(), "storedBytes", stored.Load(),
			"dumpedMBps", progress.Rate(dumped.Load(), elapsed))
	})
	hash := sha256.New()
	sinks := []io.Writer{hash, &stored}
	local := r.local.create(r.set.prefix, r.id, key)
	if local != nil {
		sinks = append(sinks, local)
	}
	r.created = append(r.created, key)
	obj, err := r.store.Upload(ctx, key, io.TeeReader(encoded, io.MultiWriter(sinks...)), storage.WithExpectedSize(r.set.encoding.EstimateStoredSize(expected)))
	stopProgress()
	if err != nil {
		// Stop the program first: the encoder may be blocked reading from
		// it (pg_dump waiting for a lock), and only then is it safe to wait
		// for the encoder.
		_ = stream.Close()
		_ = encoded.CloseWithError(err)
		if cerr := <-encodeErr; cerr != nil {
			// The upload's error is the one to report; this one follows from it.
			log.V(1).Info("Encoder stopped", "error", cerr.Error())
		}
		if local != nil {
			local.discard()
		}
		log.Info("Upload aborted: nothing of this object is stored", "key", key, "dumpedBytes", dumped.Load())
		return manifest.Object{}, err
	}
	if local != nil {
		local.finish()
	}
	// Upload saw io.EOF, so the encoder has finished cleanly.
	if cerr := <-encodeErr; cerr != nil {
		return manifest.Object{}, cerr
	}
	if obj.Size != stored.Load() {
		return manifest.Object{}, result.Errorf(result.ReasonIntegrityFailed, "stored %d bytes for %s but read %d", obj.Size, key, stored.Load())
	}
	log.Info("Stored", "key", key, "dumpedBytes", dumped.Load(), "storedBytes", obj.Size)
	out := manifest.Object{Key: key, Size: obj.Size, SHA256: hex.EncodeToString(hash.Sum(nil))}
	if counter != nil {
		r.recordCounts(log, &out, counter)
	}
	return out, nil
}

// pg_dump's output is read ahead of the encoder by up to
// dumpReadAheadBuffers buffers of dumpReadAhead bytes (dumpReadAheadMemory
// in all, part of the pipeline's memory budget).
const (
	dumpReadAhead        = 1 << 20
	dumpReadAheadBuffers = 4
	dumpReadAheadMemory  = dumpReadAhead * dumpReadAheadBuffers
)

// recordCounts puts the counter's row counts into the manifest entry, or
// the reason they are missing (and a warning: verification of this backup
// will not be able to compare row counts).
func (r *run) recordCounts(log logr.Logger, obj *manifest.Object, counter rowcount.Counter) {
	tables, err := counter.Tables()
	if err != nil {
		obj.TablesSkipped = "row counts could not be taken from the dump stream: " + err.Error()
		log.Info("Row counts not recorded (warning)", "why", obj.TablesSkipped)
		return
	}
	obj.Tables = make([]manifest.Table, len(tables))
	var rows int64
	for i, t := range tables {
		obj.Tables[i] = manifest.Table{Schema: t.Schema, Name: t.Name, Rows: t.Rows}
		rows += t.Rows
	}
	log.Info("Row counts recorded", "tables", len(tables), "rows", rows)
}

// dumpArgs are pg_dump's arguments for database db: uncompressed output
// (the agent compresses), never a password prompt, a bounded wait for
// table locks, then what the selection settings say of db.
func (r *run) dumpArgs(format manifest.Format, db string) []string {
	args := []string{"--no-password"}
	if t := r.opts.LockWaitTimeout; t > 0 {
		args = append(args, fmt.Sprintf("--lock-wait-timeout=%dms", t.Milliseconds()))
	}
	switch format {
	case manifest.FormatCustom:
		args = append(args, "--format=custom", "--compress=0")
	case manifest.FormatPlain:
		args = append(args, "--format=plain")
	case manifest.FormatDirectory:
		args = append(args, "--format=directory", "--compress=0")
	}
	return append(args, r.set.sel.Args(db)...)
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
