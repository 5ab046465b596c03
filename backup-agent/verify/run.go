package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/restore"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/internal/version"
)

// cleanupTimeout bounds dropping the restored databases and writing the
// record, done on a fresh context because the run's own may be cancelled.
const cleanupTimeout = time.Minute

// Deps are the verification's connections to the outside, replaceable in
// tests.
type Deps struct {
	// Store holds the backups; nil means an S3 store built from the options.
	Store storage.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// run is one verification.
type run struct {
	// log names the backup; base does not (restore adds the backup and
	// the database itself).
	log, base logr.Logger
	opts      Options
	set       settings
	store     storage.Store
	now       func() time.Time
	res       result.Result
	rec       manifest.Verification
	// restored are the databases this run created on the scratch server.
	restored []string
	server   pgclient.ServerVersion
}

// Run verifies one backup and returns its result; err is the failure the
// result describes (nil when the backup verified).
func Run(ctx context.Context, log logr.Logger, opts Options, deps Deps) (result.Result, error) {
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	started := now()
	r := &run{log: log, base: log, opts: opts, store: deps.Store, now: now}
	err := r.execute(ctx)
	res := r.res
	res.DurationSeconds = now().Sub(started).Round(time.Millisecond).Seconds()
	if err != nil {
		if ctx.Err() != nil && result.ReasonOf(err) != result.ReasonInterrupted {
			err = result.Errorf(result.ReasonInterrupted, "interrupted: %w", err)
		}
		res.Fail(err)
		return res, err
	}
	res.Result = result.Succeeded
	return res, nil
}

func (r *run) execute(ctx context.Context) error {
	var err error
	if r.set, err = r.opts.validate(); err != nil {
		return err
	}
	if err := pgclient.CheckTLSFiles("AWS_CA_BUNDLE"); err != nil {
		return err
	}
	if r.store == nil {
		if r.store, _, err = r.opts.Destination.Open(ctx, storage.Config{Log: r.log}); err != nil {
			return err
		}
	}
	_, prefix, _ := r.opts.Destination.Parse()
	rp := repo.Repo{Store: r.store, Prefix: prefix}
	m, err := rp.Resolve(ctx, repo.Selector{ID: r.opts.Backup, OnSkip: func(id string, err error) {
		r.log.Info("Skipped a newer backup whose manifest is damaged (warning)", "backupId", id, "why", err.Error())
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("skipped newer backup %s: its manifest is damaged", id))
	}})
	if err != nil {
		return err
	}
	r.res.BackupID, r.res.Bytes = m.ID, m.TotalSize()
	r.log = r.log.WithValues("backupId", m.ID)
	dbs, err := r.plan(m)
	if err != nil {
		return err
	}
	if err := r.prepareTarget(ctx); err != nil {
		return err
	}
	r.log.Info("Verification started", "databases", len(dbs), "format", m.Format, "bytes", m.TotalSize(), "scratchServer", r.server.Version)
	verdict := r.verify(ctx, m, dbs)
	r.finish(ctx, rp, m, verdict)
	if verdict == nil {
		r.log.Info("Verification succeeded", "tablesChecked", r.rec.Tables.Checked, "indexesChecked", r.rec.Indexes.Checked, "checks", len(r.rec.Checks), "restoreSeconds", r.res.Verification.RestoreSeconds)
	}
	return verdict
}

// plan chooses the databases and checks that the run can read the backup
// before anything is restored.
func (r *run) plan(m *manifest.Manifest) ([]manifest.Object, error) {
	if len(m.Databases) == 0 {
		return nil, result.Errorf(result.ReasonConfigInvalid, "backup %s holds no database (only globals): there is nothing to restore and count", m.ID)
	}
	dbs := m.Databases
	if len(r.opts.Databases) > 0 {
		dbs = nil
		for _, name := range r.opts.Databases {
			obj, ok := m.Database(name)
			if !ok {
				return nil, result.Errorf(result.ReasonConfigInvalid, "--database %s: backup %s holds no such database", name, m.ID)
			}
			dbs = append(dbs, obj)
		}
	}
	for _, c := range r.set.checks {
		if !slices.ContainsFunc(dbs, func(o manifest.Object) bool { return o.Name == c.Database }) {
			return nil, result.Errorf(result.ReasonConfigInvalid, "check %q: database %s is not verified in backup %s", c.Name, c.Database, m.ID)
		}
	}
	if m.Encryption != nil && r.opts.Identity == "" {
		return nil, result.Errorf(result.ReasonConfigInvalid, "backup %s is encrypted (%s): give --identity with the age identity that decrypts it", m.ID, m.Encryption.Type)
	}
	for _, d := range dbs {
		r.res.Databases = append(r.res.Databases, d.Name)
	}
	return dbs, nil
}

// prepareTarget waits for the scratch server and refuses one that holds
// databases of its own: verification creates and drops databases, and
// must never do so on a real server by mistake.
func (r *run) prepareTarget(ctx context.Context) error {
	conn, err := r.waitForTarget(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if r.server, err = pgclient.Server(ctx, conn); err != nil {
		return err
	}
	r.res.ServerVersionNum = r.server.Num
	var others []string
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> $1 ORDER BY 1", r.set.maintenance)
	if err == nil {
		others, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return result.Errorf(result.ReasonConnectionFailed, "list the scratch server's databases: %w", err)
	}
	var rels int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'`).Scan(&rels); err != nil {
		return result.Errorf(result.ReasonConnectionFailed, "inspect the scratch server: %w", err)
	}
	if len(others) > 0 || rels > 0 {
		what := fmt.Sprintf("%d relations in %s", rels, r.set.maintenance)
		if len(others) > 0 {
			what = "databases " + strings.Join(others, ", ")
		}
		return result.Errorf(result.ReasonRefused,
			"the verify target holds %s: verification restores into an empty scratch server only (a fresh initdb), never into a server with data; start one, or drop what a previous --keep-restored left", what)
	}
	return nil
}

// waitForTarget connects to the scratch server's maintenance database,
// retrying until it accepts connections or WaitForTarget has passed.
func (r *run) waitForTarget(ctx context.Context) (*pgx.Conn, error) {
	deadline := r.now().Add(r.opts.WaitForTarget)
	for attempt := 1; ; attempt++ {
		conn, err := pgclient.Connect(ctx, r.log, pgclient.Options{ConnString: r.opts.Target, Database: r.set.maintenance})
		if err == nil {
			return conn, nil
		}
		if result.ReasonOf(err) != result.ReasonConnectionFailed || !r.now().Before(deadline) {
			return nil, fmt.Errorf("scratch server: %w", err)
		}
		if attempt == 1 {
			r.log.Info("Waiting for the scratch server to accept connections", "waitForTarget", r.opts.WaitForTarget.String(), "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil, result.Wrap(result.ReasonInterrupted, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// verify restores and checks every database, recording what it finds in
// r.rec. It goes on past differences, so the record names all of them,
// and stops at the first restore that fails.
func (r *run) verify(ctx context.Context, m *manifest.Manifest, dbs []manifest.Object) error {
	r.rec = manifest.Verification{
		SchemaVersion: manifest.VerificationSchemaVersion, BackupID: m.ID,
		RestoreSeconds: map[string]float64{}, Checks: []manifest.CheckResult{},
		AgentVersion: version.Get().Version, ServerVersion: r.server.Version,
	}
	r.rec.Indexes.Available = r.opts.Amcheck
	var restoreTotal float64
	var problems []string
	for i, obj := range dbs {
		log := r.log.WithValues("database", obj.Name)
		var warnings []string
		started := r.now()
		err := restore.Manifest(ctx, r.base, restore.Options{
			Destination: r.opts.Destination, Backup: m.ID, Database: obj.Name, Target: r.set.databaseURL(obj.Name),
			Create: true, Jobs: r.opts.Jobs, SpoolDir: r.opts.SpoolDir, Identity: r.opts.Identity,
			SingleTransaction: true, Globals: i == 0 && m.Globals != nil, ProgressInterval: r.opts.ProgressInterval,
		}, r.store, m, func(w string) { warnings = append(warnings, w) })
		if obj.Name != r.set.maintenance {
			// Created (and dropped again on failure) by the restore.
			r.restored = append(r.restored, obj.Name)
		}
		if err != nil {
			return fmt.Errorf("restore database %s: %w", obj.Name, err)
		}
		secs := r.now().Sub(started).Seconds()
		r.rec.RestoreSeconds[obj.Name] = secs
		restoreTotal += secs
		log.Info("Database restored", "restoreSeconds", secs)
		for _, w := range warnings {
			problems = append(problems, fmt.Sprintf("database %s: the restore logged a warning: %s", obj.Name, w))
		}
		problems = append(problems, r.checkDatabase(ctx, log, obj)...)
	}
	r.res.Verification = &result.Verification{
		RestoreSeconds: restoreTotal, TablesChecked: r.rec.Tables.Checked, TablesMismatched: r.rec.Tables.Mismatched,
		ChecksFailed: r.rec.Indexes.Failed + countFailed(r.rec.Checks),
	}
	if len(problems) > 0 {
		return result.Errorf(result.ReasonVerificationFailed, "backup %s does not hold what it recorded: %s", m.ID, summarize(problems))
	}
	return nil
}

// checkDatabase compares row counts, runs amcheck and the database's user
// checks, and returns what differed.
func (r *run) checkDatabase(ctx context.Context, log logr.Logger, obj manifest.Object) []string {
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: r.set.databaseURL(obj.Name), Retries: 2})
	if err != nil {
		return []string{fmt.Sprintf("database %s: connect to the restored copy: %v", obj.Name, err)}
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var problems []string
	problems = append(problems, r.compareCounts(ctx, conn, obj)...)
	if r.opts.Amcheck {
		problems = append(problems, r.amcheck(ctx, log, conn, obj.Name)...)
	}
	for _, c := range r.set.checks {
		if c.Database != obj.Name {
			continue
		}
		res := runCheck(ctx, conn, c, r.opts.CheckTimeout)
		r.rec.Checks = append(r.rec.Checks, res)
		log.Info("Check run", "check", c.Name, "ok", res.OK, "message", res.Message)
		if !res.OK {
			problems = append(problems, fmt.Sprintf("check %q failed: %s", c.Name, res.Message))
		}
	}
	return problems
}

// finish drops the restored databases (unless kept) and records the
// verdict when it is one about the backup itself.
func (r *run) finish(ctx context.Context, rp repo.Repo, m *manifest.Manifest, verdict error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if !r.opts.KeepRestored {
		r.dropRestored(cctx)
	}
	if r.res.Verification == nil {
		r.res.Verification = &result.Verification{}
	}
	switch reason := result.ReasonOf(verdict); {
	case !r.opts.Record:
		return
	case verdict == nil:
		r.rec.Result = manifest.VerificationSucceeded
	case reason == result.ReasonVerificationFailed || reason == result.ReasonIntegrityFailed:
		r.rec.Result, r.rec.Reason, r.rec.Message = manifest.VerificationFailed, string(reason), verdict.Error()
	default:
		// The scratch server, S3 or a signal failed, not the backup: a
		// later run may still verify it.
		r.log.Info("Not recording a verdict: the failure is not about the backup's content", "reason", reason)
		return
	}
	r.rec.CheckedAt = r.now().UTC()
	recorded, err := record(cctx, rp, r.rec)
	switch {
	case err != nil:
		r.log.Error(err, "Could not write the verification record")
		r.res.Warnings = append(r.res.Warnings, "the verification record could not be written: "+err.Error())
	case !recorded:
		r.log.Info("The backup already has a verification record; it is written once and was left as it is (warning)", "key", manifest.VerificationKey(rp.Prefix, m.ID))
		r.res.Warnings = append(r.res.Warnings, "verification.json already existed and was left as it is")
	default:
		r.log.Info("Verification recorded", "key", manifest.VerificationKey(rp.Prefix, m.ID), "result", r.rec.Result)
	}
	r.res.Verification.Recorded = recorded
}

// dropRestored drops the databases this run restored.
func (r *run) dropRestored(ctx context.Context) {
	if len(r.restored) == 0 {
		return
	}
	conn, err := pgclient.Connect(ctx, r.log, pgclient.Options{ConnString: r.opts.Target, Database: r.set.maintenance, Retries: 1})
	if err != nil {
		r.log.Error(err, "Could not drop the restored databases")
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, db := range r.restored {
		stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize()
		if r.server.Major() >= 13 {
			stmt += " WITH (FORCE)"
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			r.log.Error(err, "Could not drop a restored database", "database", db)
		}
	}
}

// record writes the verification record once. Any unclear answer (lost,
// a timeout, a retry answered 412 because the first try landed) is
// resolved by reading the record back: its own content means it was
// written; another run's record is left as it is.
func record(ctx context.Context, rp repo.Repo, v manifest.Verification) (bool, error) {
	body, err := v.Marshal()
	if err != nil {
		return false, err
	}
	key := manifest.VerificationKey(rp.Prefix, v.BackupID)
	putErr := rp.Store.PutIfAbsent(ctx, key, body, "application/json")
	if putErr == nil {
		return true, nil
	}
	stored, err := rp.Verification(ctx, v.BackupID)
	switch {
	case err != nil:
		return false, errors.Join(putErr, fmt.Errorf("read %s back: %w", key, err))
	case stored == nil:
		return false, putErr // it did not land
	}
	mine := stored.CheckedAt.Equal(v.CheckedAt) && stored.Result == v.Result && stored.AgentVersion == v.AgentVersion
	if mine || errors.Is(putErr, storage.ErrExists) {
		return mine, nil
	}
	return false, putErr
}

// summarize joins the first problems, saying how many there were.
func summarize(problems []string) string {
	const show = 5
	if len(problems) <= show {
		return strings.Join(problems, "; ")
	}
	return strings.Join(problems[:show], "; ") + fmt.Sprintf("; and %d more (see verification.json and the log)", len(problems)-show)
}

func countFailed(cs []manifest.CheckResult) int {
	n := 0
	for _, c := range cs {
		if !c.OK {
			n++
		}
	}
	return n
}
