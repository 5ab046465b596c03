package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// fakeTarget records what the streamer asks of a store.
type fakeTarget struct {
	delay       time.Duration // per part, so parts overlap
	failPart    int           // part number whose upload fails
	failErr     error
	completeErr error
	abortErr    error

	mu          sync.Mutex
	puts        [][]byte
	created     bool
	parts       map[int][]byte
	sizes       map[int]int
	keepData    bool
	inflight    int
	maxInflight int
	// memInflight is the bytes of in-memory parts being uploaded now.
	memInflight, maxMemInflight int64
	spooled                     int // parts that came from a spool file
	completed                   []string
	completedSz                 int64 // the size complete was given
	aborted                     bool
	abortCtxErr                 error
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{parts: map[int][]byte{}, sizes: map[int]int{}, keepData: true}
}

func (f *fakeTarget) describe() string { return "fake://obj" }

func (f *fakeTarget) put(ctx context.Context, b partBody) (string, error) {
	body, err := b.Bytes()
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, bytes.Clone(body))
	return `"single"`, ctx.Err()
}

func (f *fakeTarget) create(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = true
	return nil
}

func (f *fakeTarget) uploadPart(ctx context.Context, n int, b partBody) (string, error) {
	body, err := b.Bytes()
	if err != nil {
		return "", err
	}
	var inMemory int64
	if b.file == nil {
		inMemory = b.size
	}
	f.mu.Lock()
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.memInflight += inMemory
	f.maxMemInflight = max(f.maxMemInflight, f.memInflight)
	if b.file != nil {
		f.spooled++
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.memInflight -= inMemory
		f.mu.Unlock()
	}()
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if n == f.failPart {
		return "", f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sizes[n] = len(body)
	if f.keepData {
		f.parts[n] = bytes.Clone(body)
	}
	return fmt.Sprintf("etag-%d", n), nil
}

func (f *fakeTarget) complete(_ context.Context, etags []string, size int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.completeErr != nil {
		return "", f.completeErr
	}
	f.completed = etags
	f.completedSz = size
	return `"multi"`, nil
}

func (f *fakeTarget) abort(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborted = true
	f.abortCtxErr = ctx.Err()
	if _, ok := ctx.Deadline(); !ok {
		f.abortCtxErr = errors.New("abort context has no deadline")
	}
	return f.abortErr
}

func (f *fakeTarget) joined() []byte {
	var b []byte
	for n := 1; n <= len(f.parts); n++ {
		b = append(b, f.parts[n]...)
	}
	return b
}

// countingAlloc counts the part buffers a streamer allocates.
type countingAlloc struct {
	mu    sync.Mutex
	count int
	bytes int64
}

func (c *countingAlloc) newBuf(size int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	c.bytes += size
	return make([]byte, size)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestStreamerSinglePut(t *testing.T) {
	for _, size := range []int{0, 1, 999, 1000} {
		f := newFakeTarget()
		u := &streamer{target: f, initial: 1000, concurrency: 2}
		data := pattern(size)
		n, etag, err := u.upload(t.Context(), iotest.HalfReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if n != int64(size) || etag != `"single"` || f.created || len(f.puts) != 1 || !bytes.Equal(f.puts[0], data) {
			t.Errorf("size %d: got n=%d etag=%s created=%v puts=%d; want one put of the data", size, n, etag, f.created, len(f.puts))
		}
	}
}

func TestStreamerMultipart(t *testing.T) {
	const initial, conc = 1000, 3
	for _, size := range []int{1001, 2000, 10_500} {
		f := newFakeTarget()
		f.delay = 2 * time.Millisecond
		alloc := &countingAlloc{}
		pool := newMemPool(DefaultPartMemory)
		pool.newBuf = alloc.newBuf
		u := &streamer{target: f, initial: initial, concurrency: conc, pool: pool}
		data := pattern(size)
		n, etag, err := u.upload(t.Context(), iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		wantParts := (size + initial - 1) / initial
		if n != int64(size) || etag != `"multi"` || !f.created || len(f.puts) != 0 || f.aborted {
			t.Errorf("size %d: n=%d etag=%s created=%v puts=%d aborted=%v", size, n, etag, f.created, len(f.puts), f.aborted)
		}
		if len(f.completed) != wantParts {
			t.Fatalf("size %d: completed with %d parts, want %d", size, len(f.completed), wantParts)
		}
		if f.completedSz != int64(size) {
			t.Errorf("size %d: complete was told the object has %d bytes", size, f.completedSz)
		}
		for i, e := range f.completed {
			if e != fmt.Sprintf("etag-%d", i+1) {
				t.Errorf("size %d: ETag %d = %s, out of order", size, i+1, e)
			}
		}
		if !bytes.Equal(f.joined(), data) {
			t.Errorf("size %d: the parts do not add up to the data", size)
		}
		if f.maxInflight > conc {
			t.Errorf("size %d: %d parts in flight, more than the concurrency %d", size, f.maxInflight, conc)
		}
		if alloc.count > conc+1 {
			t.Errorf("size %d: %d part buffers allocated, want at most concurrency+1 = %d", size, alloc.count, conc+1)
		}
	}
}

func TestStreamerUsesConcurrency(t *testing.T) {
	f := newFakeTarget()
	f.delay = 20 * time.Millisecond
	u := &streamer{target: f, initial: 100, concurrency: 4}
	if _, _, err := u.upload(t.Context(), bytes.NewReader(pattern(2000))); err != nil {
		t.Fatal(err)
	}
	if f.maxInflight < 2 {
		t.Errorf("at most %d part in flight: parts are not uploaded concurrently", f.maxInflight)
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestStreamerPartFails(t *testing.T) {
	partErr := result.Errorf(result.ReasonStorageFailed, "upload part 3: boom")
	f := newFakeTarget()
	f.failPart, f.failErr = 3, partErr
	f.delay = time.Millisecond
	const initial, conc = 100, 2
	r := &countingReader{r: bytes.NewReader(pattern(100 * initial))}
	u := &streamer{target: f, initial: initial, concurrency: conc}
	_, _, err := u.upload(t.Context(), r)
	if !errors.Is(err, partErr) {
		t.Fatalf("error %v, want the part's", err)
	}
	if !f.aborted || f.abortCtxErr != nil || f.completed != nil {
		t.Errorf("aborted=%v (context error %v) completed=%v; want aborted with a live context, not completed", f.aborted, f.abortCtxErr, f.completed)
	}
	// Reading stops: at most the failed part, the parts in flight and the
	// one being filled (plus a peeked byte) were read.
	if limit := int64((3+conc+1)*initial + 1); r.n > limit {
		t.Errorf("read %d bytes after part 3 failed, want at most %d", r.n, limit)
	}
}

func TestStreamerReaderFails(t *testing.T) {
	dumpErr := result.Errorf(result.ReasonDumpFailed, "pg_dump: exit status 1")
	for _, failAt := range []int64{50, 100, 101, 550} {
		f := newFakeTarget()
		u := &streamer{target: f, initial: 100, concurrency: 2}
		r := io.MultiReader(bytes.NewReader(pattern(int(failAt))), iotest.ErrReader(dumpErr))
		_, _, err := u.upload(t.Context(), r)
		if err != dumpErr { //nolint:errorlint // the reader's error must come back as it is
			t.Errorf("fail at %d: error %v, want the reader's error itself", failAt, err)
		}
		if f.completed != nil || len(f.puts) != 0 {
			t.Errorf("fail at %d: completed=%v puts=%d; want nothing stored", failAt, f.completed, len(f.puts))
		}
		if f.created != f.aborted || (f.aborted && f.abortCtxErr != nil) {
			t.Errorf("fail at %d: created=%v aborted=%v (context error %v); want every started upload aborted with a live context", failAt, f.created, f.aborted, f.abortCtxErr)
		}
	}
}

func TestStreamerCancelled(t *testing.T) {
	f := newFakeTarget()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	data := pattern(1000)
	r := readFunc(func(p []byte) (int, error) {
		if len(data) < 600 {
			cancel()
		}
		n := copy(p, data[:min(len(data), 10)])
		data = data[n:]
		if len(data) == 0 {
			return n, io.EOF
		}
		return n, nil
	})
	u := &streamer{target: f, initial: 100, concurrency: 2}
	_, _, err := u.upload(ctx, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if !f.aborted || f.abortCtxErr != nil || f.completed != nil {
		t.Errorf("aborted=%v (context error %v) completed=%v; want aborted with a fresh context", f.aborted, f.abortCtxErr, f.completed)
	}
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func TestStreamerCompleteFails(t *testing.T) {
	f := newFakeTarget()
	f.completeErr = errors.New("complete: InvalidPart")
	u := &streamer{target: f, initial: 100, concurrency: 2}
	if _, _, err := u.upload(t.Context(), bytes.NewReader(pattern(250))); !errors.Is(err, f.completeErr) {
		t.Fatalf("error %v, want the completion's", err)
	}
	if !f.aborted {
		t.Error("a failed completion was not aborted")
	}
}

func TestStreamerAbortFailsToo(t *testing.T) {
	readErr := errors.New("read failed")
	f := newFakeTarget()
	f.abortErr = errors.New("abort failed")
	u := &streamer{target: f, initial: 100, concurrency: 2}
	r := io.MultiReader(bytes.NewReader(pattern(300)), iotest.ErrReader(readErr))
	_, _, err := u.upload(t.Context(), r)
	if !errors.Is(err, readErr) || !errors.Is(err, f.abortErr) {
		t.Fatalf("error %v, want both the reader's and the abort's", err)
	}
}

// zeros is an endless reader of zero bytes that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestStreamerTooManyParts(t *testing.T) {
	f := newFakeTarget()
	f.keepData = false
	u := &streamer{target: f, initial: 1, concurrency: 4}
	_, _, err := u.upload(t.Context(), zeros{})
	if err == nil || !strings.Contains(err.Error(), "larger than S3's 10000 parts allow") {
		t.Fatalf("error %v, want the too many parts error", err)
	}
	if r := result.ReasonOf(err); r != result.ReasonStorageFailed {
		t.Errorf("reason %s, want StorageFailed", r)
	}
	if !f.aborted || f.completed != nil {
		t.Errorf("aborted=%v completed=%v; want aborted", f.aborted, f.completed != nil)
	}
	// The parts still in flight when the limit was hit are cancelled.
	if len(f.sizes) < MaxParts-u.concurrency {
		t.Errorf("%d parts uploaded, want about %d", len(f.sizes), MaxParts)
	}
	for n, size := range f.sizes {
		if n > MaxParts {
			t.Fatalf("part %d uploaded, past the limit", n)
		}
		if got, want := int64(size), partSize(1, n); got != want {
			t.Fatalf("part %d has %d bytes, want %d as partSize says", n, got, want)
		}
	}
}

func TestFill(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		r        io.Reader
		bufSize  int
		wantN    []int // successive fills
		wantLast bool
		wantErr  error
	}{
		{"empty", strings.NewReader(""), 4, []int{0}, true, nil},
		{"short", strings.NewReader("ab"), 4, []int{2}, true, nil},
		{"exact is last", strings.NewReader("abcd"), 4, []int{4}, true, nil},
		{"one over", strings.NewReader("abcde"), 4, []int{4, 1}, true, nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("abcdefgh")), 4, []int{4, 4}, true, nil},
		{"one byte reads", iotest.OneByteReader(strings.NewReader("abcdefghij")), 4, []int{4, 4, 2}, true, nil},
		{"timeouts are not the end", iotest.TimeoutReader(strings.NewReader("abcdef")), 4, nil, false, iotest.ErrTimeout},
		{"error", io.MultiReader(strings.NewReader("abcdef"), iotest.ErrReader(errBoom)), 4, []int{4}, false, errBoom},
		{"unexpected EOF", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(io.ErrUnexpectedEOF)), 4, nil, false, io.ErrUnexpectedEOF},
		{"wrapped EOF", iotest.ErrReader(fmt.Errorf("x: %w", io.EOF)), 4, nil, false, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var carry carryByte
			var got []int
			var err error
			var all []byte
			for range 10 {
				buf := make([]byte, tt.bufSize)
				var n int
				n, err = fill(tt.r, buf, &carry)
				if err != nil {
					break
				}
				got = append(got, n)
				all = append(all, buf[:n]...)
				if carry.eof && !carry.has {
					break
				}
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if carry.eof {
					t.Error("an error was taken for the end of the stream")
				}
			} else if err != nil {
				t.Fatalf("error %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantN) {
				t.Errorf("fills = %v, want %v", got, tt.wantN)
			}
			if tt.wantErr == nil && carry.eof != tt.wantLast {
				t.Errorf("eof = %v, want %v", carry.eof, tt.wantLast)
			}
			if want := "abcdefghij"; tt.wantErr == nil && (len(all) > len(want) || string(all) != want[:len(all)]) {
				t.Errorf("data = %q, out of order", all)
			}
		})
	}
}

// TestMultipartETag checks the ETag S3 derives for a completed multipart
// upload, which S3Store uses to recognise its own object after a lost
// answer. The expected values come from Python's hashlib:
// md5(md5(p1) || md5(p2) || ...) in hex, then "-" and the part count.
func TestMultipartETag(t *testing.T) {
	tests := []struct {
		name  string
		parts []string // part ETags, as UploadPart returns them
		want  string
	}{
		{"three parts", []string{`"f814893777bcc2295fff05f00e508da6"`, `"a020557699724b0bb4fc5a1949e8ee1c"`, `"7d793037a0760186574b0282f2f435e7"`},
			`"98c2f083991e2970a99c9c318427ed50-3"`},
		{"unquoted, upper case", []string{"F814893777BCC2295FFF05F00E508DA6", "a020557699724b0bb4fc5a1949e8ee1c", "7d793037a0760186574b0282f2f435e7"},
			`"98c2f083991e2970a99c9c318427ed50-3"`},
		{"one empty part", []string{`"d41d8cd98f00b204e9800998ecf8427e"`}, `"59adb24ef3cdbe0297f05b395827453f-1"`},
	}
	for _, tt := range tests {
		got, err := multipartETag(tt.parts)
		if err != nil || got != tt.want {
			t.Errorf("%s: multipartETag = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
	// The same parts, with their ETags computed from their bytes.
	parts := []string{singleETag([]byte("hello ")), singleETag([]byte("multipart ")), singleETag([]byte("world"))}
	if got, _ := multipartETag(parts); got != tests[0].want {
		t.Errorf("multipartETag of the parts of %q = %s, want %s", "hello multipart world", got, tests[0].want)
	}

	// Part ETags that are not MD5s (SSE-KMS, SSE-C, some servers) make the
	// object's ETag unpredictable: an error, never a guess.
	for _, bad := range [][]string{
		{`"f814893777bcc2295fff05f00e508da6"`, `"etag-2"`},
		{`"f814893777bcc2295fff05f00e508da"`},
		{`"f814893777bcc2295fff05f00e508da6-2"`},
		{""},
	} {
		if got, err := multipartETag(bad); err == nil {
			t.Errorf("multipartETag(%q) = %s, want an error", bad, got)
		}
	}
}
