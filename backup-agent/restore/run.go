package restore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Deps are the restore's connections to the outside, replaceable in tests.
type Deps struct {
	// Store holds the backups; nil means an S3 store built from the options.
	Store storage.Store
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
		if store, _, err = opts.Destination.Open(ctx, storage.Config{Log: log}); err != nil {
			return err
		}
	}
	p, err := resolvePlan(ctx, log, opts, set, repo.Repo{Store: store, Prefix: set.prefix})
	if err != nil {
		return err
	}
	if opts.DryRun {
		return printPlan(ctx, log, out, p)
	}
	return execute(ctx, log, store, p)
}

// Manifest restores database opts.Database of the backup m describes,
// already resolved, with the rails of Run; warn is told of every warning
// the restore would only log. It is the restore step of verification.
func Manifest(ctx context.Context, log logr.Logger, opts Options, store storage.Store, m *manifest.Manifest, warn func(string)) error {
	set, err := opts.validate()
	if err != nil {
		return err
	}
	p, err := buildPlan(m, opts, set, nil)
	if err != nil {
		return err
	}
	p.warn = warn
	return execute(ctx, log, store, p)
}

// execute runs a planned restore.
func execute(ctx context.Context, log logr.Logger, store storage.Store, p plan) error {
	// Before the target is touched: a tool that cannot read the backup
	// would fail part-way through.
	if err := requireTool(ctx, log, p); err != nil {
		return err
	}
	log = log.WithValues("backupId", p.m.ID, "database", p.obj.Name, "target", p.target.db)
	log.Info("Restore started", "key", p.obj.Key, "bytes", p.obj.Size, "format", p.m.Format, "download", p.download)
	started := time.Now()
	a := &attempt{log: log, store: store, p: p}
	if err := a.run(ctx); err != nil {
		return a.fail(err)
	}
	log.Info("Restore complete", "duration", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// resolvePlan finds the backup and builds the plan. Newer backups passed
// over because their manifests are damaged are logged and kept in the
// plan: a restore never silently picks an older backup than asked for.
func resolvePlan(ctx context.Context, log logr.Logger, opts Options, set settings, r repo.Repo) (plan, error) {
	var skipped []skippedBackup
	m, err := r.Resolve(ctx, repo.Selector{ID: opts.Backup, At: set.at, OnSkip: func(id string, err error) {
		log.Info("Skipped a newer backup whose manifest is damaged (warning)", "backupId", id, "why", err.Error())
		skipped = append(skipped, skippedBackup{id: id, why: err.Error()})
	}})
	if err != nil {
		return plan{}, err
	}
	if len(skipped) > 0 {
		ids := make([]string, len(skipped))
		for i, s := range skipped {
			ids[i] = s.id
		}
		log.Info("Restoring an older backup than the newest: the newer ones are damaged (warning)", "backupId", m.ID, "skipped", strings.Join(ids, ","))
	}
	return buildPlan(m, opts, set, skipped)
}

// requireTool refuses a pg_restore older than the backup's pg_dump.
func requireTool(ctx context.Context, log logr.Logger, p plan) error {
	if p.m.Format == manifest.FormatPlain {
		return nil // see checkToolVersion
	}
	v, err := toolVersion(ctx, p)
	if err != nil {
		return err
	}
	if _, derr := dumpVersion(p.m); derr != nil {
		log.Info("The manifest's pgDumpVersion is unreadable; pg_restore's version is not checked (warning)", "pgDumpVersion", p.m.PgDumpVersion)
	}
	return checkToolVersion(v, p.m)
}

// toolVersion is the newest installed restore program's version: the one
// that can read the most.
func toolVersion(ctx context.Context, p plan) (pgdump.Version, error) {
	tools, err := pgdump.Candidates(ctx, p.tool())
	if err != nil {
		return pgdump.Version{}, err
	}
	return pgdump.Newest(tools).Version, nil
}

// attempt is one restore's progress, for its one failure path.
type attempt struct {
	log   logr.Logger
	store storage.Store
	p     plan
	// created: this restore created the target database.
	created bool
	st      stage
	// tool is the restore program chosen for the target's server, server
	// that server's version; filter: the script goes through
	// preambleFilter (see compat.go).
	tool   pgdump.Tool
	server pgclient.ServerVersion
	filter bool
}

// run prepares the target, fetches the dump and restores it. Roles and
// tablespaces come after the target check (a refused restore changes
// nothing) and after a download (a corrupt dump changes nothing).
func (a *attempt) run(ctx context.Context) error {
	p := a.p
	if p.create {
		var err error
		if a.created, err = createDatabase(ctx, a.log, p.target); err != nil {
			return err
		}
	}
	if err := checkEmpty(ctx, a.log, p); err != nil {
		return err
	}
	a.st = prepared
	if err := a.chooseTool(ctx); err != nil {
		return err
	}
	input := "-"
	if p.download {
		path, cleanup, err := download(ctx, a.log, a.store, p)
		if err != nil {
			return err
		}
		defer cleanup()
		input = path
	}
	if err := a.globals(ctx); err != nil {
		return err
	}
	if p.download {
		return a.restore(ctx, input, strings.NewReader(""))
	}
	return a.stream(ctx)
}

// restore runs pg_restore or psql on input ("-" for stdin fed from r, or
// the downloaded dump).
func (a *attempt) restore(ctx context.Context, input string, r io.Reader) error {
	p := a.p
	if a.filter {
		return a.restoreScript(ctx, input, r)
	}
	cmd, cleanup, err := toolCommand(p, a.tool.Path, p.toolArgs(p.target.conninfo(p.target.db), input))
	if err != nil {
		return err
	}
	defer cleanup()
	a.st = toolStarted
	return pgdump.Feed(ctx, cmd, r)
}

// restoreScript restores through psql with the script's preamble filtered
// for an older server: pg_restore -f - | filter | psql, or a plain script
// through the filter into psql.
func (a *attempt) restoreScript(ctx context.Context, input string, r io.Reader) error {
	p := a.p
	psqlPath := a.tool.Path
	if p.m.Format != manifest.FormatPlain {
		var err error
		if psqlPath, err = a.tool.Sibling("psql"); err != nil {
			return err
		}
	}
	psql, cleanup, err := toolCommand(p, psqlPath, p.scriptArgs(p.target.conninfo(p.target.db)))
	if err != nil {
		return err
	}
	defer cleanup()
	var filter *preambleFilter
	through := func(in io.Reader) io.Reader {
		filter = newPreambleFilter(in, a.server.Major())
		return filter
	}
	defer func() {
		if filter != nil {
			a.log.Info("Left out of the script's preamble what the server does not know", "statements", filter.Dropped, "server", a.server.Version)
		}
	}()
	a.st = toolStarted
	if p.m.Format == manifest.FormatPlain {
		if input != "-" {
			f, err := os.Open(input)
			if err != nil {
				return result.Errorf(result.ReasonRestoreFailed, "open the downloaded dump: %w", err)
			}
			defer func() { _ = f.Close() }()
			r = f
		}
		return pgdump.Feed(ctx, psql, through(r))
	}
	first := pgdump.Command{Path: a.tool.Path, Args: p.scriptRestoreArgs(input), Env: os.Environ(), Reason: result.ReasonRestoreFailed}
	return pgdump.FeedThrough(ctx, first, r, through, psql)
}

// chooseTool picks the restore program for the target's server: of the
// installed ones, the oldest major not older than the backup's pg_dump
// (so it reads the archive) nor than the server (so it speaks its SQL);
// the newest when the server is newer than all of them. It decides whether
// the script must be filtered for an older server, and a parallel restore
// that cannot be filtered runs serially, with a warning.
func (a *attempt) chooseTool(ctx context.Context) error {
	p := a.p
	var err error
	if a.server, err = targetServer(ctx, a.log, p.target); err != nil {
		return err
	}
	tools, err := pgdump.Candidates(ctx, p.tool())
	if err != nil {
		return err
	}
	dump := 0
	if v, err := dumpVersion(p.m); err == nil {
		dump = v.Major
	}
	need := a.server.Major()
	if p.m.Format != manifest.FormatPlain {
		need = max(need, dump)
	}
	tool, ok := pgdump.Choose(tools, need)
	if !ok {
		tool = pgdump.Newest(tools)
	}
	a.tool = tool
	// What writes the preamble: pg_restore, or for a plain script the
	// pg_dump that made it (an unreadable version: assume a new one).
	writer := tool.Version.Major
	if p.m.Format == manifest.FormatPlain {
		writer = dump
		if writer == 0 {
			writer = tool.Version.Major
		}
	}
	a.filter = needsFilter(writer, a.server.Major())
	a.log.Info("Restore program chosen", "program", tool.Path, "version", tool.Version.Full, "server", a.server.Version, "filtered", a.filter)
	if a.filter && p.jobs > 1 {
		msg := fmt.Sprintf("--jobs %d not used: %s %s sets parameters that PostgreSQL %s does not have, which a parallel restore cannot leave out; restoring serially",
			p.jobs, filepath.Base(tool.Path), tool.Version.Full, a.server.Version)
		// Logged, not told to warn: restoring serially changes how long
		// the restore takes, not what it restores, so a verification is
		// not failed for it.
		a.log.Info(msg + " (warning)")
		a.p.jobs = 1
	}
	return nil
}

// targetServer is the version of the target's server.
func targetServer(ctx context.Context, log logr.Logger, t target) (pgclient.ServerVersion, error) {
	conn, err := connect(ctx, log, t, maintenanceDB)
	if err != nil {
		return pgclient.ServerVersion{}, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	return pgclient.Server(ctx, conn)
}

// globals applies the backup's roles and tablespaces when asked.
func (a *attempt) globals(ctx context.Context) error {
	if !a.p.globals {
		return nil
	}
	script, err := readGlobals(ctx, a.store, a.p)
	if err != nil {
		return err
	}
	a.st = globalsStarted
	return applyGlobals(ctx, a.log, script, a.p)
}

// stream pipes the object into the tool, holding back the end of the
// stream until its checksum has matched.
func (a *attempt) stream(ctx context.Context) error {
	plain, stop, err := openDump(ctx, a.log, a.store, a.p)
	if err != nil {
		return err
	}
	defer stop()
	defer func() { _ = plain.Close() }()
	return a.restore(ctx, "-", newHoldbackReader(plain, holdBack))
}

// fail is the one way out of a failed restore: it drops the database the
// restore created, or says exactly what the target was left with.
func (a *attempt) fail(err error) error {
	if a.created {
		return dropCreated(a.log, a.p, a.st, err)
	}
	if note := a.p.leftBehind(a.st); note != "" {
		return fmt.Errorf("%w (%s)", err, note)
	}
	return err
}

// printPlan describes the restore without changing anything. It looks at
// the target and the tools (read-only) to say whether the restore would
// be refused.
func printPlan(ctx context.Context, log logr.Logger, out io.Writer, p plan) error {
	v, verr := toolVersion(ctx, p)
	f := found{target: describeTarget(ctx, log, p), tool: describeTool(p, v, verr)}
	if p.download {
		f.spool = describeSpace(p)
	}
	return writePlan(out, p, f)
}

// describeTarget says what a restore would find, for the plan.
func describeTarget(ctx context.Context, log logr.Logger, p plan) string {
	// No retries: the plan reports what it finds, at once.
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: p.target.connString()})
	if err != nil {
		if p.create {
			return "does not exist or is unreachable; --create would create it"
		}
		return "not reachable: " + err.Error()
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rels, err := ownRelations(ctx, log, conn, p.target)
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case len(rels) == 0:
		return "exists and is empty (relations owned by extensions or copied from template1 aside)"
	case p.clean:
		return fmt.Sprintf("holds %d user relations (%s); --clean would drop and replace the backup's objects", len(rels), sample(rels))
	default:
		return fmt.Sprintf("holds %d user relations (%s): the restore would be refused (exit 7) without --clean", len(rels), sample(rels))
	}
}
