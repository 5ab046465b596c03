package storage

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Limits of S3 multipart uploads, and this package's defaults.
const (
	// MinPartSize is the smallest part S3 accepts (except for the last).
	MinPartSize int64 = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize int64 = 5 << 30
	// MaxParts is the most parts a multipart upload may have.
	MaxParts = 10000
	// DefaultPartSize is the initial part size when none is configured.
	DefaultPartSize int64 = 8 << 20
	// DefaultConcurrency is how many parts are uploaded at once by default.
	DefaultConcurrency = 4
	// DefaultPartMemory is the default memory budget of a store's part
	// buffers: four parts of DefaultPartSize, one filling while three
	// upload.
	DefaultPartMemory int64 = 32 << 20
	// DefaultRegion is the region used when neither the configuration nor
	// the environment names one; S3-compatible servers mostly ignore it.
	DefaultRegion = "us-east-1"
	// DefaultRequestTimeout is how long a request waits for the server's
	// answer when Config.RequestTimeout is zero.
	DefaultRequestTimeout = 2 * time.Minute
)

// Config configures an [S3Store]. Only Bucket is required; everything else
// defaults to the AWS SDK's standard chain (environment, shared config,
// web identity) or to the defaults above.
type Config struct {
	// Bucket is the bucket holding the backups.
	Bucket string
	// Region overrides AWS_REGION and the shared config; DefaultRegion when
	// no region is set anywhere.
	Region string
	// Endpoint is the URL of an S3-compatible server
	// ("https://minio.example:9000"). It overrides AWS_ENDPOINT_URL_S3 and
	// AWS_ENDPOINT_URL.
	Endpoint string
	// PathStyle selects path-style addressing (http://host/bucket/key)
	// instead of virtual-hosted style. When nil it is on exactly when a
	// custom endpoint is set, here or through the environment.
	PathStyle *bool
	// PartSize is the initial part size of multipart uploads, at least
	// MinPartSize; DefaultPartSize when zero. It grows on very large objects
	// so that from 6 MiB up an object can reach S3's limit of 5 TiB (from 5
	// MiB, about 4.9 TiB), and WithExpectedSize can raise it.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight at once;
	// DefaultConcurrency when zero, and fewer when PartMemory holds fewer
	// parts.
	Concurrency int
	// PartMemory is the most bytes of part buffers the store holds in
	// memory at once, all its uploads together; DefaultPartMemory when
	// zero. Parts are held in memory only while it has room for three of
	// them (one filling, two uploading); larger parts (a large object, or
	// one that outgrew its expected size) are written to SpoolDir first,
	// so the memory an upload takes never grows with the object.
	PartMemory int64
	// SpoolDir is the directory parts too large for PartMemory are written
	// to (the spool volume); the system's temporary directory when empty.
	// An upload writes at most Concurrency+1 such parts there at once, in
	// files that have no name and vanish when closed.
	SpoolDir string
	// RequestTimeout bounds how long one S3 request waits for the server to
	// start answering (the response headers) once the request, body
	// included, is sent; DefaultRequestTimeout when zero. A request without
	// an answer in time is retried like a lost connection, so a call that
	// never gets one gives up after about 5 times RequestTimeout. A download
	// that receives nothing for RequestTimeout midway is resumed (see Get).
	// The header bound applies only when the store builds its own HTTP
	// client (see NewFromAWSConfig).
	RequestTimeout time.Duration
	// Log receives the store's warnings, such as a cut download it resumes;
	// the zero Logger discards them.
	Log logr.Logger
	// Objects are the server-side encryption and storage class asked for
	// every object the store writes.
	Objects ObjectSettings
}

func (c Config) validate() error {
	if c.Bucket == "" {
		return result.Errorf(result.ReasonConfigInvalid, "s3 bucket is not set")
	}
	if c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
		return result.Errorf(result.ReasonConfigInvalid, "s3 part size %d out of range: must be between %d (5 MiB) and %d (5 GiB)", c.PartSize, MinPartSize, MaxPartSize)
	}
	if c.PartMemory < 0 {
		return result.Errorf(result.ReasonConfigInvalid, "s3 part memory %d is negative", c.PartMemory)
	}
	if c.Concurrency < 0 {
		return result.Errorf(result.ReasonConfigInvalid, "s3 upload concurrency %d is negative", c.Concurrency)
	}
	if c.RequestTimeout < 0 {
		return result.Errorf(result.ReasonConfigInvalid, "s3 request timeout %s is negative", c.RequestTimeout)
	}
	if err := c.Objects.Validate(); err != nil {
		return err
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			// url.Error repeats the URL, which may hold credentials.
			return result.Errorf(result.ReasonConfigInvalid, "s3 endpoint is not a valid URL")
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return result.Errorf(result.ReasonConfigInvalid, "s3 endpoint %q must be an http:// or https:// URL with a host", u.Redacted())
		}
	}
	return nil
}

func (c Config) partSize() int64 {
	if c.PartSize == 0 {
		return DefaultPartSize
	}
	return c.PartSize
}

func (c Config) partMemory() int64 {
	if c.PartMemory == 0 {
		return DefaultPartMemory
	}
	return c.PartMemory
}

func (c Config) requestTimeout() time.Duration {
	if c.RequestTimeout == 0 {
		return DefaultRequestTimeout
	}
	return c.RequestTimeout
}

func (c Config) concurrency() int {
	if c.Concurrency == 0 {
		return DefaultConcurrency
	}
	return c.Concurrency
}

// ParseDestination splits a destination "s3://BUCKET/PREFIX" into the bucket
// and a clean prefix: leading and trailing slashes dropped, no empty, "."
// or ".." segments inside, "" when there is none. Errors are classified
// ConfigInvalid.
func ParseDestination(dest string) (bucket, prefix string, err error) {
	fail := func(why string) (string, string, error) {
		return "", "", result.Errorf(result.ReasonConfigInvalid, "invalid destination %q: %s (want s3://BUCKET/PREFIX)", dest, why)
	}
	rest, ok := strings.CutPrefix(dest, "s3://")
	if !ok {
		if dest == "" {
			return fail("empty")
		}
		return fail("not an s3:// URL")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return fail("no bucket")
	}
	if err := validBucketName(bucket); err != nil {
		return fail(err.Error())
	}
	if strings.ContainsAny(prefix, "?#") {
		return fail("query strings and fragments are not allowed")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucket, "", nil
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		switch seg {
		case "":
			return fail("empty path segment in the prefix")
		case ".", "..":
			return fail(fmt.Sprintf("%q is not allowed in the prefix", seg))
		}
	}
	// The checks above make path.Clean a no-op; keep it as a guard.
	return bucket, path.Clean(prefix), nil
}

// validBucketName applies S3's general-purpose bucket naming rules: 3 to 63
// lowercase letters, digits, dots and hyphens, starting and ending with a
// letter or digit. The error says which rule was broken, in lower case.
func validBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	}
	for _, r := range b {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.' {
			return fmt.Errorf("bucket name %q may hold only lowercase letters, digits, '.' and '-'", b)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit", b)
	}
	return nil
}

func isAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }
