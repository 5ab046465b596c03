package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// MemStore is an in-memory [Store] for unit tests; production code uses
// [S3Store]. It passes the same conformance suite (storagetest): Upload
// runs the same streaming multipart uploader as S3Store, keeping parts of
// open uploads until they are completed or aborted, so the commit protocol
// behaves the same. Like S3, it ignores aborts and every other request made
// with a context that is already done, and its ETags follow S3's scheme.
//
// The zero value is ready to use; set the fields before the first call.
type MemStore struct {
	// PartSize is the initial part size of uploads; DefaultPartSize when
	// zero. It is not checked against MinPartSize, so tests may use tiny
	// parts.
	PartSize int64
	// Concurrency is how many parts of an upload are stored at once;
	// DefaultConcurrency when zero.
	Concurrency int
	// PartMemory is the memory budget of the uploads' part buffers, all
	// uploads together, as for S3Store; DefaultPartMemory when zero.
	// Parts too large for it are written to SpoolDir (the system's
	// temporary directory when empty) first.
	PartMemory int64
	SpoolDir   string
	// Now is the store's clock (object times, ServerTime); time.Now when
	// nil. Tests set it to play a server whose clock differs from theirs.
	Now func() time.Time
	// Locked, when set, plays S3 Object Lock: Delete leaves the keys it
	// reports locked and returns a LockedError for them.
	Locked func(key string) bool

	partsOnce sync.Once
	parts     *memPool

	mu      sync.Mutex
	objects map[string]memObject
	uploads map[string]*memPending // by upload ID
	nextID  int
}

var _ Store = (*MemStore)(nil)

type memObject struct {
	data     []byte // never modified once stored
	etag     string
	modified time.Time
}

type memPending struct {
	PendingUpload
	parts map[int][]byte
}

// init makes the maps; the caller holds m.mu.
func (m *MemStore) init() {
	if m.objects == nil {
		m.objects = make(map[string]memObject)
		m.uploads = make(map[string]*memPending)
	}
}

// lock takes the store's lock unless ctx is done, like a request that
// never leaves the process.
func (m *MemStore) lock(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore %s %s: %w", op, key, err)
	}
	m.mu.Lock()
	m.init()
	return nil
}

// Upload streams r to key; see [Store.Upload].
func (m *MemStore) Upload(ctx context.Context, key string, r io.Reader, opts ...UploadOption) (Object, error) {
	o := applyUploadOptions(opts)
	conc := m.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	m.partsOnce.Do(func() { m.parts = newMemPool(cmp.Or(m.PartMemory, DefaultPartMemory)) })
	u := &streamer{
		target:      &memUpload{m: m, key: key},
		initial:     initialPartSize(m.PartSize, o.expectedSize),
		concurrency: conc,
		pool:        m.parts,
		spoolDir:    m.SpoolDir,
	}
	size, etag, err := u.upload(ctx, r)
	if err != nil {
		return Object{}, err
	}
	return Object{Key: key, Size: size, ETag: etag}, nil
}

// PutIfAbsent stores body at key unless key exists.
func (m *MemStore) PutIfAbsent(ctx context.Context, key string, body []byte, _ string) error {
	if err := m.lock(ctx, opPut, key); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put memstore %s: %w", key, ErrExists)
	}
	m.objects[key] = m.newObject(bytes.Clone(body), singleETag(body))
	return nil
}

// Get returns the object's content.
func (m *MemStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := m.lock(ctx, opGet, key); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get memstore %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat describes the object at key.
func (m *MemStore) Stat(ctx context.Context, key string) (Object, error) {
	if err := m.lock(ctx, opStat, key); err != nil {
		return Object{}, err
	}
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return Object{}, fmt.Errorf("stat memstore %s: %w", key, ErrNotFound)
	}
	return o.describe(key), nil
}

// List calls fn for every object under prefix in key order. fn is called
// without the store's lock held, so it may use the store.
func (m *MemStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if err := m.lock(ctx, opList, prefix); err != nil {
		return err
	}
	var objs []Object
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, o.describe(k))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// ListPrefixes calls fn for every "directory" directly under prefix, in
// order.
func (m *MemStore) ListPrefixes(ctx context.Context, prefix string, fn func(string) error) error {
	prefix = dirPrefix(prefix)
	if err := m.lock(ctx, opList, prefix); err != nil {
		return err
	}
	seen := make(map[string]bool)
	for k := range m.objects {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seen[prefix+rest[:i+1]] = true
		}
	}
	m.mu.Unlock()
	dirs := slices.Sorted(func(yield func(string) bool) {
		for d := range seen {
			if !yield(d) {
				return
			}
		}
	})
	for _, d := range dirs {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes keys; missing keys are ignored.
func (m *MemStore) Delete(ctx context.Context, keys ...string) error {
	if err := m.lock(ctx, opDelete, ""); err != nil {
		return err
	}
	defer m.mu.Unlock()
	var locked []string
	for _, k := range keys {
		if _, ok := m.objects[k]; ok && m.Locked != nil && m.Locked(k) {
			locked = append(locked, k)
			continue
		}
		delete(m.objects, k)
	}
	if len(locked) > 0 {
		return result.Wrap(result.ReasonStorageFailed, &LockedError{Bucket: "memory", Keys: locked})
	}
	return nil
}

// Uploads lists the open multipart uploads under prefix in key order.
func (m *MemStore) Uploads(ctx context.Context, prefix string) ([]PendingUpload, error) {
	if err := m.lock(ctx, opUploads, prefix); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var ups []PendingUpload
	for _, p := range m.uploads {
		if strings.HasPrefix(p.Key, prefix) {
			ups = append(ups, p.PendingUpload)
		}
	}
	slices.SortFunc(ups, func(a, b PendingUpload) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
	return ups, nil
}

// AbortUpload drops an open upload and its parts; an unknown upload is not
// an error.
func (m *MemStore) AbortUpload(ctx context.Context, u PendingUpload) error {
	if err := m.lock(ctx, opAbort, u.Key); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.uploads, u.UploadID)
	return nil
}

// Check always succeeds unless ctx is done.
func (m *MemStore) Check(ctx context.Context) error {
	if err := m.lock(ctx, opHeadBucket, ""); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// ServerTime returns the store's clock unless ctx is done.
func (m *MemStore) ServerTime(ctx context.Context) (time.Time, error) {
	if err := m.lock(ctx, opHeadBucket, ""); err != nil {
		return time.Time{}, err
	}
	defer m.mu.Unlock()
	return m.now(), nil
}

// now is the store's clock; the caller holds m.mu or needs no lock.
func (m *MemStore) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *MemStore) newObject(data []byte, etag string) memObject {
	return memObject{data: data, etag: etag, modified: m.now()}
}

func (o memObject) describe(key string) Object {
	return Object{Key: key, Size: int64(len(o.data)), LastModified: o.modified, ETag: o.etag}
}

// singleETag is S3's ETag of an object stored in one request: the quoted
// hex MD5 of its content.
func singleETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// memUpload is the uploadTarget of one MemStore.Upload.
type memUpload struct {
	m   *MemStore
	key string
	id  string
}

func (u *memUpload) describe() string { return "memstore " + u.key }

func (u *memUpload) put(ctx context.Context, b partBody) (string, error) {
	body, err := b.Bytes()
	if err != nil {
		return "", err
	}
	if err := u.m.lock(ctx, opPut, u.key); err != nil {
		return "", err
	}
	defer u.m.mu.Unlock()
	etag := singleETag(body)
	u.m.objects[u.key] = u.m.newObject(bytes.Clone(body), etag)
	return etag, nil
}

func (u *memUpload) create(ctx context.Context) error {
	if err := u.m.lock(ctx, opCreate, u.key); err != nil {
		return err
	}
	defer u.m.mu.Unlock()
	u.m.nextID++
	u.id = strconv.Itoa(u.m.nextID)
	u.m.uploads[u.id] = &memPending{
		PendingUpload: PendingUpload{Key: u.key, UploadID: u.id, Initiated: u.m.now()},
		parts:         make(map[int][]byte),
	}
	return nil
}

// pending returns the open upload; the caller holds the lock.
func (u *memUpload) pending(op string) (*memPending, error) {
	p, ok := u.m.uploads[u.id]
	if !ok {
		return nil, result.Errorf(result.ReasonStorageFailed, "memstore %s %s: no such upload %s (aborted?)", op, u.key, u.id)
	}
	return p, nil
}

func (u *memUpload) uploadPart(ctx context.Context, n int, b partBody) (string, error) {
	body, err := b.Bytes()
	if err != nil {
		return "", err
	}
	data := bytes.Clone(body) // outside the lock: parts are stored concurrently
	if err := u.m.lock(ctx, opUploadPart, u.key); err != nil {
		return "", err
	}
	defer u.m.mu.Unlock()
	p, err := u.pending(opUploadPart)
	if err != nil {
		return "", err
	}
	p.parts[n] = data
	return singleETag(data), nil
}

func (u *memUpload) complete(ctx context.Context, etags []string, _ int64) (string, error) {
	if err := u.m.lock(ctx, opComplete, u.key); err != nil {
		return "", err
	}
	defer u.m.mu.Unlock()
	p, err := u.pending(opComplete)
	if err != nil {
		return "", err
	}
	var data []byte
	sums := md5.New()
	for i, etag := range etags {
		part, ok := p.parts[i+1]
		if !ok || singleETag(part) != etag {
			return "", result.Errorf(result.ReasonStorageFailed, "memstore %s %s: part %d is missing or has another ETag", opComplete, u.key, i+1)
		}
		data = append(data, part...)
		sum := md5.Sum(part)
		sums.Write(sum[:])
	}
	delete(u.m.uploads, u.id)
	etag := fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(sums.Sum(nil)), len(etags))
	u.m.objects[u.key] = u.m.newObject(data, etag)
	return etag, nil
}

func (u *memUpload) abort(ctx context.Context) error {
	return u.m.AbortUpload(ctx, PendingUpload{Key: u.key, UploadID: u.id})
}
