package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
)

// partBody is the data of one part, or of an object stored with a single
// put: in memory, or in a spool file from offset 0. It is valid only
// during the call it is passed to.
type partBody struct {
	mem  []byte   // the data, when in memory
	file *os.File // otherwise the spool file holding it
	size int64
}

// Size is the number of bytes.
func (b partBody) Size() int64 { return b.size }

// Reader returns a fresh reader over the data. It seeks, so the SDK can
// rewind it to retry a request.
func (b partBody) Reader() io.ReadSeeker {
	if b.file != nil {
		return io.NewSectionReader(b.file, 0, b.size)
	}
	return bytes.NewReader(b.mem)
}

// ContentMD5 is the Content-MD5 header for the data.
func (b partBody) ContentMD5() (string, error) { return b.digest(md5.New()) }

// ChecksumSHA256 is the x-amz-checksum-sha256 header for the data.
func (b partBody) ChecksumSHA256() (string, error) { return b.digest(sha256.New()) }

// digest is the base64 digest of the data with h. A spool file is read for
// it once more (from the page cache, usually), on the worker's goroutine,
// so parts are hashed in parallel.
func (b partBody) digest(h hash.Hash) (string, error) {
	if b.file == nil {
		h.Write(b.mem)
	} else if _, err := io.Copy(h, b.Reader()); err != nil {
		return "", result.Errorf(result.ReasonStorageFailed, "read a spooled part back: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// Bytes returns the data as one slice, reading a spool file into a new
// one: for the in-memory store and tests.
func (b partBody) Bytes() ([]byte, error) {
	if b.file == nil {
		return b.mem, nil
	}
	data := make([]byte, b.size)
	if _, err := b.file.ReadAt(data, 0); err != nil && b.size > 0 {
		return nil, result.Errorf(result.ReasonStorageFailed, "read a spooled part back: %w", err)
	}
	return data, nil
}

// memPool holds the part buffers of a store's uploads within budget bytes
// at once, all uploads together: buffers are reused from part to part and
// from object to object, so the heap neither grows with the object nor
// turns over a part buffer per object, and concurrent uploads share the
// budget instead of multiplying it.
type memPool struct {
	budget int64
	// newBuf allocates a part buffer; tests count the calls.
	newBuf func(size int64) []byte

	mu   sync.Mutex
	used int64    // bytes of the buffers out and free, as allocated
	free [][]byte // buffers back from uploads
	// back is closed, and replaced, whenever a buffer comes back.
	back chan struct{}
}

func newMemPool(budget int64) *memPool {
	return &memPool{budget: budget, back: make(chan struct{})}
}

// fits reports whether parts of size bytes are held in memory: only when
// the budget has room for minMemoryParts of them, one filling while the
// others upload. Larger parts go to the spool volume.
func (p *memPool) fits(size int64) bool { return memoryParts(p.budget, size) >= minMemoryParts }

// get returns a buffer of size bytes, waiting for one to come back while
// the budget is spent, or nil when ctx is done first. Free buffers too
// small for size (the part size grew) are dropped for the collector when
// their room is needed.
func (p *memPool) get(ctx context.Context, size int64) []byte {
	for {
		p.mu.Lock()
		for i, b := range p.free {
			if int64(cap(b)) >= size {
				p.free = append(p.free[:i], p.free[i+1:]...)
				p.mu.Unlock()
				return b[:size]
			}
		}
		for p.used+size > p.budget && len(p.free) > 0 {
			last := len(p.free) - 1
			p.used -= int64(cap(p.free[last]))
			p.free[last] = nil
			p.free = p.free[:last]
		}
		if p.used+size <= p.budget {
			p.used += size
			p.mu.Unlock()
			if p.newBuf != nil {
				return p.newBuf(size)
			}
			return make([]byte, size)
		}
		back := p.back
		p.mu.Unlock()
		select {
		case <-back:
		case <-ctx.Done():
			return nil
		}
	}
}

// put returns a buffer from get.
func (p *memPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	close(p.back)
	p.back = make(chan struct{})
	p.mu.Unlock()
}

// spoolFiles are the scratch files of one upload's spooled parts: at most
// limit of them (the parts in flight and the one filling), created on the
// spool volume as needed, reused from part to part and closed (which frees
// their space: they have no name) when the upload ends.
type spoolFiles struct {
	dir   string
	limit int
	// freeSpace reports the bytes available under dir; tests replace it.
	freeSpace func(dir string) (int64, error)

	free chan *os.File
	all  []*os.File // only the filling goroutine touches it
}

func newSpoolFiles(dir string, limit int) *spoolFiles {
	return &spoolFiles{dir: dir, limit: limit, freeSpace: spool.Free, free: make(chan *os.File, limit)}
}

// get returns a file for a part of size bytes: a free one, a new one if
// fewer than limit exist and the volume has room for the part, or the next
// one to come back. It fails when the volume cannot hold even two parts,
// one uploading while the next one is written: the run then says what to
// do rather than filling the volume.
func (s *spoolFiles) get(ctx context.Context, size int64) (*os.File, error) {
	select {
	case f := <-s.free:
		return f, nil
	default:
	}
	if len(s.all) < s.limit {
		free, err := s.freeSpace(s.dir)
		if err != nil {
			return nil, result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
		}
		switch {
		case free >= size:
			f, err := spool.TempFile(s.dir, "pgbackup-part-*")
			if err != nil {
				return nil, err
			}
			s.all = append(s.all, f)
			return f, nil
		case len(s.all) < 2:
			return nil, result.Errorf(result.ReasonStorageFailed,
				"spool directory %s has %d bytes free but upload parts of %d bytes, too large to hold in memory, are written there first (two at least): give the spool volume more space",
				s.dir, free, size)
		}
	}
	select {
	case f := <-s.free:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *spoolFiles) put(f *os.File) { s.free <- f }

// close closes every file; the caller has all of them back.
func (s *spoolFiles) close() {
	for _, f := range s.all {
		_ = f.Close()
	}
}

// fillFile writes the next part, up to size bytes, from r into f at offset
// 0, through buf, with fill's rules for the carried byte and for errors.
// Errors writing f are StorageFailed.
func fillFile(r io.Reader, f *os.File, size int64, buf []byte, carry *carryByte) (int64, error) {
	var n int64
	for n < size && (!carry.eof || carry.has) {
		chunk := buf[:min(int64(len(buf)), size-n)]
		m, err := fill(r, chunk, carry)
		if m > 0 {
			if _, werr := f.WriteAt(chunk[:m], n); werr != nil {
				return n, result.Errorf(result.ReasonStorageFailed, "spool an upload part: %w", werr)
			}
			n += int64(m)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// spoolCopyBuffer is the size of the buffer parts are written to the spool
// volume through.
const spoolCopyBuffer = 1 << 20

// String describes the body in test failures.
func (b partBody) String() string {
	if b.file != nil {
		return fmt.Sprintf("%d bytes in %s", b.size, b.file.Name())
	}
	return fmt.Sprintf("%d bytes in memory", b.size)
}
