package backup

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/codec"
	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/notify"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/retention"
	"github.com/pgbackup/pgbackup/backup-agent/selection"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Options configure a backup run. Every field is a flag of `pgbackup
// backup` and, through package envflag, a PGBACKUP_* variable.
type Options struct {
	// Destination is where backups go (and the S3 addressing style).
	Destination storage.Destination
	// Databases to dump; empty means every connectable non-template database.
	Databases []string
	// ExcludeDatabases are never dumped (exact names).
	ExcludeDatabases []string
	// DumpFilters narrow what is dumped of each database: a JSON array of
	// package selection's filters.
	DumpFilters string
	// PgDumpExtraArgs are added to every database's pg_dump, from
	// package selection's allow-list.
	PgDumpExtraArgs []string
	// Format is pg_dump's output format: custom or plain.
	Format string
	// Jobs is pg_dump -j for the directory format.
	Jobs int
	// SpoolDir is scratch space (the PVC), needed by the directory format,
	// and where upload parts too large for the part memory are written.
	SpoolDir string
	// KeepLocal keeps the newest N complete backups on the spool volume too.
	KeepLocal int
	// Compression is zstd[:LEVEL], gzip[:LEVEL] or none.
	Compression string
	// UploadConcurrency is how many parts of an object upload at once.
	UploadConcurrency int
	// ConnectRetries is how often a failed PostgreSQL connection is retried.
	ConnectRetries int
	// TerminationLog is where the result JSON goes ("" = Kubernetes'
	// /dev/termination-log when writable).
	TerminationLog string
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration
	// Globals is auto, true or false: whether to dump roles and
	// tablespaces with pg_dumpall --globals-only. auto skips them, with a
	// warning, when the role may not read them.
	Globals string
	// NoRolePasswords dumps roles without their password hashes.
	NoRolePasswords bool
	// AgeRecipients and AgeRecipientsFile encrypt the backup with age.
	AgeRecipients     []string
	AgeRecipientsFile string
	// Retention is applied after a fully successful run only.
	Retention retention.Policy
	// LockWaitTimeout is pg_dump --lock-wait-timeout: how long it waits
	// for the shared lock of each table at the start of a dump (a session
	// holding ACCESS EXCLUSIVE blocks it) before the run fails (exit 4).
	// 0 waits forever.
	LockWaitTimeout time.Duration
	// NotifyURL is a webhook that receives the run's result as JSON
	// (package notify) for the NotifyEvents outcomes; HeartbeatURL is
	// pinged after every success. Both usually carry a token and come from
	// a Secret, as PGBACKUP_NOTIFY_URL and PGBACKUP_HEARTBEAT_URL.
	NotifyURL, HeartbeatURL string
	NotifyEvents            []string
	// NotifySource names what ran in the webhook's payload (the controller
	// sets the PostgresBackup's namespace/name).
	NotifySource string
}

// DefaultLockWaitTimeout bounds pg_dump's wait for table locks: long
// enough for a migration's short exclusive lock, short enough that a
// forgotten one fails the run, with a reason, well before the Job's
// deadline.
const DefaultLockWaitTimeout = 5 * time.Minute

// The values of --globals.
const (
	GlobalsAuto  = "auto"
	GlobalsTrue  = "true"
	GlobalsFalse = "false"
)

// DefaultOptions are the defaults of the flags.
func DefaultOptions() Options {
	return Options{
		Format:            string(manifest.FormatCustom),
		Globals:           GlobalsAuto,
		Jobs:              1,
		Compression:       compress.Default.String(),
		UploadConcurrency: storage.DefaultConcurrency,
		ConnectRetries:    3,
		ProgressInterval:  10 * time.Second,
		LockWaitTimeout:   DefaultLockWaitTimeout,
	}
}

// AddFlags registers the options as flags, with their current values as
// defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Destination.AddFlags(fs, "where backups go")
	fs.StringSliceVar(&o.Databases, "databases", o.Databases, "databases to dump, comma-separated (default: every connectable non-template database)")
	fs.StringSliceVar(&o.ExcludeDatabases, "exclude-databases", o.ExcludeDatabases, "databases never dumped, comma-separated exact names")
	fs.StringVar(&o.DumpFilters, "dump-filters", o.DumpFilters, `what to dump of each database, a JSON array: [{"database":"app","schemas":[...],"excludeSchemas":[...],"excludeTables":[...],"excludeTableData":[...]}] (pg_dump patterns; no "database" means every database; an include pattern matching nothing fails the dump)`)
	fs.StringSliceVar(&o.PgDumpExtraArgs, "pg-dump-extra-args", o.PgDumpExtraArgs, "extra pg_dump options for every database, comma-separated long options from an allow-list (--no-owner, --no-privileges, --no-comments, --extension=PATTERN, ...; anything changing the output's format, completeness or the connection is refused)")
	fs.StringVar(&o.Format, "format", o.Format, "pg_dump format: custom, plain, or directory (dumped in parallel into --spool-dir, stored as one tar)")
	fs.IntVar(&o.Jobs, "jobs", o.Jobs, "pg_dump -j: parallel dump jobs, for --format directory")
	fs.StringVar(&o.SpoolDir, "spool-dir", o.SpoolDir, "scratch space (the PVC); needed by --format directory and --keep-local")
	fs.IntVar(&o.KeepLocal, "keep-local", o.KeepLocal, "also keep the newest N complete backups, as stored, under --spool-dir/local")
	fs.StringVar(&o.Compression, "compression", o.Compression, "zstd[:LEVEL], gzip[:LEVEL] or none (done by the agent; pg_dump runs with -Z0)")
	fs.IntVar(&o.UploadConcurrency, "upload-concurrency", o.UploadConcurrency, "parts of an object uploaded in parallel, within the agent's fixed part memory (parts beyond it go to --spool-dir)")
	fs.IntVar(&o.ConnectRetries, "connect-retries", o.ConnectRetries, "retries of a failed PostgreSQL connection, with backoff (a refused login is not retried)")
	fs.StringVar(&o.TerminationLog, "termination-log", o.TerminationLog, "where the result JSON goes (default: /dev/termination-log when writable)")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "how often progress is logged")
	fs.StringVar(&o.Globals, "globals", o.Globals, "also dump roles and tablespaces (pg_dumpall --globals-only): auto (skip with a warning when not permitted), true (a failure fails the run) or false")
	fs.BoolVar(&o.NoRolePasswords, "no-role-passwords", o.NoRolePasswords, "dump roles without password hashes (lets a non-superuser dump globals)")
	fs.StringArrayVar(&o.AgeRecipients, "age-recipient", o.AgeRecipients, "encrypt for this age public key (age1...); repeatable")
	fs.StringVar(&o.AgeRecipientsFile, "age-recipients-file", o.AgeRecipientsFile, "encrypt for the age public keys in this file, one per line")
	fs.DurationVar(&o.LockWaitTimeout, "lock-wait-timeout", o.LockWaitTimeout, "pg_dump --lock-wait-timeout: fail (exit 4) when a table's lock is not granted within this (a session holding ACCESS EXCLUSIVE); 0 waits forever")
	o.Retention.AddFlags(fs)
	fs.StringVar(&o.NotifyURL, "notify-url", o.NotifyURL, "webhook that receives the result as JSON (POST) when the run ends as --notify-events says; it holds a token, so pass it as PGBACKUP_NOTIFY_URL")
	fs.StringSliceVar(&o.NotifyEvents, "notify-events", o.NotifyEvents, "the outcomes --notify-url is told about: failed, succeeded (default: failed)")
	fs.StringVar(&o.HeartbeatURL, "heartbeat-url", o.HeartbeatURL, "URL pinged (GET) after every successful run, for a heartbeat service that alerts when pings stop; pass it as PGBACKUP_HEARTBEAT_URL")
	fs.StringVar(&o.NotifySource, "notify-source", o.NotifySource, "what the webhook's payload says ran (the controller sets NAMESPACE/NAME)")
}

// notifyConfig is where the run's outcome is reported.
func (o *Options) notifyConfig() notify.Config {
	return notify.Config{WebhookURL: o.NotifyURL, Events: notify.ParseEvents(o.NotifyEvents), HeartbeatURL: o.HeartbeatURL, Source: o.NotifySource}
}

// settings are validated, parsed options.
type settings struct {
	bucket, prefix string
	format         manifest.Format
	// sel is what each database's pg_dump selects.
	sel selection.Options
	// encoding is compression, then encryption (package codec).
	encoding codec.Encoding
}

// validate checks the options and returns them parsed. All problems are
// reported at once, as ConfigInvalid.
func (o *Options) validate() (settings, error) {
	var s settings
	var errs []error
	var err error
	if s.bucket, s.prefix, err = o.Destination.Parse(); err != nil {
		errs = append(errs, err)
	}
	switch f := manifest.Format(o.Format); f {
	case manifest.FormatCustom, manifest.FormatPlain, manifest.FormatDirectory:
		s.format = f
	default:
		errs = append(errs, fmt.Errorf("--format %q: use custom, plain or directory", o.Format))
	}
	if o.Jobs < 1 || o.Jobs > 64 {
		errs = append(errs, fmt.Errorf("--jobs %d: must be between 1 and 64", o.Jobs))
	} else if o.Jobs > 1 && s.format != manifest.FormatDirectory {
		errs = append(errs, errors.New("--jobs above 1 needs --format directory (pg_dump dumps in parallel only to a directory)"))
	}
	if o.KeepLocal < 0 {
		errs = append(errs, fmt.Errorf("--keep-local %d: must not be negative", o.KeepLocal))
	}
	if s.format == manifest.FormatDirectory || o.KeepLocal > 0 {
		switch st, err := os.Stat(o.SpoolDir); {
		case o.SpoolDir == "":
			errs = append(errs, errors.New("--format directory and --keep-local need --spool-dir (the spool volume)"))
		case err != nil || !st.IsDir():
			errs = append(errs, fmt.Errorf("--spool-dir %s is not a directory", o.SpoolDir))
		}
	}
	switch o.Globals {
	case GlobalsAuto, GlobalsTrue, GlobalsFalse:
	default:
		errs = append(errs, fmt.Errorf("--globals %q: use auto, true or false", o.Globals))
	}
	if s.encoding.Compression, err = compress.Parse(o.Compression); err != nil {
		errs = append(errs, fmt.Errorf("--compression: %w", err))
	}
	if o.UploadConcurrency < 1 || o.UploadConcurrency > 64 {
		errs = append(errs, fmt.Errorf("--upload-concurrency %d: must be between 1 and 64", o.UploadConcurrency))
	}
	if o.ConnectRetries < 0 {
		errs = append(errs, fmt.Errorf("--connect-retries %d: must not be negative", o.ConnectRetries))
	}
	if o.LockWaitTimeout < 0 || (o.LockWaitTimeout > 0 && o.LockWaitTimeout < time.Millisecond) {
		errs = append(errs, fmt.Errorf("--lock-wait-timeout %s: must be 0 (wait forever) or at least 1ms", o.LockWaitTimeout))
	}
	if o.Destination.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("--s3-request-timeout %s: must not be negative", o.Destination.RequestTimeout))
	}
	if o.ProgressInterval <= 0 {
		errs = append(errs, fmt.Errorf("--progress-interval %s: must be positive", o.ProgressInterval))
	}
	if s.encoding.Recipients, err = crypt.ParseRecipients(o.AgeRecipients, o.AgeRecipientsFile); err != nil {
		errs = append(errs, err)
	}
	if err := o.Retention.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.notifyConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, db := range o.Databases {
		if db == "" {
			errs = append(errs, errors.New("--databases: empty database name"))
		}
	}
	for _, db := range o.ExcludeDatabases {
		if slices.Contains(o.Databases, db) {
			errs = append(errs, fmt.Errorf("--exclude-databases %q: also in --databases; name it in one of them", db))
		}
	}
	if s.sel.Filters, err = selection.ParseFilters(o.DumpFilters); err != nil {
		errs = append(errs, err)
	}
	if err := selection.CheckExtraArgs(o.PgDumpExtraArgs); err != nil {
		errs = append(errs, err)
	}
	s.sel.ExtraArgs = o.PgDumpExtraArgs
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return s, result.Errorf(result.ReasonConfigInvalid, "%s", strings.Join(msgs, "; "))
	}
	return s, nil
}
