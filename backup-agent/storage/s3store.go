package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Client-side limits that make an unreachable endpoint fail in well under
// half a minute rather than minutes: a connection attempt gives up after
// dialTimeout (the SDK's "standard" defaults mode uses 3.1 s), and a request
// is tried maxAttempts times. Between attempts the SDK waits a random delay
// up to retryBaseDelay×2^attempt (1 s×2^attempt when throttled), at most
// maxBackoff: about 4 s in all for a failing connection, 12 s when
// throttled. The SDK's own base delay of 50 ms gives a backup only 0.75 s to
// ride out a connection reset.
const (
	dialTimeout    = 3 * time.Second
	maxAttempts    = 5
	retryBaseDelay = 250 * time.Millisecond
	maxBackoff     = 5 * time.Second
	// abortTimeout bounds the abort of a failed upload, which runs on a
	// fresh context because the caller's may be cancelled.
	abortTimeout = 30 * time.Second
	// deleteBatch is the most keys one DeleteObjects request takes.
	deleteBatch = 1000
)

// Operation names, used in error messages.
const (
	opHeadBucket = "head bucket"
	opPut        = "put"
	opGet        = "get"
	opStat       = "stat"
	opList       = "list"
	opDelete     = "delete"
	opUploads    = "list multipart uploads"
	opAbort      = "abort multipart upload"
	opCreate     = "create multipart upload"
	opUploadPart = "upload part"
	opComplete   = "complete multipart upload"
)

// S3Store is a [Store] on an S3 bucket, for Amazon S3 and S3-compatible
// servers (MinIO, Ceph RGW, versitygw, ...).
type S3Store struct {
	client      *s3.Client
	bucket      string
	endpoint    string // redacted custom endpoint, "" for AWS's own
	partSize    int64
	concurrency int
	// parts is the memory budget of all the store's uploads' parts.
	parts    *memPool
	spoolDir string
	// requestTimeout is how long a request waits for its answer, for
	// messages.
	requestTimeout time.Duration
	// maxKeys is the page size of listings; 0 lets the server choose
	// (1000 on S3). Tests lower it to exercise pagination cheaply.
	maxKeys int32
	log     logr.Logger
	// objects are the settings of every object the store writes.
	objects ObjectSettings
	// sha256 says whether objects are written with x-amz-checksum-sha256;
	// checksumAuto lets a refusal turn it off for the store's life.
	sha256       atomic.Bool
	checksumAuto bool
}

var _ Store = (*S3Store)(nil)

// New returns an S3Store for cfg, with credentials, region and endpoint
// from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
// shared config files, web identity for IRSA, ...) where cfg leaves them
// unset. It does not contact the server: use Check for that.
func New(ctx context.Context, cfg Config) (*S3Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, result.Errorf(result.ReasonConfigInvalid, "load AWS configuration: %w", err)
	}
	return NewFromAWSConfig(awsCfg, cfg)
}

// NewFromAWSConfig returns an S3Store using awsCfg (for example with static
// credentials in tests) and cfg. Whatever awsCfg says, checksums are
// calculated and validated only when an operation requires them, since
// several S3-compatible servers reject the CRC checksums recent SDKs send by
// default. Unless awsCfg brings its own retryer and HTTP client, requests
// are tried 5 times and connections time out after 3 s, so that an
// unreachable endpoint fails in well under half a minute, and a request
// waits at most cfg.RequestTimeout for its answer (an HTTP client of the
// SDK's awshttp.BuildableClient type gets both timeouts too).
func NewFromAWSConfig(awsCfg aws.Config, cfg Config) (*S3Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	awsCfg = awsCfg.Copy()
	awsCfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	awsCfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	if cfg.Region != "" {
		awsCfg.Region = cfg.Region
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	if awsCfg.Retryer == nil {
		awsCfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.BaseDelay = retryBaseDelay
				o.MaxBackoff = maxBackoff
			})
		}
	}
	// Nothing else bounds a request the server accepted but never answers
	// (the SDK's own read timeout is off by default): without this, such a
	// request would hold the run until its context ends.
	setRequestTimeout := func(tr *http.Transport) { tr.ResponseHeaderTimeout = cfg.requestTimeout() }
	switch hc := awsCfg.HTTPClient.(type) {
	case nil:
		awsCfg.HTTPClient = awshttp.NewBuildableClient().WithDialerOptions(setDialTimeout).WithTransportOptions(setRequestTimeout)
	case *awshttp.BuildableClient:
		awsCfg.HTTPClient = hc.WithDialerOptions(setDialTimeout).WithTransportOptions(setRequestTimeout)
	}

	s := &S3Store{bucket: cfg.Bucket, partSize: cfg.partSize(), concurrency: cfg.concurrency(), requestTimeout: cfg.requestTimeout(),
		parts: newMemPool(cfg.partMemory()), spoolDir: cfg.SpoolDir, log: cfg.Log, objects: cfg.Objects,
		checksumAuto: cfg.Objects.Checksum == "" || cfg.Objects.Checksum == ChecksumAuto}
	s.sha256.Store(cfg.Objects.Checksum != ChecksumMD5)
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// o.BaseEndpoint already holds an endpoint from the environment or
		// the shared config, if any.
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if o.BaseEndpoint != nil {
			s.endpoint = redactEndpoint(*o.BaseEndpoint)
		}
		o.UsePathStyle = o.BaseEndpoint != nil
		if cfg.PathStyle != nil {
			o.UsePathStyle = *cfg.PathStyle
		}
	})
	return s, nil
}

func setDialTimeout(d *net.Dialer) { d.Timeout = dialTimeout }

// Bucket returns the bucket the store works on.
func (s *S3Store) Bucket() string { return s.bucket }

func (s *S3Store) classify(op, key string, err error) error {
	if isResponseTimeout(err) {
		where := "s3://" + s.bucket
		if key != "" {
			where += "/" + key
		}
		endpoint := endpointOf(err)
		if endpoint == "" {
			endpoint = s.endpoint
		}
		msg := fmt.Sprintf("s3 %s %s: S3 endpoint %s accepted the request but did not answer within %s", op, where, endpoint, s.requestTimeout)
		var maxErr *retry.MaxAttemptsError
		if errors.As(err, &maxErr) {
			msg += fmt.Sprintf(" (after %d attempts)", maxErr.Attempt)
		}
		return result.Wrap(result.ReasonStorageFailed, &storageError{msg: msg, err: err})
	}
	return classifyError(op, s.bucket, key, s.endpoint, err)
}

// isResponseTimeout reports whether err is the HTTP client giving up on a
// request's answer (http.Transport.ResponseHeaderTimeout). net/http's error
// type for it is unexported; its text is all there is to go by.
func isResponseTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout() &&
		strings.Contains(err.Error(), "timeout awaiting response headers")
}

// Check verifies with HeadBucket that the bucket exists and the credentials
// reach it. A HEAD response has no body, so its error says only "404" or
// "403"; when HeadBucket fails that way, Check asks again with a one-key
// ListObjectsV2, whose error carries S3's code. (versitygw answers an
// unknown access key with 404 XAdminUserNotFound, which HeadBucket alone
// would report as a missing bucket.)
func (s *S3Store) Check(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if isStatus(err, http.StatusNotFound) || isStatus(err, http.StatusForbidden) || isStatus(err, http.StatusBadRequest) {
		_, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: aws.Int32(1)})
		if lerr != nil {
			return s.classify(opList, "", lerr)
		}
	}
	return s.classify(opHeadBucket, "", err)
}

// ServerTime reads S3's clock from the Date header of a HeadBucket
// response.
func (s *S3Store) ServerTime(ctx context.Context) (time.Time, error) {
	out, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err != nil {
		return time.Time{}, s.classify(opHeadBucket, "", err)
	}
	t, ok := awsmiddleware.GetServerTime(out.ResultMetadata)
	if !ok || t.IsZero() {
		return time.Time{}, result.Errorf(result.ReasonStorageFailed, "s3://%s: the response to HeadBucket has no Date header, so the server's clock is unknown", s.bucket)
	}
	return t.UTC(), nil
}

// PutIfAbsent writes body to key with If-None-Match: *, so an existing
// object (a manifest, say) is never overwritten.
func (s *S3Store) PutIfAbsent(ctx context.Context, key string, body []byte, contentType string) error {
	err := s.withChecksum(func(sha bool) error {
		in := &s3.PutObjectInput{
			Bucket:      &s.bucket,
			Key:         &key,
			Body:        bytes.NewReader(body),
			IfNoneMatch: aws.String("*"),
		}
		setChecksum(in, sha, body)
		if contentType != "" {
			in.ContentType = &contentType
		}
		s.objects.put(in)
		_, err := s.client.PutObject(ctx, in)
		return err
	})
	if err != nil {
		if isCode(err, "PreconditionFailed") || isStatus(err, http.StatusPreconditionFailed) {
			return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, ErrExists)
		}
		// A bucket with Object Lock but no versioning (versitygw allows
		// one) refuses to replace a locked object before it evaluates
		// If-None-Match: the key exists.
		if isLockRefusal(err) {
			return fmt.Errorf("put s3://%s/%s (refused under Object Lock): %w", s.bucket, key, ErrExists)
		}
		return s.classify(opPut, key, err)
	}
	return nil
}

// Get opens the object at key. Read errors of the returned body are
// classified StorageFailed too. A download whose connection is cut, or
// that receives nothing for the request timeout, goes on where it stopped
// with a ranged GET of the same object (If-Match on its ETag): see
// objectReader.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	ctx, stop := context.WithCancel(ctx)
	r := &objectReader{s: s, ctx: ctx, stop: stop, key: key}
	if err := r.open(&s3.GetObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		stop()
		return nil, err
	}
	return r, nil
}

// A cut download is resumed up to maxResumes times in a row; a resume that
// delivers resumeProgress bytes before the next cut starts the count anew,
// so that a long download over a flaky network completes while one that
// never gets far fails.
const (
	maxResumes     = 5
	resumeProgress = 8 << 20
)

// objectReader reads an object's body and resumes it when the connection
// is cut (an error, or a body shorter than its Content-Length) or stalls
// (nothing received for the request timeout): it asks for the rest with
// Range: bytes=N- and If-Match on the first answer's ETag, so the bytes
// can only come from the object it started reading. An object replaced in
// between fails with IntegrityFailed rather than mixing two objects. The
// caller's context ending, or Close, is never resumed.
//
// Close may be called from another goroutine while a Read is blocked (a
// read-ahead goroutine downloading for a consumer that gave up): it
// cancels the reader's context first, which ends that Read, and only then
// takes the body.
type objectReader struct {
	s    *S3Store
	ctx  context.Context // the caller's, ended by Close too
	stop context.CancelFunc
	key  string
	etag string
	size int64 // the whole object's, from the first answer
	n    int64 // bytes delivered

	mu      sync.Mutex // held by Read and Close
	closed  bool
	body    io.ReadCloser
	cancel  context.CancelFunc // the current request's
	idle    *time.Timer        // cancels the request when no byte arrives
	stalled atomic.Bool

	resumes   int   // resumes in a row without resumeProgress
	sinceOpen int64 // bytes since the current request started
	lastErr   error // why the last request ended early
}

// open sends in on a context of its own, which the idle timer cancels.
func (r *objectReader) open(in *s3.GetObjectInput) error {
	ctx, cancel := context.WithCancel(r.ctx)
	out, err := r.s.client.GetObject(ctx, in)
	if err != nil {
		cancel()
		switch {
		case isNotFound(err):
			return fmt.Errorf("get s3://%s/%s: %w", r.s.bucket, r.key, ErrNotFound)
		case in.IfMatch != nil && (isCode(err, "PreconditionFailed") || isStatus(err, http.StatusPreconditionFailed)):
			return result.Errorf(result.ReasonIntegrityFailed, "s3://%s/%s was replaced while it was being read (its ETag is no longer %s): start again", r.s.bucket, r.key, r.etag)
		}
		return r.s.classify(opGet, r.key, err)
	}
	if in.Range != nil {
		// Only the asked-for bytes may follow: a server that ignored the
		// range would repeat the object from its start.
		if want := fmt.Sprintf("bytes %d-", r.n); !strings.HasPrefix(aws.ToString(out.ContentRange), want) {
			_ = out.Body.Close()
			cancel()
			return result.Errorf(result.ReasonStorageFailed, "s3://%s/%s: resuming at byte %d, the server answered Content-Range %q: it does not support ranged reads, so a cut download cannot be resumed",
				r.s.bucket, r.key, r.n, aws.ToString(out.ContentRange))
		}
	} else {
		r.etag, r.size = aws.ToString(out.ETag), aws.ToInt64(out.ContentLength)
	}
	r.body, r.cancel, r.sinceOpen = out.Body, cancel, 0
	r.stalled.Store(false)
	// The timer runs only while a Read waits for bytes: a consumer that
	// pauses between reads is not a stalled server.
	r.idle = time.AfterFunc(r.s.requestTimeout, func() { r.stalled.Store(true); cancel() })
	r.idle.Stop()
	return nil
}

func (r *objectReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("s3 read s3://%s/%s: %w", r.s.bucket, r.key, net.ErrClosed)
	}
	for {
		if r.body == nil {
			if err := r.resume(); err != nil {
				return 0, err
			}
		}
		r.idle.Reset(r.s.requestTimeout)
		n, err := r.body.Read(p)
		r.idle.Stop()
		r.n += int64(n)
		r.sinceOpen += int64(n)
		if errors.Is(err, io.EOF) && r.n < r.size {
			err = io.ErrUnexpectedEOF // never a short object
		}
		if err == nil || errors.Is(err, io.EOF) {
			return n, err
		}
		if r.stalled.Load() && r.ctx.Err() == nil {
			err = fmt.Errorf("no data received for %s", r.s.requestTimeout)
		}
		if r.ctx.Err() != nil || r.etag == "" || r.size <= 0 {
			return n, r.s.classify("read", r.key, err)
		}
		r.lastErr = err
		r.closeBody()
		if n > 0 {
			return n, nil
		}
	}
}

// resume asks for the rest of the object, after a pause that grows with
// the resumes in a row.
func (r *objectReader) resume() error {
	if r.sinceOpen >= resumeProgress {
		r.resumes = 0
	}
	r.resumes++
	if r.resumes > maxResumes {
		return result.Errorf(result.ReasonStorageFailed, "s3 read s3://%s/%s: the download was cut %d times in a row at byte %d of %d: %w",
			r.s.bucket, r.key, maxResumes, r.n, r.size, r.lastErr)
	}
	pause := min(retryBaseDelay<<(r.resumes-1), maxBackoff)
	r.s.log.Info("S3 download cut; resuming where it stopped (warning)", "key", r.key, "offset", r.n, "size", r.size,
		"attempt", r.resumes, "maxAttempts", maxResumes, "error", r.lastErr.Error())
	select {
	case <-time.After(pause):
	case <-r.ctx.Done():
		return r.s.classify("read", r.key, r.ctx.Err())
	}
	return r.open(&s3.GetObjectInput{Bucket: &r.s.bucket, Key: &r.key,
		Range: aws.String(fmt.Sprintf("bytes=%d-", r.n)), IfMatch: &r.etag})
}

func (r *objectReader) closeBody() {
	if r.body != nil {
		r.idle.Stop()
		_ = r.body.Close()
		r.cancel()
		r.body = nil
	}
}

// Close ends the download, also one a Read on another goroutine is
// waiting for.
func (r *objectReader) Close() error {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.closeBody()
	return nil
}

// Stat describes the object at key with HeadObject.
func (s *S3Store) Stat(ctx context.Context, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return Object{}, fmt.Errorf("stat s3://%s/%s: %w", s.bucket, key, ErrNotFound)
		}
		return Object{}, s.classify(opStat, key, err)
	}
	return Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified),
		ETag:         aws.ToString(out.ETag),
	}, nil
}

// List calls fn for every object under prefix, one ListObjectsV2 page at a
// time.
func (s *S3Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix}
	if s.maxKeys > 0 {
		in.MaxKeys = &s.maxKeys
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.classify(opList, prefix, err)
		}
		for _, o := range page.Contents {
			err := fn(Object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
				ETag:         aws.ToString(o.ETag),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ListPrefixes calls fn for every common prefix directly under prefix
// (delimiter "/"), one ListObjectsV2 page at a time.
func (s *S3Store) ListPrefixes(ctx context.Context, prefix string, fn func(string) error) error {
	prefix = dirPrefix(prefix)
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix, Delimiter: aws.String("/")}
	if s.maxKeys > 0 {
		in.MaxKeys = &s.maxKeys
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.classify(opList, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			if err := fn(aws.ToString(cp.Prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirPrefix makes a non-empty prefix end in "/".
func dirPrefix(prefix string) string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return prefix + "/"
	}
	return prefix
}

// Delete deletes keys with DeleteObjects, 1000 at a time (the most S3
// takes in one request). S3 reports missing keys as deleted.
func (s *S3Store) Delete(ctx context.Context, keys ...string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		ids[i] = types.ObjectIdentifier{Key: &keys[i]}
	}
	return s.deleteIdentifiers(ctx, ids)
}

// deleteIdentifiers deletes objects (or versions of objects) with
// DeleteObjects, in batches. Objects under Object Lock make a LockedError
// when nothing else failed.
func (s *S3Store) deleteIdentifiers(ctx context.Context, ids []types.ObjectIdentifier) error {
	for len(ids) > 0 {
		batch := ids[:min(len(ids), deleteBatch)]
		ids = ids[len(batch):]
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket,
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		}, s3.WithAPIOptions(addContentMD5))
		if err != nil {
			return s.classify(opDelete, aws.ToString(batch[0].Key), err)
		}
		var errs, locked []string
		for _, e := range out.Errors {
			name := aws.ToString(e.Key)
			if v := aws.ToString(e.VersionId); v != "" {
				name += "?versionId=" + v
			}
			switch code := aws.ToString(e.Code); {
			case code == "NoSuchKey" || code == "NoSuchVersion":
			case code == "AccessDenied" && lockMessage(aws.ToString(e.Message)):
				locked = append(locked, name)
			default:
				errs = append(errs, name+": "+code)
			}
		}
		if len(errs) > 0 {
			return result.Errorf(result.ReasonStorageFailed, "delete %d of %d objects in s3://%s failed, first %s",
				len(errs)+len(locked), len(batch), s.bucket, errs[0])
		}
		if len(locked) > 0 {
			return result.Wrap(result.ReasonStorageFailed, &LockedError{Bucket: s.bucket, Keys: locked})
		}
	}
	return nil
}

// Uploads lists the open multipart uploads under prefix, following both
// markers of ListMultipartUploads across pages.
func (s *S3Store) Uploads(ctx context.Context, prefix string) ([]PendingUpload, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix}
	if s.maxKeys > 0 {
		in.MaxUploads = &s.maxKeys
	}
	var ups []PendingUpload
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil && in.UploadIdMarker != nil && isCode(err, "InvalidArgument") {
			// versitygw (v1.8.0) rejects the upload-id marker it returned
			// itself. Going on from the key marker alone lists the next
			// keys; other uploads of the marker's key may be missed, and a
			// later call (after these are aborted) finds them.
			in.UploadIdMarker = nil
			out, err = s.client.ListMultipartUploads(ctx, in)
		}
		if err != nil {
			return nil, s.classify(opUploads, prefix, err)
		}
		for _, u := range out.Uploads {
			ups = append(ups, PendingUpload{
				Key:       aws.ToString(u.Key),
				UploadID:  aws.ToString(u.UploadId),
				Initiated: aws.ToTime(u.Initiated),
			})
		}
		if !aws.ToBool(out.IsTruncated) {
			return ups, nil
		}
		if aws.ToString(out.NextKeyMarker) == aws.ToString(in.KeyMarker) &&
			aws.ToString(out.NextUploadIdMarker) == aws.ToString(in.UploadIdMarker) {
			// A server that says "more" without moving on would loop forever.
			return nil, result.Errorf(result.ReasonStorageFailed,
				"s3 %s s3://%s/%s: the server returned a truncated page without a next marker", opUploads, s.bucket, prefix)
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// AbortUpload aborts an open multipart upload. An upload that is already
// gone is not an error.
func (s *S3Store) AbortUpload(ctx context.Context, u PendingUpload) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: &s.bucket, Key: &u.Key, UploadId: &u.UploadID,
	})
	if err != nil && !isCode(err, "NoSuchUpload") {
		return s.classify(opAbort, u.Key, err)
	}
	return nil
}

// isNotFound reports whether err means the object is missing: NoSuchKey
// from GetObject, or a bare 404 (NotFound) from HeadObject.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || isCode(err, "NoSuchKey")
}

// LockedError names the objects a delete left because they are under
// Object Lock; it matches ErrObjectLocked.
type LockedError struct {
	Bucket string
	Keys   []string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%d object(s) in s3://%s, first %s, %v", len(e.Keys), e.Bucket, e.Keys[0], ErrObjectLocked)
}

// Is makes errors.Is(err, ErrObjectLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrObjectLocked }

// lockMessage says whether an AccessDenied's message blames Object Lock
// (AWS and versitygw: "Access Denied because object protected by object
// lock.").
func lockMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "object lock")
}

// isLockRefusal says whether a request was refused because of Object Lock.
func isLockRefusal(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied" && lockMessage(apiErr.ErrorMessage())
}

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func isStatus(err error, status int) bool {
	var se interface{ HTTPStatusCode() int }
	return errors.As(err, &se) && se.HTTPStatusCode() == status
}

// addContentMD5 adds a Content-MD5 header to a request with a seekable body.
// S3 documents it as required on DeleteObjects, and S3-compatible servers
// that predate the CRC checksums (older MinIO, Ceph RGW and others) refuse
// a DeleteObjects without it, while the SDK now sends a CRC32 instead.
func addContentMD5(stack *middleware.Stack) error {
	return stack.Build.Add(middleware.BuildMiddlewareFunc("pgbackupContentMD5",
		func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			req, ok := in.Request.(*smithyhttp.Request)
			if !ok || req.GetStream() == nil || !req.IsStreamSeekable() || req.Header.Get("Content-MD5") != "" {
				return next.HandleBuild(ctx, in)
			}
			body, err := io.ReadAll(req.GetStream())
			if err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("read request body for Content-MD5: %w", err)
			}
			if err := req.RewindStream(); err != nil {
				return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("rewind request body: %w", err)
			}
			req.Header.Set("Content-MD5", contentMD5(body))
			return next.HandleBuild(ctx, in)
		}), middleware.After)
}

// withChecksum runs a request that creates an object, with
// x-amz-checksum-sha256 when the store uses it. Under --s3-checksum auto,
// a server that refuses such a request as invalid or not implemented
// (400 InvalidArgument or InvalidRequest, 501) gets it once more with
// Content-MD5 only, and the store stays with Content-MD5 from then on.
func (s *S3Store) withChecksum(req func(sha256 bool) error) error {
	sha := s.sha256.Load()
	err := req(sha)
	if err == nil || !sha || !s.checksumAuto || !checksumRefused(err) {
		return err
	}
	if s.sha256.CompareAndSwap(true, false) {
		s.log.Info("The S3 server refused x-amz-checksum-sha256; writing with Content-MD5 only from now on (set --s3-checksum md5 to skip the attempt)", "error", err.Error())
	}
	return req(false)
}

// checksumRefused says whether a request may have failed for its checksum
// header: a server that does not know it answers 400 or 501.
func checksumRefused(err error) bool {
	return isCode(err, "InvalidArgument") || isCode(err, "InvalidRequest") || isCode(err, "NotImplemented") || isStatus(err, http.StatusNotImplemented)
}

// setChecksum puts body's checksum into a small PutObject.
func setChecksum(in *s3.PutObjectInput, sha bool, body []byte) {
	if sha {
		in.ChecksumAlgorithm, in.ChecksumSHA256 = types.ChecksumAlgorithmSha256, aws.String(checksumSHA256(body))
		return
	}
	in.ContentMD5 = aws.String(contentMD5(body))
}

// setPartChecksum sets a part's (or a single put's) checksum fields:
// x-amz-checksum-sha256 when sha, else Content-MD5.
func setPartChecksum(md5Field, shaField **string, alg *types.ChecksumAlgorithm, sha bool, body partBody) error {
	if sha {
		sum, err := body.ChecksumSHA256()
		if err != nil {
			return err
		}
		*shaField, *alg = aws.String(sum), types.ChecksumAlgorithmSha256
		return nil
	}
	sum, err := body.ContentMD5()
	if err != nil {
		return err
	}
	*md5Field = aws.String(sum)
	return nil
}

// checksumSHA256 is the x-amz-checksum-sha256 header for b.
func checksumSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// contentMD5 is the Content-MD5 header for b: an integrity check S3
// defines (and every S3-compatible server supports), not a security measure.
func contentMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Upload streams r to key with the package's own multipart uploader (see
// the package documentation): one PutObject when r ends within the first
// part, otherwise a multipart upload completed only after r returned io.EOF
// and every part succeeded, and aborted with a fresh context on any
// failure. Parts and single puts carry Content-MD5.
func (s *S3Store) Upload(ctx context.Context, key string, r io.Reader, opts ...UploadOption) (Object, error) {
	o := applyUploadOptions(opts)
	u := &streamer{
		target:      &s3Upload{s: s, key: key, contentType: o.contentType},
		initial:     initialPartSize(s.partSize, o.expectedSize),
		concurrency: s.concurrency,
		pool:        s.parts,
		spoolDir:    s.spoolDir,
	}
	size, etag, err := u.upload(ctx, r)
	if err != nil {
		return Object{}, err
	}
	return Object{Key: key, Size: size, ETag: etag}, nil
}

// s3Upload is the uploadTarget of one S3Store.Upload.
type s3Upload struct {
	s           *S3Store
	key         string
	contentType string
	uploadID    string
	// sha256: the upload was created with ChecksumAlgorithm SHA256, so
	// every part carries its x-amz-checksum-sha256, kept in sums for the
	// completion.
	sha256 bool
	mu     sync.Mutex
	sums   map[int]string
}

func (u *s3Upload) describe() string { return "s3://" + u.s.bucket + "/" + u.key }

func (u *s3Upload) put(ctx context.Context, body partBody) (string, error) {
	var etag string
	err := u.s.withChecksum(func(sha bool) error {
		in := &s3.PutObjectInput{
			Bucket:        &u.s.bucket,
			Key:           &u.key,
			Body:          body.Reader(),
			ContentLength: aws.Int64(body.Size()),
			ContentType:   &u.contentType,
		}
		if err := setPartChecksum(&in.ContentMD5, &in.ChecksumSHA256, &in.ChecksumAlgorithm, sha, body); err != nil {
			return err
		}
		u.s.objects.put(in)
		out, err := u.s.client.PutObject(ctx, in)
		if err != nil {
			return err
		}
		etag = aws.ToString(out.ETag)
		return nil
	})
	if err != nil {
		return "", u.s.classify(opPut, u.key, err)
	}
	return etag, nil
}

func (u *s3Upload) create(ctx context.Context) error {
	err := u.s.withChecksum(func(sha bool) error {
		in := &s3.CreateMultipartUploadInput{
			Bucket:      &u.s.bucket,
			Key:         &u.key,
			ContentType: &u.contentType,
		}
		if sha {
			in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
		}
		u.s.objects.create(in)
		out, err := u.s.client.CreateMultipartUpload(ctx, in)
		if err != nil {
			return err
		}
		// The upload's parts follow what it was created with, whatever
		// the store decides for later objects.
		u.uploadID, u.sha256 = aws.ToString(out.UploadId), sha
		return nil
	})
	if err != nil {
		return u.s.classify(opCreate, u.key, err)
	}
	return nil
}

func (u *s3Upload) uploadPart(ctx context.Context, n int, body partBody) (string, error) {
	in := &s3.UploadPartInput{
		Bucket:        &u.s.bucket,
		Key:           &u.key,
		UploadId:      &u.uploadID,
		PartNumber:    aws.Int32(int32(n)),
		Body:          body.Reader(),
		ContentLength: aws.Int64(body.Size()),
	}
	if err := setPartChecksum(&in.ContentMD5, &in.ChecksumSHA256, &in.ChecksumAlgorithm, u.sha256, body); err != nil {
		return "", err
	}
	out, err := u.s.client.UploadPart(ctx, in)
	if err != nil {
		return "", u.s.classify(fmt.Sprintf("%s %d", opUploadPart, n), u.key, err)
	}
	if u.sha256 {
		u.mu.Lock()
		if u.sums == nil {
			u.sums = map[int]string{}
		}
		u.sums[n] = aws.ToString(in.ChecksumSHA256)
		u.mu.Unlock()
	}
	return aws.ToString(out.ETag), nil
}

func (u *s3Upload) complete(ctx context.Context, etags []string, size int64) (string, error) {
	parts := make([]types.CompletedPart, len(etags))
	u.mu.Lock()
	for i := range etags {
		parts[i] = types.CompletedPart{ETag: &etags[i], PartNumber: aws.Int32(int32(i + 1))}
		if u.sha256 {
			parts[i].ChecksumSHA256 = aws.String(u.sums[i+1])
		}
	}
	u.mu.Unlock()
	out, err := u.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.bucket,
		Key:             &u.key,
		UploadId:        &u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		if isCode(err, "NoSuchUpload") || (isStatus(err, http.StatusNotFound) && !isCode(err, "NoSuchBucket")) {
			return u.completedEarlier(ctx, etags, size, err)
		}
		return "", u.s.classify(opComplete, u.key, err)
	}
	return aws.ToString(out.ETag), nil
}

// completedEarlier decides what a NoSuchUpload answer to
// CompleteMultipartUpload (cerr) means. The SDK retries a completion whose
// answer was lost (a connection reset, a timeout), and when the first attempt
// did complete the upload, S3 no longer knows it: the object is whole, and
// failing the run would discard a good backup. But the upload may also have
// been aborted (by a cleanup of stale uploads, say), and the key may hold an
// object of an earlier run. So the object counts as this upload's only when
// it has exactly the upload's size and the ETag S3 derives from these parts
// (an earlier object passes only with the same bytes in the same parts, and
// is then the very object this upload meant to write); then its ETag is
// returned. Anything else is a StorageFailed error.
func (u *s3Upload) completedEarlier(ctx context.Context, etags []string, size int64, cerr error) (string, error) {
	where := u.describe()
	code := "HTTP 404"
	var apiErr smithy.APIError
	if errors.As(cerr, &apiErr) && apiErr.ErrorCode() != "" {
		code = apiErr.ErrorCode()
	}
	vanished := func(format string, args ...any) error {
		return classified(cerr, "s3 %s %s: the upload vanished (%s) and %s", opComplete, where, code, fmt.Sprintf(format, args...))
	}
	want, err := multipartETag(etags)
	if err != nil {
		return "", vanished("the object at the key cannot be recognised as this upload's: %v", err)
	}
	obj, err := u.s.Stat(ctx, u.key)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", vanished("no object was completed at the key")
	case err != nil:
		return "", fmt.Errorf("s3 %s %s: the upload vanished (%s) and looking for the completed object failed: %w", opComplete, where, code, err)
	case obj.Size == size && sameETag(obj.ETag, want):
		return obj.ETag, nil
	case obj.Size == size && u.sha256:
		// An ETag that is not an MD5 (SSE-KMS) can still be recognised by
		// the checksum S3 keeps: the SHA-256 of the parts' SHA-256s.
		wantSum, stored, err := u.compositeChecksum(ctx, len(etags))
		if err == nil && stored == wantSum {
			return obj.ETag, nil
		}
		return "", vanished("the object at the key is not this upload's (%d bytes, checksum %q; this upload: checksum %q)", obj.Size, stored, wantSum)
	}
	return "", vanished("the object at the key is not this upload's (%d bytes, ETag %s; this upload: %d bytes, ETag %s)",
		obj.Size, obj.ETag, size, want)
}

// compositeChecksum returns the checksum S3 keeps for a multipart upload
// of n parts made with SHA-256 (base64 of the SHA-256 of the parts' raw
// SHA-256s, then "-n"), and the one stored with the object at the key.
func (u *s3Upload) compositeChecksum(ctx context.Context, n int) (want, stored string, err error) {
	u.mu.Lock()
	sums := make([]string, n)
	for i := range sums {
		sums[i] = u.sums[i+1]
	}
	u.mu.Unlock()
	want, err = CompositeSHA256(sums)
	if err != nil {
		return "", "", err
	}
	head, err := u.s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.s.bucket, Key: &u.key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return want, "", u.s.classify(opStat, u.key, err)
	}
	return want, aws.ToString(head.ChecksumSHA256), nil
}

// CompositeSHA256 is the checksum S3 keeps for a multipart object whose
// parts carried these x-amz-checksum-sha256 values (base64).
func CompositeSHA256(parts []string) (string, error) {
	h := sha256.New()
	for i, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(raw) != sha256.Size {
			return "", fmt.Errorf("part %d has no SHA-256 checksum (%q)", i+1, p)
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// multipartETag is the ETag S3 gives the object a multipart upload completes
// from parts with these ETags: the MD5 of the concatenated binary MD5s of the
// parts, in hex, then "-" and the number of parts, quoted. A part's ETag is
// the quoted hex MD5 of its bytes, except under SSE-KMS or SSE-C encryption,
// where it is something else and the object's ETag cannot be predicted.
func multipartETag(partETags []string) (string, error) {
	h := md5.New()
	for i, e := range partETags {
		sum, err := hex.DecodeString(strings.Trim(e, `"`))
		if err != nil || len(sum) != md5.Size {
			return "", fmt.Errorf("the ETag %s of part %d is not an MD5", e, i+1)
		}
		h.Write(sum)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(partETags)), nil
}

// sameETag compares ETags regardless of quotes and the case of their hex.
func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}

// abort aborts the upload, then makes sure it stays aborted: a part that
// was still being received when the abort arrived (its request cancelled
// on our side, not yet on the server's) may land after it and leave the
// upload open again. As S3's documentation advises, the upload is looked
// up again after a moment and aborted again while it is there, a few
// times at most; whatever remains is swept with the run's other leftovers.
func (u *s3Upload) abort(ctx context.Context) error {
	pending := PendingUpload{Key: u.key, UploadID: u.uploadID}
	for try := 1; ; try++ {
		if err := u.s.AbortUpload(ctx, pending); err != nil {
			return err
		}
		if try == abortTries {
			return nil
		}
		select {
		case <-time.After(abortRecheck):
		case <-ctx.Done():
			return nil
		}
		_, err := u.s.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &u.s.bucket, Key: &u.key, UploadId: &u.uploadID, MaxParts: aws.Int32(1)})
		if err != nil {
			return nil // gone (NoSuchUpload), or nothing more to learn
		}
	}
}

// abortTries and abortRecheck bound abort's checks that an aborted
// upload stays aborted.
const (
	abortTries   = 3
	abortRecheck = 500 * time.Millisecond
)
