package readahead

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("readahead: read after close")

// Reader reads from its source on a goroutine of its own, up to count
// buffers of size bytes ahead of the consumer. It is an io.ReadCloser and
// an io.WriterTo; one goroutine at a time may use it. Close must be called
// once the consumer is done, also after an error.
type Reader struct {
	full chan *chunk   // buffers read, in stream order
	free chan *chunk   // buffers to read into
	done chan struct{} // closed by Close
	wg   sync.WaitGroup
	cur  *chunk // the buffer being consumed
	once sync.Once
}

type chunk struct {
	b   []byte
	off int // consumed up to here
	n   int // filled up to here
	err error
}

// New starts reading src ahead into count buffers of size bytes (both at
// least 1).
func New(src io.Reader, size, count int) *Reader {
	size, count = max(size, 1), max(count, 1)
	r := &Reader{
		full: make(chan *chunk, count),
		free: make(chan *chunk, count),
		done: make(chan struct{}),
	}
	for range count {
		r.free <- &chunk{b: make([]byte, size)}
	}
	r.wg.Add(1)
	go r.fill(src)
	return r
}

// fill reads src into free buffers and hands them over in order, the last
// one with the error that ended src (io.EOF when it ended well).
func (r *Reader) fill(src io.Reader) {
	defer r.wg.Done()
	for {
		var c *chunk
		select {
		case c = <-r.free:
		case <-r.done:
			return
		}
		c.off, c.n, c.err = 0, 0, nil
		for c.n < len(c.b) && c.err == nil {
			var n int
			n, c.err = src.Read(c.b[c.n:])
			c.n += n
		}
		select {
		case r.full <- c:
		case <-r.done:
			return
		}
		if c.err != nil {
			return
		}
	}
}

// next makes r.cur a buffer with unread bytes, or returns the error that
// ended the stream once every byte before it was read.
func (r *Reader) next() error {
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	for r.cur == nil || r.cur.off == r.cur.n {
		if r.cur != nil {
			if r.cur.err != nil {
				return r.cur.err
			}
			r.free <- r.cur // never blocks: there are count places
			r.cur = nil
		}
		select {
		case r.cur = <-r.full:
		case <-r.done:
			return ErrClosed
		}
	}
	return nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.next(); err != nil {
		return 0, err
	}
	n := copy(p, r.cur.b[r.cur.off:r.cur.n])
	r.cur.off += n
	return n, nil
}

// WriteTo writes the rest of the stream to w, a buffer at a time, without
// copying it. It returns nil when the source ended with io.EOF.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.next(); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return total, err
		}
		n, err := w.Write(r.cur.b[r.cur.off:r.cur.n])
		r.cur.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// Close stops reading ahead and waits until the goroutine has left the
// source: after Close the caller may close the source. A goroutine inside
// a Read of its source leaves once that Read returns, so a source that can
// block for ever (a network stream) must be made to return, by its
// context or by closing it, for Close to return. Close always returns nil.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
	return nil
}
