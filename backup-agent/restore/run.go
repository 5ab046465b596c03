package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/progress"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// holdBack is how much of the decompressed stream waits for the object's
// checksum: more than any tool needs to finish after its last statement.
const holdBack = 1 << 20

// Deps are the restore's connections to the outside, replaceable in tests.
type Deps struct {
	// Store holds the backups; nil means an S3 store built from the options.
	Store storage.Store
}

// plan is what a restore will do, printed by --dry-run and logged.
type plan struct {
	m        *manifest.Manifest
	obj      manifest.Object
	spec     compress.Spec
	target   *url.URL
	targetDB string
	download bool
	// identities decrypt an encrypted backup (nil when it is not).
	identities crypt.Identities
}

// Run restores one database of one backup and writes the plan (for
// --dry-run) to out.
func Run(ctx context.Context, log logr.Logger, opts Options, deps Deps, out io.Writer) error {
	set, err := opts.validate()
	if err != nil {
		return err
	}
	store := deps.Store
	if store == nil {
		if store, _, err = opts.Destination.Open(ctx, storage.Config{}); err != nil {
			return err
		}
	}
	p, err := makePlan(ctx, opts, set, repo.Repo{Store: store, Prefix: set.prefix})
	if err != nil {
		return err
	}
	if opts.DryRun {
		return printPlan(ctx, log, out, opts, p)
	}
	log = log.WithValues("backupId", p.m.ID, "database", p.obj.Name, "target", p.targetDB)
	log.Info("Restore started", "key", p.obj.Key, "bytes", p.obj.Size, "format", p.m.Format, "download", p.download)
	started := time.Now()
	if opts.Globals {
		if err := applyGlobals(ctx, log, store, p); err != nil {
			return err
		}
	}
	created, err := prepareTarget(ctx, log, opts, p)
	if err != nil {
		return err
	}
	if err := restoreObject(ctx, log, opts, set, store, p); err != nil {
		var before *untouchedError
		switch {
		case created:
			err = dropCreated(log, p, err)
		case errors.As(err, &before):
			err = fmt.Errorf("%w (nothing was restored: database %s is untouched)", before.err, p.targetDB)
		case transactional(opts, p):
			err = fmt.Errorf("%w (the restore ran in one transaction and was rolled back: database %s is as it was)", err, p.targetDB)
		default:
			err = fmt.Errorf("%w (database %s may hold part of the backup)", err, p.targetDB)
		}
		return err
	}
	log.Info("Restore complete", "duration", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// makePlan resolves the backup and the database to restore.
func makePlan(ctx context.Context, opts Options, set settings, r repo.Repo) (plan, error) {
	m, err := r.Resolve(ctx, repo.Selector{ID: opts.Backup, At: set.at})
	if err != nil {
		return plan{}, err
	}
	p := plan{m: m, target: set.target, targetDB: set.targetDB, download: opts.Jobs > 1}
	switch {
	case opts.Database != "":
		obj, ok := m.Database(opts.Database)
		if !ok {
			return plan{}, result.Errorf(result.ReasonConfigInvalid, "backup %s has no database %q; it holds %s", m.ID, opts.Database, strings.Join(dbNames(m), ", "))
		}
		p.obj = obj
	case len(m.Databases) == 1:
		p.obj = m.Databases[0]
	default:
		return plan{}, result.Errorf(result.ReasonConfigInvalid, "backup %s holds %d databases (%s): choose one with --database", m.ID, len(m.Databases), strings.Join(dbNames(m), ", "))
	}
	if m.Encryption != nil {
		if m.Encryption.Type != crypt.Type {
			return plan{}, result.Errorf(result.ReasonIntegrityFailed, "backup %s is encrypted with %q, which this build cannot decrypt", m.ID, m.Encryption.Type)
		}
		if len(set.identities) == 0 {
			return plan{}, result.Errorf(result.ReasonIntegrityFailed, "backup %s is encrypted with age for %s: give the matching identity file with --identity", m.ID, strings.Join(m.Encryption.Recipients, ", "))
		}
		p.identities = set.identities
	}
	if opts.Globals && m.Globals == nil {
		why := "it was made with --globals=false"
		if m.GlobalsSkipped != "" {
			why = "they were skipped: " + m.GlobalsSkipped
		}
		return plan{}, result.Errorf(result.ReasonConfigInvalid, "--globals: backup %s holds no globals (%s)", m.ID, why)
	}
	if p.spec, err = compress.Parse(m.Compression); err != nil {
		return plan{}, result.Errorf(result.ReasonIntegrityFailed, "backup %s: manifest compression: %w", m.ID, err)
	}
	switch m.Format {
	case manifest.FormatCustom:
	case manifest.FormatDirectory:
		// pg_restore needs the directory itself: download and unpack first.
		p.download = true
	case manifest.FormatPlain:
		// A plain dump carries its own BEGIN/COMMIT (around large
		// objects), so psql cannot hold it in one transaction: verify the
		// whole script before any of it runs.
		p.download = true
		if opts.Clean {
			return plan{}, result.Errorf(result.ReasonConfigInvalid, "--clean needs a custom-format backup (%s is plain SQL, which carries no DROP statements): restore into a new database with --create instead", m.ID)
		}
		if opts.Jobs > 1 {
			return plan{}, result.Errorf(result.ReasonConfigInvalid, "--jobs needs a custom-format backup (%s is plain SQL, restored by psql in one stream)", m.ID)
		}
	default:
		return plan{}, result.Errorf(result.ReasonConfigInvalid, "backup %s has format %s, which this build cannot restore", m.ID, m.Format)
	}
	return p, nil
}

func dbNames(m *manifest.Manifest) []string {
	names := make([]string, len(m.Databases))
	for i, d := range m.Databases {
		names[i] = d.Name
	}
	return names
}

// printPlan describes the restore without changing anything. It looks at
// the target (read-only) to say whether the restore would be refused.
func printPlan(ctx context.Context, log logr.Logger, out io.Writer, opts Options, p plan) error {
	mode := "stream: download | sha256 | decode | " + tool(p.m.Format)
	if p.download {
		mode = fmt.Sprintf("download to the spool directory and verify, then %s", tool(p.m.Format))
		if opts.Jobs > 1 {
			mode += fmt.Sprintf(" -j %d", opts.Jobs)
		}
	}
	if transactional(opts, p) {
		mode += " (one transaction)"
	}
	state := describeTarget(ctx, log, opts, p)
	_, err := fmt.Fprintf(out, `Restore plan (dry run: nothing is changed)
  backup:      %s (started %s, %s, %s)
  database:    %s
  object:      %s (%d bytes, sha256 %s)
  target:      %s
  target now:  %s
  create:      %v
  clean:       %v
  method:      %s
`, p.m.ID, p.m.StartedAt.Format(time.RFC3339), p.m.Format, p.m.Compression,
		p.obj.Name, p.obj.Key, p.obj.Size, p.obj.SHA256,
		redact(p.target), state, opts.Create, opts.Clean, mode)
	if err != nil {
		return result.Wrap(result.ReasonInternal, fmt.Errorf("print plan: %w", err))
	}
	return nil
}

// describeTarget says what a restore would find, for the plan.
func describeTarget(ctx context.Context, log logr.Logger, opts Options, p plan) string {
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: p.target.String()})
	if err != nil {
		if opts.Create {
			return "does not exist or is unreachable; --create would create it"
		}
		return "not reachable: " + err.Error()
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	n, err := userRelations(ctx, conn)
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case n == 0:
		return "exists and is empty"
	case opts.Clean:
		return fmt.Sprintf("holds %d user relations; --clean would drop and replace the backup's objects", n)
	default:
		return fmt.Sprintf("holds %d user relations: the restore would be refused (exit 7) without --clean", n)
	}
}

func tool(f manifest.Format) string {
	if f == manifest.FormatPlain {
		return "psql"
	}
	return "pg_restore"
}

// prepareTarget creates the target when asked and refuses a non-empty one
// unless --clean. It reports whether it created the database.
func prepareTarget(ctx context.Context, log logr.Logger, opts Options, p plan) (bool, error) {
	created := false
	if opts.Create {
		var err error
		if created, err = createDatabase(ctx, log, p); err != nil {
			return false, err
		}
	}
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: p.target.String(), Retries: 2})
	if err != nil {
		if result.ReasonOf(err) == result.ReasonConfigInvalid && !opts.Create {
			return false, fmt.Errorf("%w (add --create to create it)", err)
		}
		return created, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	n, err := userRelations(ctx, conn)
	if err != nil {
		return created, err
	}
	if n > 0 && !opts.Clean {
		return created, result.Errorf(result.ReasonRefused,
			"target database %s already holds %d user tables, views or sequences: refusing to restore over them; use --clean to replace the backup's objects, or restore into a new database with --create",
			p.targetDB, n)
	}
	return created, nil
}

// userRelations counts tables, views, sequences and foreign tables outside
// the system schemas.
func userRelations(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `
		SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
		  AND s.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND s.nspname NOT LIKE 'pg\_toast%' AND s.nspname NOT LIKE 'pg\_temp\_%'`).Scan(&n)
	if err != nil {
		return 0, result.Errorf(result.ReasonConnectionFailed, "inspect target database: %w", err)
	}
	return n, nil
}

// maintenance is the target URL pointed at the "postgres" database.
func maintenance(target *url.URL) string {
	u := *target
	u.Path = "/postgres"
	return u.String()
}

// createDatabase creates the target database unless it exists.
func createDatabase(ctx context.Context, log logr.Logger, p plan) (bool, error) {
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: maintenance(p.target), Retries: 2})
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", p.targetDB).Scan(&exists); err != nil {
		return false, result.Errorf(result.ReasonConnectionFailed, "look up database %s: %w", p.targetDB, err)
	}
	if exists {
		log.Info("Target database exists; not creating it")
		return false, nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{p.targetDB}.Sanitize()); err != nil {
		return false, result.Errorf(result.ReasonRestoreFailed, "create database %s: %w", p.targetDB, err)
	}
	log.Info("Created the target database")
	return true, nil
}

// dropCreated drops the database this run created, after a failure.
func dropCreated(log logr.Logger, p plan, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: maintenance(p.target)})
	if err == nil {
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{p.targetDB}.Sanitize())
	}
	if err != nil {
		log.Error(err, "Could not drop the database this restore created")
		return fmt.Errorf("%w (database %s was created by this restore and could not be dropped: drop it by hand)", cause, p.targetDB)
	}
	return fmt.Errorf("%w (database %s, created by this restore, was dropped again)", cause, p.targetDB)
}

// maxGlobalsBytes bounds the globals script, which is read whole: roles
// and tablespaces, never table data.
const maxGlobalsBytes = 64 << 20

// applyGlobals runs the backup's pg_dumpall --globals-only script on the
// target server. The script is read and verified whole first. It cannot be
// one transaction (CREATE TABLESPACE refuses to run in one) and roles such
// as the bootstrap superuser usually exist already, so statements that fail
// are logged as warnings and the script goes on. Statements about the role
// the restore connects as are left out: they would replace its password
// with the source server's and lock the restore out of the target.
func applyGlobals(ctx context.Context, log logr.Logger, store storage.Store, p plan) error {
	g := *p.m.Globals
	log.Info("Applying globals (roles and tablespaces)", "key", g.Key)
	gp := p
	gp.obj = g
	body, err := store.Get(ctx, g.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return result.Errorf(result.ReasonIntegrityFailed, "object %s listed in the manifest of %s is missing", g.Key, p.m.ID)
	}
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	plain, err := decode(gp, newVerifyingReader(body, g.Key, g.Size, g.SHA256))
	if err != nil {
		return err
	}
	defer func() { _ = plain.Close() }()
	script, err := io.ReadAll(io.LimitReader(plain, maxGlobalsBytes+1))
	if err != nil {
		return err
	}
	if len(script) > maxGlobalsBytes {
		return result.Errorf(result.ReasonIntegrityFailed, "%s: globals script larger than %d bytes", g.Key, maxGlobalsBytes)
	}
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: maintenance(p.target), Retries: 2})
	if err != nil {
		return err
	}
	var self string
	err = conn.QueryRow(ctx, "SELECT current_user").Scan(&self)
	_ = conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return result.Errorf(result.ReasonConnectionFailed, "read current user: %w", err)
	}
	script, dropped := withoutRole(script, self)
	if dropped > 0 {
		log.Info("Globals: left out the statements about the connecting role", "role", self, "statements", dropped)
	}
	psql, err := pgdump.Find("psql")
	if err != nil {
		return err
	}
	u, err := url.Parse(maintenance(p.target))
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	var notes strings.Builder
	err = pgdump.Feed(ctx, pgdump.Command{
		Path: psql, Args: []string{"-X", "-q", "--no-password", "-d", conninfo(u), "-f", "-"},
		Env: toolEnv(p.target), Reason: result.ReasonRestoreFailed, Stderr: &notes,
	}, bytes.NewReader(script))
	for _, line := range strings.Split(strings.TrimSpace(notes.String()), "\n") {
		if line != "" {
			log.Info("Globals: statement skipped (warning)", "psql", line)
		}
	}
	return err
}

// withoutRole drops pg_dumpall's one-line CREATE ROLE and ALTER ROLE
// statements about role (written plain or quoted) from a globals script.
func withoutRole(script []byte, role string) ([]byte, int) {
	names := []string{pgx.Identifier{role}.Sanitize()}
	if plainIdent.MatchString(role) {
		names = append(names, role)
	}
	var out bytes.Buffer
	dropped := 0
	for _, line := range bytes.SplitAfter(script, []byte("\n")) {
		skip := false
		for _, n := range names {
			for _, verb := range []string{"CREATE ROLE ", "ALTER ROLE "} {
				if bytes.HasPrefix(line, []byte(verb+n+";")) || bytes.HasPrefix(line, []byte(verb+n+" ")) {
					skip = true
				}
			}
		}
		if skip {
			dropped++
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), dropped
}

// plainIdent is an identifier pg_dump writes without quotes.
var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// restoreObject streams or downloads the object into the restore tool.
func restoreObject(ctx context.Context, log logr.Logger, opts Options, set settings, store storage.Store, p plan) error {
	body, err := store.Get(ctx, p.obj.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return result.Errorf(result.ReasonIntegrityFailed, "object %s listed in the manifest of %s is missing", p.obj.Key, p.m.ID)
	}
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	var downloaded progress.Counter
	stop := progress.Every(opts.ProgressInterval, func(elapsed time.Duration) {
		log.Info("Progress", "downloadedBytes", downloaded.Load(), "totalBytes", p.obj.Size, "downloadedMBps", progress.Rate(downloaded.Load(), elapsed))
	})
	defer stop()
	verified := newVerifyingReader(downloaded.Reader(body), p.obj.Key, p.obj.Size, p.obj.SHA256)
	plain, err := decode(p, verified)
	if err != nil {
		return err
	}
	defer func() { _ = plain.Close() }()
	if p.download {
		return downloadThenRestore(ctx, log, opts, set, p, plain)
	}
	return feedTool(ctx, p, toolArgs(opts, p, "-"), newHoldbackReader(plain, holdBack))
}

// decode undoes what the agent did to the dump: decrypts when the backup
// is encrypted, then decompresses. Every failure is IntegrityFailed.
func decode(p plan, stored io.Reader) (io.ReadCloser, error) {
	r := stored
	if p.identities != nil {
		dec, err := p.identities.NewReader(r, p.obj.Key)
		if err != nil {
			return nil, err
		}
		r = dec
	}
	plain, err := p.spec.NewReader(r)
	if err != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s: %w", p.obj.Key, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{&integrityReader{r: plain, key: p.obj.Key}, plain}, nil
}

// integrityReader classifies decompression failures as IntegrityFailed.
type integrityReader struct {
	r   io.Reader
	key string
}

func (ir *integrityReader) Read(b []byte) (int, error) {
	n, err := ir.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) && result.ReasonOf(err) == result.ReasonInternal {
		err = result.Errorf(result.ReasonIntegrityFailed, "%s: corrupt data: %w", ir.key, err)
	}
	return n, err
}

// downloadThenRestore writes the verified, decoded dump to the spool
// directory (a directory-format dump unpacked from its tar), then runs
// pg_restore -j on it.
func downloadThenRestore(ctx context.Context, log logr.Logger, opts Options, set settings, p plan, plain io.Reader) error {
	work, err := os.MkdirTemp(set.spoolDir, "pgbackup-restore-")
	if err != nil {
		return result.Errorf(result.ReasonConfigInvalid, "spool directory %s: %w", set.spoolDir, err)
	}
	defer func() { _ = os.RemoveAll(work) }()
	path := filepath.Join(work, "dump")
	if p.m.Format == manifest.FormatDirectory {
		if err = os.Mkdir(path, 0o700); err == nil {
			err = spool.ExtractTar(plain, path)
			// The tar ends before the stream: read on so the checksum is checked.
			if err == nil {
				_, err = io.Copy(io.Discard, plain)
			}
		}
	} else {
		err = writeFile(path, plain)
	}
	if err != nil {
		return &untouchedError{err: err}
	}
	log.Info("Downloaded and verified; restoring", "file", filepath.Base(path), "jobs", opts.Jobs)
	return feedTool(ctx, p, toolArgs(opts, p, path), strings.NewReader(""))
}

// untouchedError is a failure before the restore tool ran: the download
// or its verification.
type untouchedError struct{ err error }

func (e *untouchedError) Error() string { return e.err.Error() }
func (e *untouchedError) Unwrap() error { return e.err }

// transactional reports whether a failed restore was rolled back whole:
// a streamed custom-format restore in one transaction.
func transactional(opts Options, p plan) bool {
	return opts.SingleTransaction && !p.download && p.m.Format == manifest.FormatCustom
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return result.Errorf(result.ReasonStorageFailed, "spool: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = result.Errorf(result.ReasonStorageFailed, "write %s: %w", path, cerr)
	}
	return err
}

// toolArgs are pg_restore's or psql's arguments; input is "-" for stdin
// or a file.
func toolArgs(opts Options, p plan, input string) []string {
	if p.m.Format == manifest.FormatPlain {
		args := []string{"-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo(p.target)}
		if opts.SingleTransaction {
			args = append(args, "--single-transaction")
		}
		return append(args, "-f", input)
	}
	args := []string{"--exit-on-error", "--no-password", "-d", conninfo(p.target)}
	if opts.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	switch {
	case opts.Jobs > 1:
		args = append(args, "--jobs", strconv.Itoa(opts.Jobs))
	case opts.SingleTransaction:
		args = append(args, "--single-transaction")
	}
	if input != "-" {
		args = append(args, input)
	}
	return args
}

// feedTool runs pg_restore or psql with the password in the environment,
// never on the command line.
func feedTool(ctx context.Context, p plan, args []string, input io.Reader) error {
	path, err := pgdump.Find(tool(p.m.Format))
	if err != nil {
		return err
	}
	return pgdump.Feed(ctx, pgdump.Command{Path: path, Args: args, Env: toolEnv(p.target), Reason: result.ReasonRestoreFailed}, input)
}

// toolEnv is the tools' environment, with the target's password (if the
// URL has one) where libpq reads it, never on a command line.
func toolEnv(target *url.URL) []string {
	env := os.Environ()
	if pw, ok := target.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	return env
}

// conninfo is the target as a libpq URL without its password.
func conninfo(target *url.URL) string {
	u := *target
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
