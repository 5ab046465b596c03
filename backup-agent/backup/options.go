package backup

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// Options configure a backup run. Every field is a flag of `pgbackup
// backup` and, through package envflag, a PGBACKUP_* variable.
type Options struct {
	// Destination is s3://BUCKET/PREFIX.
	Destination string
	// Databases to dump; empty means every connectable non-template database.
	Databases []string
	// Format is pg_dump's output format: custom or plain.
	Format string
	// Compression is zstd[:LEVEL], gzip[:LEVEL] or none.
	Compression string
	// S3PathStyle forces path-style addressing on or off; nil means on
	// exactly when a custom endpoint is set.
	S3PathStyle *bool
	// UploadConcurrency is how many parts of an object upload at once.
	UploadConcurrency int
	// ConnectRetries is how often a failed PostgreSQL connection is retried.
	ConnectRetries int
	// TerminationLog is where the result JSON goes ("" = Kubernetes'
	// /dev/termination-log when writable).
	TerminationLog string
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration

	pathStyle bool
}

// DefaultOptions are the defaults of the flags.
func DefaultOptions() Options {
	return Options{
		Format:            string(manifest.FormatCustom),
		Compression:       compress.Default.String(),
		UploadConcurrency: storage.DefaultConcurrency,
		ConnectRetries:    3,
		ProgressInterval:  10 * time.Second,
	}
}

// AddFlags registers the options as flags, with their current values as
// defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Destination, "destination", o.Destination, "where backups go: s3://BUCKET/PREFIX (required)")
	fs.StringSliceVar(&o.Databases, "databases", o.Databases, "databases to dump, comma-separated (default: every connectable non-template database)")
	fs.StringVar(&o.Format, "format", o.Format, "pg_dump format: custom or plain")
	fs.StringVar(&o.Compression, "compression", o.Compression, "zstd[:LEVEL], gzip[:LEVEL] or none (done by the agent; pg_dump runs with -Z0)")
	fs.BoolVar(&o.pathStyle, "s3-path-style", false, "path-style S3 addressing (default: on when a custom endpoint is set)")
	fs.IntVar(&o.UploadConcurrency, "upload-concurrency", o.UploadConcurrency, "parts of an object uploaded in parallel (memory: about (N+1) x part size)")
	fs.IntVar(&o.ConnectRetries, "connect-retries", o.ConnectRetries, "retries of a failed PostgreSQL connection, with backoff (a refused login is not retried)")
	fs.StringVar(&o.TerminationLog, "termination-log", o.TerminationLog, "where the result JSON goes (default: /dev/termination-log when writable)")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "how often progress is logged")
}

// Complete reads what AddFlags cannot express directly (whether a boolean
// was set at all) once the flags are parsed.
func (o *Options) Complete(fs *pflag.FlagSet) {
	if fs.Changed("s3-path-style") {
		v := o.pathStyle
		o.S3PathStyle = &v
	}
}

// settings are validated, parsed options.
type settings struct {
	bucket, prefix string
	format         manifest.Format
	compression    compress.Spec
}

// validate checks the options and returns them parsed. All problems are
// reported at once, as ConfigInvalid.
func (o *Options) validate() (settings, error) {
	var s settings
	var errs []error
	var err error
	if o.Destination == "" {
		errs = append(errs, errors.New("--destination is required (s3://BUCKET/PREFIX)"))
	} else if s.bucket, s.prefix, err = storage.ParseDestination(o.Destination); err != nil {
		errs = append(errs, err)
	}
	switch f := manifest.Format(o.Format); f {
	case manifest.FormatCustom, manifest.FormatPlain:
		s.format = f
	case manifest.FormatDirectory:
		errs = append(errs, errors.New("--format directory is not available in this build yet: use custom or plain"))
	default:
		errs = append(errs, fmt.Errorf("--format %q: use custom or plain", o.Format))
	}
	if s.compression, err = compress.Parse(o.Compression); err != nil {
		errs = append(errs, fmt.Errorf("--compression: %w", err))
	}
	if o.UploadConcurrency < 1 || o.UploadConcurrency > 64 {
		errs = append(errs, fmt.Errorf("--upload-concurrency %d: must be between 1 and 64", o.UploadConcurrency))
	}
	if o.ConnectRetries < 0 {
		errs = append(errs, fmt.Errorf("--connect-retries %d: must not be negative", o.ConnectRetries))
	}
	if o.ProgressInterval <= 0 {
		errs = append(errs, fmt.Errorf("--progress-interval %s: must be positive", o.ProgressInterval))
	}
	for _, db := range o.Databases {
		if db == "" {
			errs = append(errs, errors.New("--databases: empty database name"))
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return s, result.Errorf(result.ReasonConfigInvalid, "%s", strings.Join(msgs, "; "))
	}
	return s, nil
}
