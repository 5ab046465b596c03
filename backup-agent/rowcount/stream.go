package rowcount

import "fmt"

// stream turns bytes pushed in pieces of any size into the reads a
// parser asks for, one at a time, in continuation-passing style: a parser
// asks for a fixed-size item or a run of bytes and names the method to
// call when it is complete. Nothing bigger than a fixed item (at most 16
// bytes) or a kept string (at most keepMax bytes) is ever buffered.
type stream struct {
	err error

	// A fixed-size read in progress (len(fixed) > 0).
	buf   [16]byte
	fixed []byte
	have  int

	// A run of bytes in progress (left > 0), passed to sink and, when
	// keep is set, kept up to keepMax bytes.
	left int64
	sink func([]byte)
	keep bool
	kept []byte

	// last is the fixed-size item just completed, for then to read.
	last []byte

	then func() error
}

// keepMax bounds a kept string. Names are at most 63 bytes; longer
// strings are cut, which is harmless for what the parsers compare.
const keepMax = 1024

// readFixed asks for n (1..16) bytes, available in s.last when then runs.
func (s *stream) readFixed(n int, then func() error) {
	s.fixed, s.have, s.then = s.buf[:n], 0, then
}

// readBytes asks for n bytes, passed to sink (which may be nil) and kept
// when keep is set; then runs after the last one, at once when n is 0.
func (s *stream) readBytes(n int64, sink func([]byte), keep bool, then func() error) error {
	s.sink, s.keep, s.kept = sink, keep, s.kept[:0]
	if n == 0 {
		return then()
	}
	s.fixed, s.left, s.then = nil, n, then
	return nil
}

// write feeds p to the pending reads. After an error it does nothing.
func (s *stream) write(p []byte) {
	for s.err == nil && len(p) > 0 {
		switch {
		case s.fixed != nil:
			n := copy(s.fixed[s.have:], p)
			s.have += n
			p = p[n:]
			if s.have < len(s.fixed) {
				return
			}
			s.complete()
		case s.left > 0:
			n := int64(len(p))
			if n > s.left {
				n = s.left
			}
			chunk := p[:n]
			p = p[n:]
			s.left -= n
			if s.sink != nil {
				s.sink(chunk)
			}
			if s.keep && len(s.kept) < keepMax {
				s.kept = append(s.kept, chunk[:min(len(chunk), keepMax-len(s.kept))]...)
			}
			if s.left == 0 {
				s.complete()
			}
		default:
			s.err = fmt.Errorf("%w: %d bytes after the end", ErrMalformed, len(p))
		}
	}
}

func (s *stream) complete() {
	then := s.then
	if s.fixed != nil {
		s.last = s.fixed
	}
	s.fixed, s.then = nil, nil
	if err := then(); err != nil && s.err == nil {
		s.err = err
	}
}

// idle reports whether the stream waits at the start of a read issued
// by then's owner, with nothing of it received yet.
func (s *stream) idle() bool {
	return s.err == nil && s.fixed != nil && s.have == 0
}

// decodeInt decodes pg_dump's integer: a sign byte, then the magnitude in
// len(b)-1 bytes, least significant first.
func decodeInt(b []byte) (int64, error) {
	var v uint64
	for i := len(b) - 1; i >= 1; i-- {
		v = v<<8 | uint64(b[i])
	}
	if v > 1<<62 {
		return 0, fmt.Errorf("%w: integer out of range", ErrMalformed)
	}
	if b[0] != 0 {
		return -int64(v), nil
	}
	return int64(v), nil
}
