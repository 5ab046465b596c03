package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// uploadTarget is the store's side of one streaming upload. The streamer
// calls either put once, or create, then uploadPart (concurrently), then
// exactly one of complete or abort.
type uploadTarget interface {
	// put stores the whole object in one request: it fit in one part.
	put(ctx context.Context, body partBody) (etag string, err error)
	// create starts a multipart upload.
	create(ctx context.Context) error
	// uploadPart uploads part n (1-based); body is only valid during the
	// call.
	uploadPart(ctx context.Context, n int, body partBody) (etag string, err error)
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
// The reader is read on the caller's goroutine into parts; concurrency
// goroutines upload the filled ones. A part is held in memory when the
// store's memory budget (pool, shared by all its uploads) has room for
// minMemoryParts parts of its size, and the part waits for room in the
// budget; a larger part is written to a scratch file on the spool volume
// (spoolDir), of which the upload uses at most concurrency+1. So the memory
// an upload holds is bounded by the budget whatever the object's size and
// the part size it grows to; nothing else grows with the object but the
// list of part ETags (at most MaxParts strings).
type streamer struct {
	target      uploadTarget
	initial     int64 // size of the first part, see partSize
	concurrency int
	// pool is the memory budget of part buffers; nil means a pool of
	// DefaultPartMemory for this upload alone.
	pool *memPool
	// spoolDir is where parts too large for memory go; "" is the
	// system's temporary directory.
	spoolDir string
	// freeSpace replaces spool.Free in tests.
	freeSpace func(dir string) (int64, error)

	spool   *spoolFiles // created with the first spooled part
	copyBuf []byte      // buffer spooled parts are written through
}

// part is a filled part on its way to a worker.
type part struct {
	n    int
	mem  []byte   // the whole memory buffer, returned to the pool, or
	file *os.File // the spool file, returned to the upload's files
	len  int64    // how much of it is data
}

func (p part) body() partBody {
	if p.file != nil {
		return partBody{file: p.file, size: p.len}
	}
	return partBody{mem: p.mem[:p.len], size: p.len}
}

// release returns the part's buffer or file for the next part.
func (u *streamer) release(p part) {
	if p.file != nil {
		u.spool.put(p.file)
	} else if p.mem != nil {
		u.pool.put(p.mem)
	}
}

// next reads part n from r into a memory buffer or a spool file, as its
// size allows. It returns ctx's error when ctx ended while the part waited
// for room, and r's error as it is.
func (u *streamer) next(ctx context.Context, r io.Reader, n int, carry *carryByte) (p part, err error) {
	size := partSize(u.initial, n)
	p.n = n
	if u.pool.fits(size) {
		if p.mem = u.pool.get(ctx, size); p.mem == nil {
			return part{}, ctx.Err()
		}
		m, err := fill(r, p.mem, carry)
		p.len = int64(m)
		if err != nil {
			u.release(p)
			return part{}, err
		}
		return p, nil
	}
	if u.spool == nil {
		u.spool = newSpoolFiles(u.spoolDir, spoolFileLimit(u.concurrency))
		if u.freeSpace != nil {
			u.spool.freeSpace = u.freeSpace
		}
		u.copyBuf = make([]byte, spoolCopyBuffer)
	}
	if p.file, err = u.spool.get(ctx, size); err != nil {
		return part{}, err
	}
	if p.len, err = fillFile(r, p.file, size, u.copyBuf, carry); err != nil {
		u.release(p)
		return part{}, err
	}
	return p, nil
}

// upload streams r to the target and returns the object's size and ETag.
func (u *streamer) upload(ctx context.Context, r io.Reader) (int64, string, error) {
	u.concurrency = max(1, u.concurrency)
	if u.pool == nil {
		u.pool = newMemPool(DefaultPartMemory)
	}
	defer func() {
		if u.spool != nil {
			u.spool.close()
		}
	}()
	var carry carryByte

	first, err := u.next(ctx, r, 1, &carry)
	if err != nil {
		return 0, "", err // r's error as it is, or the spool's; nothing was started
	}
	if carry.eof && !carry.has {
		defer u.release(first)
		etag, err := u.target.put(ctx, first.body())
		if err != nil {
			return 0, "", err
		}
		return first.len, etag, nil
	}
	if err := u.target.create(ctx); err != nil {
		u.release(first)
		return 0, "", err
	}
	size, etag, err := u.parts(ctx, r, first, &carry)
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

// parts uploads the multipart upload's parts, the first of which is
// already read, and completes it. Any error it returns means the upload
// must be aborted.
func (u *streamer) parts(ctx context.Context, r io.Reader, p part, carry *carryByte) (int64, string, error) {
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
				etag, err := u.target.uploadPart(wctx, p.n, p.body())
				if err != nil {
					fail(err)
				} else {
					mu.Lock()
					etags[p.n-1] = etag
					mu.Unlock()
				}
				u.release(p)
			}
		})
	}

	var size int64
	for num := 1; ; num++ {
		size += p.len
		mu.Lock()
		etags = append(etags, "")
		mu.Unlock()
		select {
		case jobs <- p:
		case <-wctx.Done():
			u.release(p)
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
		var err error
		if p, err = u.next(wctx, r, num+1, carry); err != nil {
			if wctx.Err() == nil {
				fail(err) // r's error as it is, or the spool's
			}
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
