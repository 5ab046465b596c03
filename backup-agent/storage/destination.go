package storage

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Destination is where backups live, as every subcommand takes it: the
// --destination s3://BUCKET/PREFIX flag and the optional --s3-path-style.
type Destination struct {
	// URL is s3://BUCKET/PREFIX.
	URL string
	// PathStyle forces path-style addressing on or off; nil means on
	// exactly when a custom endpoint is set.
	PathStyle *bool
	// RequestTimeout is how long one S3 request waits for its answer
	// (each try; the SDK tries 5 times); DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// Objects are the server-side encryption and storage class of what
	// the command writes.
	Objects ObjectSettings
}

// AddFlags registers --destination (described by help) and --s3-path-style.
func (d *Destination) AddFlags(fs *pflag.FlagSet, help string) {
	fs.StringVar(&d.URL, "destination", d.URL, help+": s3://BUCKET/PREFIX (required)")
	f := fs.VarPF(optionalBool{&d.PathStyle}, "s3-path-style", "", "path-style S3 addressing (default: on when a custom endpoint is set)")
	f.NoOptDefVal = "true"
	fs.DurationVar(&d.RequestTimeout, "s3-request-timeout", DefaultRequestTimeout,
		"how long one S3 request waits for its answer before it is retried (5 tries); an endpoint that accepts connections but never answers fails the run after about 5 times this")
	fs.StringVar(&d.Objects.SSE, "s3-sse", d.Objects.SSE, "server-side encryption of every object written: AES256 (keys managed by S3) or aws:kms (default: the bucket's)")
	fs.StringVar(&d.Objects.KMSKeyID, "s3-sse-kms-key-id", d.Objects.KMSKeyID, "KMS key id, alias or ARN for --s3-sse aws:kms (default: the account's key for S3)")
	fs.StringVar(&d.Objects.Checksum, "s3-checksum", ChecksumAuto, "how S3 verifies what it stores: sha256 (x-amz-checksum-sha256 on every object and part, kept with the object), md5 (Content-MD5, verified, not kept), or auto (sha256, falling back to md5 when the server refuses it)")
	fs.StringVar(&d.Objects.StorageClass, "s3-storage-class", d.Objects.StorageClass, "storage class of every object written, such as STANDARD_IA or GLACIER_IR (default: the bucket's; GLACIER and DEEP_ARCHIVE are refused: backups must be readable at once)")
}

// Parse checks the URL and splits it; errors are ConfigInvalid.
func (d Destination) Parse() (bucket, prefix string, err error) {
	if d.URL == "" {
		return "", "", result.Errorf(result.ReasonConfigInvalid, "--destination is required (s3://BUCKET/PREFIX)")
	}
	if err := d.Objects.Validate(); err != nil {
		return "", "", err
	}
	return ParseDestination(d.URL)
}

// Open parses the destination and connects an S3 store to its bucket,
// with the rest of cfg; it returns the store and the key prefix.
func (d Destination) Open(ctx context.Context, cfg Config) (*S3Store, string, error) {
	bucket, prefix, err := d.Parse()
	if err != nil {
		return nil, "", err
	}
	cfg.Bucket, cfg.PathStyle, cfg.Objects = bucket, d.PathStyle, d.Objects
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = d.RequestTimeout
	}
	s, err := New(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	return s, prefix, nil
}

// optionalBool is a boolean flag that stays nil until given.
type optionalBool struct{ p **bool }

func (o optionalBool) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.FormatBool(**o.p)
}

func (o optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*o.p = &v
	return nil
}

func (optionalBool) Type() string { return "bool" }

// IsBoolFlag lets the flag be given without a value.
func (optionalBool) IsBoolFlag() bool { return true }
