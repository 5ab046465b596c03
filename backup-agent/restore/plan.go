package restore

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/codec"
	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// This file builds the plan: pure functions of the manifest and the
// options, which the rest of the restore follows and --dry-run prints.

// plan is what a restore will do.
type plan struct {
	m   *manifest.Manifest
	obj manifest.Object
	// decoding undoes the backup's compression and encryption.
	decoding codec.Decoding
	target   target
	// download: the whole object is fetched and verified into the spool
	// directory before the tool runs (directory and plain formats, --jobs).
	download bool
	spoolDir string
	jobs     int
	// progressEvery is how often download progress is logged.
	progressEvery                             time.Duration
	create, clean, singleTransaction, globals bool
	// skipped are newer backups passed over because their manifests are
	// damaged.
	skipped []skippedBackup
	// warn, when set, is told of every warning the restore logs (a globals
	// statement that failed).
	warn func(string)
}

// skippedBackup is a backup that --backup latest or --at passed over.
type skippedBackup struct{ id, why string }

// buildPlan chooses the database and the method of the restore.
func buildPlan(m *manifest.Manifest, opts Options, set settings, skipped []skippedBackup) (plan, error) {
	p := plan{
		m: m, target: set.target, spoolDir: set.spoolDir, jobs: opts.Jobs, download: opts.Jobs > 1, progressEvery: opts.ProgressInterval,
		create: opts.Create, clean: opts.Clean, singleTransaction: opts.SingleTransaction, globals: opts.Globals,
		skipped: skipped,
	}
	var err error
	if p.obj, err = chooseDatabase(m, opts.Database); err != nil {
		return plan{}, err
	}
	if p.decoding, err = decoding(m, set.identities); err != nil {
		return plan{}, err
	}
	if opts.Globals && m.Globals == nil {
		why := "it was made with --globals=false"
		if m.GlobalsSkipped != "" {
			why = "they were skipped: " + m.GlobalsSkipped
		}
		return plan{}, result.Errorf(result.ReasonConfigInvalid, "--globals: backup %s holds no globals (%s)", m.ID, why)
	}
	switch m.Format {
	case manifest.FormatCustom:
	case manifest.FormatDirectory:
		// pg_restore needs the directory itself: download and unpack first.
		p.download = true
	case manifest.FormatPlain:
		// psql executes a script as it arrives and the script commits on
		// its own (see atomic): verify all of it before any of it runs.
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

// chooseDatabase picks the object to restore: the one named, or the only one.
func chooseDatabase(m *manifest.Manifest, name string) (manifest.Object, error) {
	names := make([]string, len(m.Databases))
	for i, d := range m.Databases {
		names[i] = d.Name
	}
	switch {
	case name != "":
		obj, ok := m.Database(name)
		if !ok {
			return obj, result.Errorf(result.ReasonConfigInvalid, "backup %s has no database %q; it holds %s", m.ID, name, strings.Join(names, ", "))
		}
		return obj, nil
	case len(m.Databases) == 1:
		return m.Databases[0], nil
	default:
		return manifest.Object{}, result.Errorf(result.ReasonConfigInvalid, "backup %s holds %d databases (%s): choose one with --database", m.ID, len(m.Databases), strings.Join(names, ", "))
	}
}

// decoding is how to read the backup's objects.
func decoding(m *manifest.Manifest, ids crypt.Identities) (codec.Decoding, error) {
	spec, err := compress.Parse(m.Compression)
	if err != nil {
		return codec.Decoding{}, result.Errorf(result.ReasonIntegrityFailed, "backup %s: manifest compression: %w", m.ID, err)
	}
	d := codec.Decoding{Compression: spec}
	if m.Encryption == nil {
		return d, nil
	}
	if m.Encryption.Type != crypt.Type {
		return d, result.Errorf(result.ReasonIntegrityFailed, "backup %s is encrypted with %q, which this build cannot decrypt", m.ID, m.Encryption.Type)
	}
	if len(ids) == 0 {
		return d, result.Errorf(result.ReasonIntegrityFailed, "backup %s is encrypted with age for %s: give the matching identity file with --identity", m.ID, strings.Join(m.Encryption.Recipients, ", "))
	}
	d.Encrypted, d.Identities = true, ids
	return d, nil
}

// tool is the program that restores the backup's format.
func (p plan) tool() string {
	if p.m.Format == manifest.FormatPlain {
		return "psql"
	}
	return "pg_restore"
}

// atomic reports whether a failure of the restore tool rolls everything
// back: pg_restore in one transaction. psql gets --single-transaction too,
// but that is no promise: pg_dump's plain output has its own BEGIN/COMMIT
// around large objects, and that COMMIT ends psql's transaction early, so
// whatever ran before it stays.
func (p plan) atomic() bool {
	return p.m.Format != manifest.FormatPlain && p.singleTransaction && p.jobs <= 1
}

// scriptArgs are psql's arguments for a script on stdin (restoreScript):
// pg_restore's, which holds its own BEGIN/COMMIT when single-transaction,
// or a plain one, which gets --single-transaction as in toolArgs.
func (p plan) scriptArgs(conninfo string) []string {
	args := []string{"-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo}
	if p.m.Format == manifest.FormatPlain && p.singleTransaction {
		args = append(args, "--single-transaction")
	}
	return append(args, "-f", "-")
}

// scriptRestoreArgs are pg_restore's arguments to write the restore as a
// script to stdout (restoreScript), from input ("-": stdin): the same
// choices as toolArgs, serially.
func (p plan) scriptRestoreArgs(input string) []string {
	args := []string{"--exit-on-error", "-f", "-"}
	if p.clean {
		args = append(args, "--clean", "--if-exists")
	}
	if p.singleTransaction {
		args = append(args, "--single-transaction")
	}
	if input != "-" {
		args = append(args, input)
	}
	return args
}

// toolArgs are pg_restore's or psql's arguments: conninfo is the target
// without secrets, input "-" for stdin or the downloaded dump.
func (p plan) toolArgs(conninfo, input string) []string {
	if p.m.Format == manifest.FormatPlain {
		args := []string{"-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo}
		if p.singleTransaction {
			args = append(args, "--single-transaction")
		}
		return append(args, "-f", input)
	}
	args := []string{"--exit-on-error", "--no-password", "-d", conninfo}
	if p.clean {
		args = append(args, "--clean", "--if-exists")
	}
	switch {
	case p.jobs > 1:
		args = append(args, "--jobs", strconv.Itoa(p.jobs))
	case p.singleTransaction:
		args = append(args, "--single-transaction")
	}
	if input != "-" {
		args = append(args, input)
	}
	return args
}

// checkToolVersion refuses a pg_restore of an older major version than
// the pg_dump that made the backup: archives of a newer pg_dump may use a
// format version or objects the older pg_restore cannot read, and it would
// find out only part-way through. psql is not checked: it sends the
// script's SQL to the server, which is what must understand it; the only
// client-side commands in pg_dump's scripts (\connect, \restrict) come
// first, so a psql that lacks one stops before any statement has run.
func checkToolVersion(tool pgdump.Version, m *manifest.Manifest) error {
	if m.Format == manifest.FormatPlain {
		return nil
	}
	dump, err := dumpVersion(m)
	if err != nil || tool.Major >= dump.Major {
		return nil
	}
	return result.Errorf(result.ReasonConfigInvalid,
		"pg_restore %s is older than pg_dump %s, which made backup %s: use pg_restore %d or newer (on PATH or in %s)",
		tool.Full, dump.Full, m.ID, dump.Major, pgdump.BinDirEnv)
}

// dumpVersion is the manifest's pgDumpVersion ("17.2"), parsed the way
// `pg_dump --version` is.
func dumpVersion(m *manifest.Manifest) (pgdump.Version, error) {
	return pgdump.ParseVersion("(PostgreSQL) " + m.PgDumpVersion)
}

// stage is how far a restore got, which decides what a failure leaves.
type stage int

const (
	// notStarted: the target has not been checked yet.
	notStarted stage = iota
	// prepared: the target was checked (and created); nothing written.
	prepared
	// globalsStarted: roles and tablespaces are being applied to the server.
	globalsStarted
	// toolStarted: pg_restore or psql runs against the target database.
	toolStarted
)

// leftBehind says what a failure at stage st leaves in the target
// database the restore did not create (empty when there is nothing to
// add: the error itself says it).
func (p plan) leftBehind(st stage) string {
	db := p.target.db
	switch {
	case st == notStarted:
		return ""
	case st < toolStarted:
		return fmt.Sprintf("nothing was restored: database %s is untouched%s", db, p.globalsStay(st))
	case p.atomic():
		return fmt.Sprintf("the restore ran in one transaction and was rolled back: database %s is as it was%s", db, p.globalsStay(st))
	case p.m.Format == manifest.FormatPlain:
		return fmt.Sprintf("database %s may hold part of the backup: a plain-format restore is not atomic (pg_dump's own BEGIN/COMMIT around large objects ends psql's transaction early); restore into a new database with --create, which drops it on failure%s", db, p.globalsStay(st))
	default:
		why := "--single-transaction=false"
		if p.jobs > 1 {
			why = "--jobs " + strconv.Itoa(p.jobs)
		}
		return fmt.Sprintf("database %s may hold part of the backup: with %s the restore is not one transaction%s", db, why, p.globalsStay(st))
	}
}

// globalsStay notes that the globals applied before a failure stay: roles
// and tablespaces belong to the server, not to the target database.
func (p plan) globalsStay(st stage) string {
	if !p.globals || st < globalsStarted {
		return ""
	}
	return "; the roles and tablespaces already applied from the backup's globals stay on the server"
}

// method describes how the restore runs, for the plan.
func (p plan) method() string {
	mode := "stream: download | sha256 | decode | " + p.tool()
	if p.download {
		mode = "download to the spool directory and verify, then " + p.tool()
		if p.jobs > 1 {
			mode += " -j " + strconv.Itoa(p.jobs)
		}
	}
	if p.atomic() {
		mode += " (one transaction)"
	}
	return mode
}

// onFailure says what a failed restore would leave, for the plan.
func (p plan) onFailure() string {
	if p.create {
		return "a database created by this restore is dropped again"
	}
	return p.leftBehind(toolStarted)
}

// found is what --dry-run saw, read-only, for the plan.
type found struct {
	// target: whether the target exists and is empty; tool: which
	// pg_restore or psql would run; spool: whether the download fits.
	target, tool, spool string
}

// writePlan prints the plan and what was found.
func writePlan(w io.Writer, p plan, f found) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Restore plan (dry run: nothing is changed)\n")
	fmt.Fprintf(&b, "  backup:      %s (started %s, %s, %s)\n", p.m.ID, p.m.StartedAt.Format(time.RFC3339), p.m.Format, p.m.Compression)
	for _, s := range p.skipped {
		fmt.Fprintf(&b, "  skipped:     %s (%s)\n", s.id, s.why)
	}
	fmt.Fprintf(&b, "  database:    %s\n", p.obj.Name)
	fmt.Fprintf(&b, "  object:      %s (%d bytes, sha256 %s)\n", p.obj.Key, p.obj.Size, p.obj.SHA256)
	if len(p.obj.PgDumpOptions) > 0 {
		// A narrowed dump holds less than the database: say so before
		// anyone relies on it.
		fmt.Fprintf(&b, "  narrowed:    dumped with %s\n", strings.Join(p.obj.PgDumpOptions, " "))
	}
	fmt.Fprintf(&b, "  target:      %s\n", p.target)
	fmt.Fprintf(&b, "  target now:  %s\n", f.target)
	fmt.Fprintf(&b, "  tool:        %s\n", f.tool)
	if p.download {
		fmt.Fprintf(&b, "  spool:       %s\n", f.spool)
	}
	fmt.Fprintf(&b, "  create:      %v\n", p.create)
	fmt.Fprintf(&b, "  clean:       %v\n", p.clean)
	fmt.Fprintf(&b, "  globals:     %v\n", p.globals)
	fmt.Fprintf(&b, "  method:      %s\n", p.method())
	fmt.Fprintf(&b, "  on failure:  %s\n", p.onFailure())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return result.Wrap(result.ReasonInternal, fmt.Errorf("print plan: %w", err))
	}
	return nil
}

// describeTool says which tool would run and whether its version passes.
func describeTool(p plan, v pgdump.Version, verr error) string {
	switch {
	case p.m.Format == manifest.FormatPlain:
		return "psql (any version: it passes the script's SQL to the server)"
	case verr != nil:
		return "unknown: " + verr.Error()
	}
	if err := checkToolVersion(v, p.m); err != nil {
		return err.Error() + "; the restore would be refused (exit 2)"
	}
	return fmt.Sprintf("pg_restore %s (the backup was made by pg_dump %s)", v.Full, p.m.PgDumpVersion)
}
