package storage

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// uploadTarget is the store's side of one streaming upload. The streamer
// calls either put once, or create, then uploadPart (concurrently), then
// exactly one of complete or abort.
type uploadTarget interface {
	// put stores the whole object in one request: it fit in one part.
	put(ctx context.Context, body []byte) (etag string, err error)
	// create starts a multipart upload.
	create(ctx context.Context) error
	// uploadPart uploads part n (1-based); body is only valid during the
	// call.
	uploadPart(ctx context.Context, n int, body []byte) (etag string, err error)
	// complete completes the upload from the ETags of parts 1..len(etags);
	// size is the object's total length, so that a store can recognise its
	// own object when the answer to a completion was lost.
	complete(ctx context.Context, etags []string, size int64) (etag string, err error)
	// abort aborts the multipart upload. The streamer calls it with a fresh
	// context, never with a cancelled one.
	abort(ctx context.Context) error
	// describe names the object in errors ("s3://bucket/key").
	describe() string
}

// streamer is the streaming multipart uploader both stores use, so they
// share the commit protocol: the object is completed only after the reader
// returned io.EOF and every part succeeded; on any failure it stops reading,
// waits for the parts in flight and aborts the upload with a fresh context.
//
// The reader is read on the caller's goroutine into part buffers taken from
// a pool of at most concurrency+1 buffers; concurrency goroutines upload the
// filled parts. Nothing else grows with the object but the list of part
// ETags (at most MaxParts strings).
type streamer struct {
	target      uploadTarget
	initial     int64 // size of the first part, see partSize
	concurrency int
	// newBuf allocates a part buffer; tests count the calls.
	newBuf func(size int64) []byte
}

// part is a filled buffer on its way to a worker.
type part struct {
	n   int
	buf []byte // the whole buffer, returned to the pool
	len int    // how much of it is data
}

// bufferPool hands out at most limit buffers. Only the reading goroutine
// calls get; workers return buffers with put.
type bufferPool struct {
	free      chan []byte
	allocated int
	limit     int
	newBuf    func(int64) []byte
}

// get returns a buffer of size bytes, waiting for one to come back when
// limit are out, or nil when ctx is done first. Buffers smaller than size
// (the part size grew) are dropped for the garbage collector.
func (p *bufferPool) get(ctx context.Context, size int64) []byte {
	for {
		var b []byte
		select {
		case b = <-p.free:
		default:
			if p.allocated < p.limit {
				p.allocated++
				return p.newBuf(size)
			}
			select {
			case b = <-p.free:
			case <-ctx.Done():
				return nil
			}
		}
		if int64(cap(b)) >= size {
			return b[:size]
		}
		p.allocated--
	}
}

func (p *bufferPool) put(b []byte) { p.free <- b }

// partMemory bounds the part buffers of one upload when parts start large
// (a large expected size): fewer parts are in flight rather than more
// memory held. Default parts (8 MiB) with concurrency 4 use 40 MiB.
const partMemory = 48 << 20

// upload streams r to the target and returns the object's size and ETag.
func (u *streamer) upload(ctx context.Context, r io.Reader) (int64, string, error) {
	// concurrency+1 buffers of the initial size must fit in partMemory,
	// keeping at least one part in flight while the next one fills.
	u.concurrency = max(1, min(u.concurrency, int(partMemory/max(u.initial, 1))-1))
	newBuf := u.newBuf
	if newBuf == nil {
		newBuf = func(size int64) []byte { return make([]byte, size) }
	}
	pool := &bufferPool{free: make(chan []byte, u.concurrency+1), limit: u.concurrency + 1, newBuf: newBuf}
	var carry carryByte

	buf := pool.get(ctx, partSize(u.initial, 1))
	if buf == nil {
		return 0, "", ctx.Err()
	}
	n, err := fill(r, buf, &carry)
	if err != nil {
		return 0, "", err // r's error, as it is; nothing was started
	}
	if carry.eof && !carry.has {
		etag, err := u.target.put(ctx, buf[:n])
		if err != nil {
			return 0, "", err
		}
		return int64(n), etag, nil
	}
	if err := u.target.create(ctx); err != nil {
		return 0, "", err
	}
	size, etag, err := u.parts(ctx, r, pool, buf, n, &carry)
	if err != nil {
		// The caller's context may be cancelled, and an abort sent on it
		// would never leave the process (aws-sdk-go-v2 issue 3341).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := u.target.abort(actx); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return 0, "", err
	}
	return size, etag, nil
}

// parts uploads the multipart upload's parts, the first of which (n bytes
// of buf) is already read, and completes it. Any error it returns means the
// upload must be aborted.
func (u *streamer) parts(ctx context.Context, r io.Reader, pool *bufferPool, buf []byte, n int, carry *carryByte) (int64, string, error) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu       sync.Mutex
		etags    []string
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel(err)
	}

	jobs := make(chan part)
	var wg sync.WaitGroup
	for range u.concurrency {
		wg.Go(func() {
			for p := range jobs {
				etag, err := u.target.uploadPart(wctx, p.n, p.buf[:p.len])
				if err != nil {
					fail(err)
				} else {
					mu.Lock()
					etags[p.n-1] = etag
					mu.Unlock()
				}
				pool.put(p.buf)
			}
		})
	}

	var size int64
	for num := 1; ; num++ {
		size += int64(n)
		mu.Lock()
		etags = append(etags, "")
		mu.Unlock()
		select {
		case jobs <- part{n: num, buf: buf, len: n}:
		case <-wctx.Done():
		}
		if wctx.Err() != nil || (carry.eof && !carry.has) {
			break
		}
		if num == MaxParts {
			fail(result.Errorf(result.ReasonStorageFailed,
				"upload %s: the object is larger than S3's %d parts allow (%d bytes so far): raise the part size",
				u.target.describe(), MaxParts, size))
			break
		}
		if buf = pool.get(wctx, partSize(u.initial, num+1)); buf == nil {
			break
		}
		var err error
		if n, err = fill(r, buf, carry); err != nil {
			fail(err) // r's error, as it is
			break
		}
	}
	close(jobs)
	wg.Wait()

	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return 0, "", firstErr
	}
	etag, err := u.target.complete(ctx, etags, size)
	if err != nil {
		return 0, "", err
	}
	return size, etag, nil
}

// carryByte holds the byte read past a full part to learn whether the
// reader had more, and whether the reader has reached its end.
type carryByte struct {
	b   [1]byte
	has bool
	// eof: the reader returned io.EOF; once the carried byte (if any) is
	// in a part, that part is the last.
	eof bool
}

// fill reads r into buf, after the carried byte if any, until buf is full
// or r returns io.EOF, and returns how many bytes it holds. When buf is full
// it reads one byte more, so that the last part is known to be the last
// (carry.eof) before it is uploaded, and an object of exactly one part is a
// single put. Only io.EOF itself ends the stream: any other error,
// io.ErrUnexpectedEOF and errors wrapping io.EOF included, is returned as it
// is, and the data read with it is dropped.
func fill(r io.Reader, buf []byte, carry *carryByte) (int, error) {
	n := 0
	if carry.has {
		buf[0] = carry.b[0]
		carry.has = false
		n = 1
	}
	for n < len(buf) && !carry.eof {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF { // the io.Reader contract: only io.EOF itself is the end
			carry.eof = true
		} else if err != nil {
			return n, err
		}
	}
	for !carry.eof {
		m, err := r.Read(carry.b[:])
		if err == io.EOF {
			carry.eof = true
		} else if err != nil {
			return n, err
		}
		if m > 0 {
			carry.has = true
			break
		}
	}
	return n, nil
}
