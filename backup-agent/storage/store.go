package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store is an object store holding backups. Keys are full object keys.
// Implementations are safe for concurrent use.
type Store interface {
	// Upload streams r to key. It completes the object only when r returns
	// io.EOF; any other error from r, a failed request or a cancelled ctx
	// aborts the upload, leaving neither an object nor an open multipart
	// upload, and is returned. Errors from r are returned as they are (joined
	// with the abort's error if aborting failed too). An existing object at
	// key is replaced.
	Upload(ctx context.Context, key string, r io.Reader, opts ...UploadOption) (Object, error)
	// PutIfAbsent writes a small object only if key does not exist yet
	// (If-None-Match: *); it returns an error matching ErrExists otherwise.
	PutIfAbsent(ctx context.Context, key string, body []byte, contentType string) error
	// Get opens the object at key for reading; the caller closes it. It
	// returns an error matching ErrNotFound when there is no such object.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object at key, or returns an error matching
	// ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// List calls fn for every object whose key starts with prefix, in key
	// order (bytewise), however many there are. An error from fn stops the
	// listing and is returned as it is.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// ListPrefixes calls fn, in order, for every "directory" directly under
	// prefix: the distinct key prefixes ending at the next "/" after it, for
	// example "backups/20261129T000000Z/" under "backups/". A non-empty prefix
	// without a trailing "/" gets one, so "backups" never matches
	// "backups-old/". An error from fn stops the listing and is returned.
	ListPrefixes(ctx context.Context, prefix string, fn func(string) error) error
	// Delete deletes keys, in batches as the store requires. Keys that do not
	// exist are not an error. Keys under Object Lock give an error matching
	// ErrObjectLocked (when every failure is a lock). In a versioned bucket
	// a delete makes a delete marker: the data stays as a noncurrent version.
	Delete(ctx context.Context, keys ...string) error
	// Uploads lists the multipart uploads still open under prefix, such as
	// those a killed agent left behind, in key order.
	Uploads(ctx context.Context, prefix string) ([]PendingUpload, error)
	// AbortUpload aborts an open multipart upload and frees its parts.
	AbortUpload(ctx context.Context, u PendingUpload) error
	// Check verifies that the bucket exists and that the credentials reach
	// it, with an error saying which of the two failed.
	Check(ctx context.Context) error
	// ServerTime is the store's own clock, read from a response (S3's Date
	// header): retention measures ages against it and refuses to act when
	// the local clock disagrees, because a pod's clock can be wrong.
	ServerTime(ctx context.Context) (time.Time, error)
}

// Object describes a stored object.
type Object struct {
	// Key is the full object key.
	Key string
	// Size is the object's size in bytes.
	Size int64
	// LastModified is when the object was completed (zero from Upload).
	LastModified time.Time
	// ETag is the store's entity tag, quoted as S3 returns it; for a
	// multipart upload it ends in "-N", N being the number of parts. It is
	// not a checksum of the content: the manifest's sha256 is.
	ETag string
}

// PendingUpload is a multipart upload that was started but neither
// completed nor aborted.
type PendingUpload struct {
	// Key is the object key the upload would create.
	Key string
	// UploadID identifies the upload to the store.
	UploadID string
	// Initiated is when the upload was started.
	Initiated time.Time
}

var (
	// ErrNotFound means the object does not exist. Errors matching it are
	// not classified: whether a missing object is a failure, and of which
	// kind, is the caller's to say.
	ErrNotFound = errors.New("object not found")
	// ErrExists means PutIfAbsent found the key taken. It is not classified
	// either.
	ErrExists = errors.New("object already exists")
	// ErrObjectLocked means Delete was refused because the objects are
	// under S3 Object Lock (a retention period or a legal hold): they stay
	// until it ends. Retention reports such backups as kept, never as a
	// failure. Classified StorageFailed.
	ErrObjectLocked = errors.New("under S3 Object Lock (retention or legal hold): it cannot be deleted before the lock ends")
)

// UploadOption tunes one call of [Store.Upload].
type UploadOption func(*uploadOptions)

type uploadOptions struct {
	expectedSize int64
	contentType  string
}

// WithExpectedSize tells Upload about how many bytes r will yield (for a
// dump, codec.Encoding.EstimateStoredSize of pg_database_size), so that the
// part size can start large enough for the object to fit in 10,000 parts
// without growing much. An estimate is fine: the part size still grows if
// the object is larger. Parts too large for the store's memory budget are
// spooled rather than held in memory (see the package documentation).
func WithExpectedSize(n int64) UploadOption {
	return func(o *uploadOptions) { o.expectedSize = n }
}

// WithContentType sets the uploaded object's Content-Type (default
// application/octet-stream).
func WithContentType(ct string) UploadOption {
	return func(o *uploadOptions) { o.contentType = ct }
}

func applyUploadOptions(opts []UploadOption) uploadOptions {
	o := uploadOptions{contentType: "application/octet-stream"}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
