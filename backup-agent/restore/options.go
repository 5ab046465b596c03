package restore

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Options configure a restore. Every field is a flag of `pgbackup
// restore` and, through package envflag, a PGBACKUP_* variable.
type Options struct {
	// Destination is where the backups are, as given to the backup.
	Destination storage.Destination
	// Backup is "latest", "latest-verified" or a backup id.
	Backup string
	// At picks the newest complete backup started at or before this time
	// (RFC 3339 with Z or a UTC offset, or a backup id's YYYYMMDDTHHMMSSZ
	// form).
	At string
	// Database is the database of the backup to restore; optional when the
	// backup holds only one.
	Database string
	// Target is the libpq URL of the database to restore into. Its
	// password, passfile and sslpassword (userinfo or query) never reach a
	// command line, the plan, a log or an error.
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
	// SingleTransaction runs pg_restore (custom and directory formats,
	// without --jobs) in one transaction, so a failure leaves the target as
	// it was. psql gets --single-transaction too, but a plain script is not
	// atomic: pg_dump writes its own BEGIN/COMMIT around large objects,
	// which ends psql's transaction early.
	SingleTransaction bool
	// Globals applies the backup's roles and tablespaces to the target
	// server before the database: after the target check and any download,
	// so that a refused restore or a corrupt dump changes nothing.
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
	fs.StringVar(&o.Backup, "backup", o.Backup, "backup to restore: latest, latest-verified (the newest whose restore verification succeeded) or an id (see pgbackup list)")
	fs.StringVar(&o.At, "at", o.At, "restore the newest complete backup started at or before this time (RFC 3339 with Z or an offset, or YYYYMMDDTHHMMSSZ)")
	fs.StringVar(&o.Database, "database", o.Database, "database of the backup to restore (required when the backup holds several)")
	fs.StringVar(&o.Target, "target", o.Target, "database to restore into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] (required; the libpq environment fills the rest; password, passfile and sslpassword are passed to pg_restore and psql through their environment, never on the command line)")
	fs.BoolVar(&o.Create, "create", o.Create, "create the target database first (it is dropped again if the restore fails)")
	fs.BoolVar(&o.Clean, "clean", o.Clean, "restore into a target that holds tables: drop the backup's objects first (custom format)")
	fs.IntVar(&o.Jobs, "jobs", o.Jobs, "parallel pg_restore jobs; above 1 the dump is downloaded to --spool-dir and verified first")
	fs.StringVar(&o.SpoolDir, "spool-dir", o.SpoolDir, "scratch directory for downloads (default: the system's temp directory)")
	fs.StringVar(&o.Identity, "identity", o.Identity, "age identity file (AGE-SECRET-KEY-1...) to decrypt an encrypted backup")
	fs.BoolVar(&o.SingleTransaction, "single-transaction", o.SingleTransaction, "restore in one transaction so a failure leaves the target unchanged (custom and directory formats without --jobs; a plain script commits on its own around large objects; turn off for schemas that exceed max_locks_per_transaction)")
	fs.BoolVar(&o.Globals, "globals", o.Globals, "apply the backup's roles and tablespaces (pg_dumpall --globals-only) to the target server before the database; objects that already exist are reported and skipped")
	fs.BoolVar(&o.DryRun, "dry-run", o.DryRun, "print the plan and touch nothing")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "how often progress is logged")
}

// settings are validated options.
type settings struct {
	bucket, prefix string
	at             time.Time
	target         target
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
		if s.at, err = parseAt(o.At); err != nil {
			errs = append(errs, err.Error())
		}
		if o.Backup != "" && o.Backup != "latest" && o.Backup != repo.LatestVerified {
			errs = append(errs, "--at and --backup ID contradict each other: give one")
		}
	}
	if o.Target == "" {
		errs = append(errs, "--target is required (postgres://USER@HOST:PORT/DB)")
	} else if s.target, err = parseTarget(o.Target); err != nil {
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

// parseAt reads --at: RFC 3339 with Z or a UTC offset, or a backup id's
// YYYYMMDDTHHMMSSZ form. A time without an offset is refused: read as UTC
// or as the pod's zone, it could pick another backup than the one meant.
func parseAt(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "20060102T150405Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, v); err == nil {
			return time.Time{}, fmt.Errorf("--at %q has no UTC offset: add Z for UTC or an offset, e.g. 2026-11-28T23:00:00Z or 2026-11-28T23:00:00+01:00", v)
		}
	}
	return time.Time{}, fmt.Errorf("--at %q is not a time: use RFC 3339 with Z or an offset (2026-11-29T03:00:00Z) or a backup id's form (20261129T030000Z)", v)
}
