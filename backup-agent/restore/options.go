package restore

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Options configure a restore. Every field is a flag of `pgbackup
// restore` and, through package envflag, a PGBACKUP_* variable.
type Options struct {
	// Destination is where the backups are, as given to the backup.
	Destination storage.Destination
	// Backup is "latest" or a backup id.
	Backup string
	// At picks the newest complete backup started at or before this time
	// (RFC 3339, or a backup id's YYYYMMDDTHHMMSSZ form).
	At string
	// Database is the database of the backup to restore; optional when the
	// backup holds only one.
	Database string
	// Target is the libpq URL of the database to restore into.
	Target string
	// Create creates the target database first.
	Create bool
	// Clean drops the backup's objects from a non-empty target before
	// recreating them (custom format only).
	Clean bool
	// Jobs > 1 downloads the dump first and runs pg_restore -j Jobs.
	Jobs int
	// SpoolDir is where downloads go (default: the system's temp dir).
	SpoolDir string
	// Identity is an age identity file, for encrypted backups.
	Identity string
	// SingleTransaction runs a streaming restore in one transaction, so a
	// failure leaves the target as it was.
	SingleTransaction bool
	// Globals applies the backup's roles and tablespaces first.
	Globals bool
	// DryRun prints the plan and touches nothing.
	DryRun bool
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration
}

// DefaultOptions are the flags' defaults.
func DefaultOptions() Options {
	return Options{Backup: "latest", Jobs: 1, SingleTransaction: true, ProgressInterval: 10 * time.Second}
}

// AddFlags registers the options as flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Destination.AddFlags(fs, "where the backups are")
	fs.StringVar(&o.Backup, "backup", o.Backup, "backup to restore: latest or an id (see pgbackup list)")
	fs.StringVar(&o.At, "at", o.At, "restore the newest complete backup started at or before this time (RFC 3339)")
	fs.StringVar(&o.Database, "database", o.Database, "database of the backup to restore (required when the backup holds several)")
	fs.StringVar(&o.Target, "target", o.Target, "database to restore into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] (required; the libpq environment fills the rest)")
	fs.BoolVar(&o.Create, "create", o.Create, "create the target database first (it is dropped again if the restore fails)")
	fs.BoolVar(&o.Clean, "clean", o.Clean, "restore into a target that holds tables: drop the backup's objects first (custom format)")
	fs.IntVar(&o.Jobs, "jobs", o.Jobs, "parallel pg_restore jobs; above 1 the dump is downloaded to --spool-dir and verified first")
	fs.StringVar(&o.SpoolDir, "spool-dir", o.SpoolDir, "scratch directory for downloads (default: the system's temp directory)")
	fs.StringVar(&o.Identity, "identity", o.Identity, "age identity file (AGE-SECRET-KEY-1...) to decrypt an encrypted backup")
	fs.BoolVar(&o.SingleTransaction, "single-transaction", o.SingleTransaction, "restore in one transaction so a failure leaves the target unchanged (turn off for schemas that exceed max_locks_per_transaction)")
	fs.BoolVar(&o.Globals, "globals", o.Globals, "apply the backup's roles and tablespaces (pg_dumpall --globals-only) to the target server first; objects that already exist are reported and skipped")
	fs.BoolVar(&o.DryRun, "dry-run", o.DryRun, "print the plan and touch nothing")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "how often progress is logged")
}

// settings are validated options.
type settings struct {
	bucket, prefix string
	at             time.Time
	target         *url.URL
	targetDB       string
	spoolDir       string
	identities     crypt.Identities
}

func (o *Options) validate() (settings, error) {
	var s settings
	var errs []string
	var err error
	if s.bucket, s.prefix, err = o.Destination.Parse(); err != nil {
		errs = append(errs, err.Error())
	}
	if o.At != "" {
		if s.at, err = parseTime(o.At); err != nil {
			errs = append(errs, err.Error())
		}
		if o.Backup != "" && o.Backup != "latest" {
			errs = append(errs, "--at and --backup ID contradict each other: give one")
		}
	}
	if o.Target == "" {
		errs = append(errs, "--target is required (postgres://USER@HOST:PORT/DB)")
	} else if s.target, s.targetDB, err = parseTarget(o.Target); err != nil {
		errs = append(errs, err.Error())
	}
	if o.Jobs < 1 || o.Jobs > 64 {
		errs = append(errs, fmt.Sprintf("--jobs %d: must be between 1 and 64", o.Jobs))
	}
	if o.ProgressInterval <= 0 {
		errs = append(errs, "--progress-interval must be positive")
	}
	if o.Identity != "" {
		if s.identities, err = crypt.LoadIdentities(o.Identity); err != nil {
			errs = append(errs, err.Error())
		}
	}
	s.spoolDir = o.SpoolDir
	if s.spoolDir == "" {
		s.spoolDir = os.TempDir()
	}
	if len(errs) > 0 {
		return s, result.Errorf(result.ReasonConfigInvalid, "%s", strings.Join(errs, "; "))
	}
	return s, nil
}

// parseTime reads RFC 3339 or a backup id's compact form.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "20060102T150405Z", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: not a time (use RFC 3339, e.g. 2026-11-29T03:00:00Z)", v)
}

// parseTarget checks the target URL and returns it with the database
// name. Errors never repeat the URL: it may hold a password.
func parseTarget(v string) (*url.URL, string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, "", fmt.Errorf("--target must be a postgres:// URL naming the database to restore into")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, "", fmt.Errorf("--target %s names no database: add /DBNAME", redact(u))
	}
	return u, db, nil
}

// redact renders a URL without its password.
func redact(u *url.URL) string { return u.Redacted() }
