// Package storagetest is the conformance suite every storage.Store
// implementation must pass: the commit protocol of uploads (complete on
// io.EOF only, abort on any error or cancellation, with nothing left
// behind), conditional puts, not-found errors, paginated listings and
// batched deletes. It runs against S3Store on a real S3-compatible server
// and against MemStore, so unit tests using MemStore rely on the behaviour
// production has.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// PartSize is the initial part size the stores under test must be
// configured with, S3's minimum: the suite's multipart objects are a few
// parts of it.
const PartSize = storage.MinPartSize

// ManyKeys is how many "directories" (one object each) the listing and
// deletion tests create: more than S3's page of 1000 keys and its batch of
// 1000 deletions.
const ManyKeys = 1050

// RunSuite runs the conformance tests. newStore returns an empty store
// (a fresh bucket, say) configured with PartSize; it is called once per
// subtest, from parallel subtests.
func RunSuite(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Run("UploadRoundTrip", func(t *testing.T) { t.Parallel(); testUploadRoundTrip(t, newStore(t)) })
	t.Run("UploadReplaces", func(t *testing.T) { t.Parallel(); testUploadReplaces(t, newStore(t)) })
	t.Run("UploadReaderFails", func(t *testing.T) { t.Parallel(); testUploadReaderFails(t, newStore(t)) })
	t.Run("UploadCancelled", func(t *testing.T) { t.Parallel(); testUploadCancelled(t, newStore(t)) })
	t.Run("UploadAbortedFromOutside", func(t *testing.T) { t.Parallel(); testUploadAbortedFromOutside(t, newStore(t)) })
	t.Run("PutIfAbsent", func(t *testing.T) { t.Parallel(); testPutIfAbsent(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, newStore(t)) })
	t.Run("ListAndDeleteMany", func(t *testing.T) { t.Parallel(); testListAndDeleteMany(t, newStore(t)) })
	t.Run("Check", func(t *testing.T) { t.Parallel(); testCheck(t, newStore(t)) })
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)}).Read(b)
	return b
}

// chunkyReader returns data in reads of irregular sizes, the last one
// together with io.EOF when eofWithData is set, then fails with err (io.EOF
// when nil) once failAt bytes were read (failAt < 0: at the end).
type chunkyReader struct {
	data        []byte
	off         int
	rng         *rand.Rand
	eofWithData bool
	failAt      int
	err         error
	// onRead, when set, runs before each read with the offset reached.
	onRead func(off int)
}

func newChunkyReader(data []byte) *chunkyReader {
	return &chunkyReader{data: data, rng: rand.New(rand.NewPCG(1, uint64(len(data)))), failAt: -1}
}

func (r *chunkyReader) Read(p []byte) (int, error) {
	if r.onRead != nil {
		r.onRead(r.off)
	}
	end := len(r.data)
	if r.failAt >= 0 {
		end = r.failAt
	}
	if r.off >= end {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := min(len(p), end-r.off, 1+r.rng.IntN(96<<10))
	copy(p, r.data[r.off:r.off+n])
	r.off += n
	if r.off == end && r.eofWithData && r.err == nil {
		return n, io.EOF
	}
	return n, nil
}

var multipartETag = regexp.MustCompile(`-(\d+)"?$`)

// etagParts returns the part count in a multipart ETag, 0 for a single put.
func etagParts(etag string) int {
	m := multipartETag.FindStringSubmatch(etag)
	if m == nil {
		return 0
	}
	var n int
	_, _ = fmt.Sscan(m[1], &n)
	return n
}

func readAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(testContext(t), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func testUploadRoundTrip(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	tests := []struct {
		name        string
		size        int
		eofWithData bool
		wantParts   int // 0: single put
	}{
		{"empty", 0, false, 0},
		{"small", 1000, true, 0},
		{"exactly one part is a single put", int(PartSize), false, 0},
		{"one part and one byte", int(PartSize) + 1, true, 2},
		{"exactly two parts", 2 * int(PartSize), false, 2},
		{"three parts and a bit", 3*int(PartSize) + 1234, true, 4},
	}
	for i, tt := range tests {
		data := randomBytes(tt.size, uint64(i))
		key := fmt.Sprintf("roundtrip/%d.bin", i)
		r := newChunkyReader(data)
		r.eofWithData = tt.eofWithData
		obj, err := s.Upload(ctx, key, r)
		if err != nil {
			t.Fatalf("%s: Upload: %v", tt.name, err)
		}
		if obj.Key != key || obj.Size != int64(tt.size) {
			t.Errorf("%s: Upload returned %+v, want key %s size %d", tt.name, obj, key, tt.size)
		}
		st, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatalf("%s: Stat: %v", tt.name, err)
		}
		if st.Size != int64(tt.size) || st.ETag != obj.ETag || st.LastModified.IsZero() {
			t.Errorf("%s: Stat = %+v, want size %d, ETag %s and a modification time", tt.name, st, tt.size, obj.ETag)
		}
		if got := etagParts(st.ETag); got != tt.wantParts {
			t.Errorf("%s: ETag %s says %d parts, want %d", tt.name, st.ETag, got, tt.wantParts)
		}
		if got := readAll(t, s, key); sha256.Sum256(got) != sha256.Sum256(data) {
			t.Errorf("%s: read back %d bytes that differ from the %d uploaded", tt.name, len(got), len(data))
		}
	}
	assertNoUploads(t, s, "roundtrip/")
}

func testUploadReplaces(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	for _, content := range []string{"first version", "second"} {
		if _, err := s.Upload(ctx, "replace/obj", strings.NewReader(content)); err != nil {
			t.Fatalf("Upload: %v", err)
		}
	}
	if got := string(readAll(t, s, "replace/obj")); got != "second" {
		t.Fatalf("content = %q, want the second upload's", got)
	}
}

// assertNothingAt checks that key has no object, and that no multipart
// upload is left open under prefix.
func assertNothingAt(t *testing.T, s storage.Store, prefix, key string) {
	t.Helper()
	ctx := context.WithoutCancel(testContext(t))
	if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(%s) after a failed upload: %v, want ErrNotFound", key, err)
	}
	var keys []string
	if err := s.List(ctx, prefix, func(o storage.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(keys) > 0 {
		t.Errorf("objects left under %s after a failed upload: %v", prefix, keys)
	}
	assertNoUploads(t, s, prefix)
}

func assertNoUploads(t *testing.T, s storage.Store, prefix string) {
	t.Helper()
	ups, err := s.Uploads(context.WithoutCancel(testContext(t)), prefix)
	if err != nil {
		t.Fatalf("Uploads: %v", err)
	}
	if len(ups) > 0 {
		t.Errorf("multipart uploads left open under %s: %+v", prefix, ups)
	}
}

func testUploadReaderFails(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	dumpErr := result.Errorf(result.ReasonDumpFailed, "pg_dump exited with status 1")
	data := randomBytes(3*int(PartSize), 7)
	tests := []struct {
		name   string
		failAt int
		err    error
	}{
		{"before the first part is full", 1000, dumpErr},
		{"at the first part's end", int(PartSize), dumpErr},
		{"mid-stream", 2*int(PartSize) + 100, dumpErr},
		// A truncated stream is not the end of it: only io.EOF itself is.
		{"unexpected EOF", 2*int(PartSize) + 100, io.ErrUnexpectedEOF},
		{"wrapped EOF", int(PartSize) + 100, fmt.Errorf("decompress: %w", io.EOF)},
	}
	for i, tt := range tests {
		prefix := fmt.Sprintf("fail/%d/", i)
		key := prefix + "db.dump"
		r := newChunkyReader(data)
		r.failAt, r.err = tt.failAt, tt.err
		_, err := s.Upload(ctx, key, r)
		if err == nil {
			t.Fatalf("%s: Upload succeeded, want the reader's error", tt.name)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: Upload error %v does not match the reader's %v", tt.name, err, tt.err)
		}
		if got, want := result.ReasonOf(err), result.ReasonOf(tt.err); got != want {
			t.Errorf("%s: reason %s, want the reader's %s", tt.name, got, want)
		}
		assertNothingAt(t, s, prefix, key)
	}
}

func testUploadCancelled(t *testing.T, s storage.Store) {
	data := randomBytes(5*int(PartSize), 8)
	for i, cancelAt := range []int{2*int(PartSize) + 10, 4 * int(PartSize)} {
		ctx, cancel := context.WithCancel(testContext(t))
		prefix := fmt.Sprintf("cancel/%d/", i)
		key := prefix + "db.dump"
		r := newChunkyReader(data)
		r.onRead = func(off int) {
			if off >= cancelAt {
				cancel()
			}
		}
		_, err := s.Upload(ctx, key, r)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel at %d: Upload error %v, want context.Canceled", cancelAt, err)
		}
		if got := result.ReasonOf(err); got != result.ReasonInterrupted {
			t.Errorf("cancel at %d: reason %s, want Interrupted", cancelAt, got)
		}
		// This is the abort with a fresh context: one sent on the
		// cancelled context would leave the upload open.
		assertNothingAt(t, s, prefix, key)
	}
}

// blockingReader yields first, then blocks until release is closed, then
// returns io.EOF.
type blockingReader struct {
	first   io.Reader
	release chan struct{}
	// blocked is closed when the reader starts waiting for release.
	blocked     chan struct{}
	blockedOnce sync.Once
}

func (r *blockingReader) Read(p []byte) (int, error) {
	n, err := r.first.Read(p)
	if errors.Is(err, io.EOF) {
		r.blockedOnce.Do(func() { close(r.blocked) })
		<-r.release
		return n, io.EOF
	}
	return n, err
}

func testUploadAbortedFromOutside(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const key = "outside/db.dump"
	r := &blockingReader{first: bytes.NewReader(randomBytes(int(PartSize)+100, 9)), release: make(chan struct{}), blocked: make(chan struct{})}
	var (
		wg        sync.WaitGroup
		uploadErr error
	)
	wg.Go(func() {
		_, uploadErr = s.Upload(ctx, key, r)
	})
	defer func() {
		select {
		case <-r.release:
		default:
			close(r.release)
		}
		wg.Wait()
	}()

	var ups []storage.PendingUpload
	for deadline := time.Now().Add(time.Minute); len(ups) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the upload never showed in Uploads")
		}
		var err error
		if ups, err = s.Uploads(ctx, "outside/"); err != nil {
			t.Fatalf("Uploads: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(ups) != 1 || ups[0].Key != key || ups[0].UploadID == "" || ups[0].Initiated.IsZero() {
		t.Fatalf("Uploads = %+v, want one upload of %s with an ID and a start time", ups, key)
	}
	if other, err := s.Uploads(ctx, "elsewhere/"); err != nil || len(other) != 0 {
		t.Errorf("Uploads(elsewhere/) = %+v, %v; want none", other, err)
	}
	// S3 documents that a part upload in progress while the upload is
	// aborted "might or might not succeed" and can bring the upload back.
	// So abort only once the first part has had time to land: the reader
	// is drained and waiting, and nothing else is being sent.
	select {
	case <-r.blocked:
	case <-ctx.Done():
		t.Fatal("the uploader never drained the reader")
	}
	time.Sleep(time.Second)
	if err := s.AbortUpload(ctx, ups[0]); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	close(r.release)
	wg.Wait()
	if uploadErr == nil {
		t.Fatal("Upload of an aborted multipart upload succeeded")
	}
	assertNothingAt(t, s, "outside/", key)
	if err := s.AbortUpload(ctx, ups[0]); err != nil {
		t.Errorf("aborting an upload twice: %v, want no error", err)
	}
}

func testPutIfAbsent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const key = "put/manifest.json"
	if err := s.PutIfAbsent(ctx, key, []byte(`{"v":1}`), "application/json"); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	err := s.PutIfAbsent(ctx, key, []byte(`{"v":2}`), "application/json")
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second PutIfAbsent: %v, want ErrExists", err)
	}
	var classified *result.Error
	if errors.As(err, &classified) {
		t.Errorf("ErrExists came classified %s; the caller classifies it", classified.Reason)
	}
	if got := string(readAll(t, s, key)); got != `{"v":1}` {
		t.Errorf("content after the refused put = %q, want the first", got)
	}
	st, err := s.Stat(ctx, key)
	if err != nil || st.Size != 7 {
		t.Errorf("Stat = %+v, %v; want size 7", st, err)
	}
	if err := s.PutIfAbsent(ctx, "put/empty", nil, ""); err != nil {
		t.Errorf("PutIfAbsent of an empty object: %v", err)
	}
}

func testNotFound(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	if rc, err := s.Get(ctx, "missing/key"); !errors.Is(err, storage.ErrNotFound) {
		if rc != nil {
			_ = rc.Close()
		}
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	_, err := s.Stat(ctx, "missing/key")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	var classified *result.Error
	if errors.As(err, &classified) {
		t.Errorf("ErrNotFound came classified %s; the caller classifies it", classified.Reason)
	}
	if err := s.Delete(ctx, "missing/key", "missing/other"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Errorf("Delete() = %v, want nil", err)
	}
}

func testListAndDeleteMany(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	var want []string // sorted by construction
	for i := range ManyKeys {
		want = append(want, fmt.Sprintf("many/d%04d/obj", i))
	}
	want = append(want, "many/top") // an object, not a directory
	others := []string{"man", "many-other/x", "manz/y"}
	putAll(t, s, append(slicesClone(want), others...))

	var got []string
	err := s.List(ctx, "many/", func(o storage.Object) error {
		if o.Size != int64(len(o.Key)) {
			return fmt.Errorf("%s has size %d, want %d", o.Key, o.Size, len(o.Key))
		}
		got = append(got, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	assertSameList(t, "List(many/)", got, want)

	// "many" without the slash: a directory, so not many-other/.
	var dirs, wantDirs []string
	for i := range ManyKeys {
		wantDirs = append(wantDirs, fmt.Sprintf("many/d%04d/", i))
	}
	if err := s.ListPrefixes(ctx, "many", func(p string) error { dirs = append(dirs, p); return nil }); err != nil {
		t.Fatalf("ListPrefixes: %v", err)
	}
	assertSameList(t, "ListPrefixes(many)", dirs, wantDirs)

	var top []string
	if err := s.ListPrefixes(ctx, "", func(p string) error { top = append(top, p); return nil }); err != nil {
		t.Fatalf("ListPrefixes(\"\"): %v", err)
	}
	assertSameList(t, `ListPrefixes("")`, top, []string{"many-other/", "many/", "manz/"})

	stop := errors.New("stop")
	calls := 0
	if err := s.List(ctx, "many/", func(storage.Object) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback: %v after %d calls, want stop after 1", err, calls)
	}

	if err := s.Delete(ctx, append(want, "many/never-existed")...); err != nil {
		t.Fatalf("Delete(%d keys): %v", len(want)+1, err)
	}
	got = nil
	if err := s.List(ctx, "", func(o storage.Object) error { got = append(got, o.Key); return nil }); err != nil {
		t.Fatalf("List after Delete: %v", err)
	}
	assertSameList(t, "List after Delete", got, others)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// putAll writes each key with its own name as content, 16 at a time.
func putAll(t *testing.T, s storage.Store, keys []string) {
	t.Helper()
	ctx := testContext(t)
	work := make(chan string)
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range work {
				if err := s.PutIfAbsent(ctx, k, []byte(k), "text/plain"); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("PutIfAbsent: %v", err)
	}
}

func assertSameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s returned %d entries, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s entry %d = %q, want %q (order or content differ)", what, i, got[i], want[i])
			return
		}
	}
}

func testCheck(t *testing.T, s storage.Store) {
	if err := s.Check(testContext(t)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check on a cancelled context: %v, want context.Canceled", err)
	}
}
