package verify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Bounds of the user's checks.
const (
	maxChecks   = 32
	maxCheckSQL = 4096
)

// Options configure a verification. Every field is a flag of `pgbackup
// verify` and, through package envflag, a PGBACKUP_* variable.
type Options struct {
	// Destination is where the backups are.
	Destination storage.Destination
	// Backup is "latest" or a backup id.
	Backup string
	// Target is the libpq URL of the scratch server (its database part
	// names the maintenance database, "postgres" by default).
	Target string
	// Databases limits the verification to these databases of the backup
	// (default: all of them).
	Databases []string
	// Identity is an age identity file, for encrypted backups.
	Identity string
	// Checks is a JSON array of user checks: [{"name", "database", "sql"}].
	Checks string
	// ChecksFile is a file holding the same JSON array.
	ChecksFile string
	// SpoolDir is where downloads go.
	SpoolDir string
	// Jobs > 1 restores with pg_restore -j.
	Jobs int
	// WaitForTarget is how long to wait for the scratch server to accept
	// connections (it may still be initialising).
	WaitForTarget time.Duration
	// CheckTimeout bounds each user check (statement_timeout).
	CheckTimeout time.Duration
	// Amcheck checks restored B-tree indexes with amcheck's bt_index_check.
	Amcheck bool
	// Record writes verification.json (once) next to the backup.
	Record bool
	// KeepRestored leaves the restored databases on the scratch server;
	// by default they are dropped at the end, so the server can be reused.
	KeepRestored bool
	// TerminationLog is where the result line goes.
	TerminationLog string
	// ProgressInterval is how often restore progress is logged.
	ProgressInterval time.Duration
}

// DefaultOptions are the flags' defaults.
func DefaultOptions() Options {
	return Options{
		Backup: "latest", Jobs: 1, WaitForTarget: 2 * time.Minute, CheckTimeout: 5 * time.Minute,
		Amcheck: true, Record: true, ProgressInterval: 30 * time.Second,
	}
}

// AddFlags registers the options as flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Destination.AddFlags(fs, "where the backups are")
	fs.StringVar(&o.Backup, "backup", o.Backup, "backup to verify: latest or an id (see pgbackup list)")
	fs.StringVar(&o.Target, "target", o.Target, "scratch PostgreSQL server to restore into: postgres://USER@HOST:PORT/postgres (required; it must hold no databases of its own)")
	fs.StringSliceVar(&o.Databases, "database", o.Databases, "verify only these databases of the backup (repeatable; default: all)")
	fs.StringVar(&o.Identity, "identity", o.Identity, "age identity file (AGE-SECRET-KEY-1...) to decrypt an encrypted backup")
	fs.StringVar(&o.Checks, "checks", o.Checks, `SQL checks as JSON: [{"name":"recent-orders","database":"orders","sql":"SELECT count(*) > 0 FROM orders"}]; each must return one row whose first column is true`)
	fs.StringVar(&o.ChecksFile, "checks-file", o.ChecksFile, "file holding the --checks JSON array")
	fs.StringVar(&o.SpoolDir, "spool-dir", o.SpoolDir, "scratch directory for downloads (default: the system's temp directory)")
	fs.IntVar(&o.Jobs, "jobs", o.Jobs, "parallel pg_restore jobs")
	fs.DurationVar(&o.WaitForTarget, "wait-for-target", o.WaitForTarget, "how long to wait for the scratch server to accept connections")
	fs.DurationVar(&o.CheckTimeout, "check-timeout", o.CheckTimeout, "statement timeout of each SQL check")
	fs.BoolVar(&o.Amcheck, "amcheck", o.Amcheck, "check the restored B-tree indexes with amcheck (bt_index_check) where the server has the extension")
	fs.BoolVar(&o.Record, "record", o.Record, "write the verdict once to PREFIX/<id>/verification.json")
	fs.BoolVar(&o.KeepRestored, "keep-restored", o.KeepRestored, "leave the restored databases on the scratch server for inspection")
	fs.StringVar(&o.TerminationLog, "termination-log", o.TerminationLog, "where the result JSON line goes (default: /dev/termination-log when writable)")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "how often restore progress is logged")
}

// Check is one user SQL check, run read-only against a restored database.
type Check struct {
	Name     string `json:"name"`
	Database string `json:"database"`
	SQL      string `json:"sql"`
}

// settings are validated options.
type settings struct {
	target *url.URL
	// maintenance is the target's own database.
	maintenance string
	checks      []Check
}

func (o *Options) validate() (settings, error) {
	var s settings
	var errs []string
	if _, _, err := o.Destination.Parse(); err != nil {
		errs = append(errs, err.Error())
	}
	if o.Backup == "" {
		o.Backup = "latest"
	}
	if o.Target == "" {
		errs = append(errs, "--target is required: the scratch server, postgres://USER@HOST:PORT/postgres")
	} else if u, err := url.Parse(o.Target); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, "--target must be a postgres:// URL")
	} else {
		s.target = u
		s.maintenance = strings.TrimPrefix(u.Path, "/")
		if s.maintenance == "" {
			s.maintenance = "postgres"
		}
	}
	if o.Jobs < 1 || o.Jobs > 64 {
		errs = append(errs, fmt.Sprintf("--jobs %d: must be between 1 and 64", o.Jobs))
	}
	if o.WaitForTarget < 0 || o.CheckTimeout <= 0 || o.ProgressInterval <= 0 {
		errs = append(errs, "--wait-for-target must not be negative, --check-timeout and --progress-interval must be positive")
	}
	checks, err := o.loadChecks()
	if err != nil {
		errs = append(errs, err.Error())
	}
	s.checks = checks
	if len(errs) > 0 {
		return s, result.Errorf(result.ReasonConfigInvalid, "%s", strings.Join(errs, "; "))
	}
	return s, nil
}

// loadChecks reads and validates the user's checks.
func (o *Options) loadChecks() ([]Check, error) {
	raw := o.Checks
	if o.ChecksFile != "" {
		if raw != "" {
			return nil, fmt.Errorf("--checks and --checks-file contradict each other: give one")
		}
		b, err := os.ReadFile(o.ChecksFile)
		if err != nil {
			return nil, fmt.Errorf("--checks-file: %w", err)
		}
		raw = string(b)
	}
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var checks []Check
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&checks); err != nil {
		return nil, fmt.Errorf("checks: not a JSON array of {name, database, sql}: %w", err)
	}
	if len(checks) > maxChecks {
		return nil, fmt.Errorf("checks: %d given, at most %d", len(checks), maxChecks)
	}
	seen := map[string]bool{}
	for i, c := range checks {
		switch {
		case c.Name == "" || c.Database == "" || strings.TrimSpace(c.SQL) == "":
			return nil, fmt.Errorf("checks[%d]: name, database and sql are required", i)
		case seen[c.Name]:
			return nil, fmt.Errorf("checks: name %q is used twice", c.Name)
		case len(c.SQL) > maxCheckSQL:
			return nil, fmt.Errorf("check %q: sql is longer than %d bytes", c.Name, maxCheckSQL)
		}
		seen[c.Name] = true
	}
	return checks, nil
}

// databaseURL is the target URL naming database db.
func (s settings) databaseURL(db string) string {
	u := *s.target
	// Escaped whole, so that a "/" in a name stays part of it.
	u.Path, u.RawPath = "/"+db, "/"+url.PathEscape(db)
	return u.String()
}
