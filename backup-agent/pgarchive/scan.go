package pgarchive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Archive format constants (pg_backup_archiver.h).
const (
	formatCustom = 1

	blockData = 1 // BLK_DATA: one table's data, in chunks
	blockLOs  = 3 // BLK_BLOBS: large objects, each in chunks

	offsetNotSet = 1 // K_OFFSET_POS_NOT_SET: has data, position unknown
	offsetSet    = 2 // K_OFFSET_POS_SET
	offsetNoData = 3 // K_OFFSET_NO_DATA

	minVersion = 1<<16 | 12<<8 // 1.12, PostgreSQL 9.0
	maxVersion = 1<<16 | 16<<8 // 1.16, PostgreSQL 17 and 18
)

// maxEntry bounds the bytes the Scanner holds while it parses the header
// or one table of contents entry: entries are parsed one at a time, so
// its memory is the largest entry, not the whole table. An archive with a
// larger entry (a huge function body) is left unpatched.
const maxEntry = 16 << 20

// ErrWrite is wrapped by Patch's errors when writing into the file failed,
// which may leave the archive part patched: every offset written is right,
// but the file itself can no longer be trusted.
var ErrWrite = errors.New("pgarchive: write")

// errShort means the bytes so far end inside the header or a table of
// contents entry.
var errShort = errors.New("pgarchive: more bytes needed")

// Scanner is an io.Writer that follows a custom-format archive as it is
// written and records where each data block starts. Its Write never fails,
// so it can sit beside the real destination in an io.MultiWriter; a
// stream it cannot follow only means Patch has nothing to do.
type Scanner struct {
	pos   int64  // bytes seen
	buf   []byte // bytes of the header or TOC not parsed yet
	bufAt int64  // stream position of buf[0]
	toc   *toc   // once the header is parsed
	left  int64  // TOC entries still to parse
	err   error  // why the stream cannot be followed, once known

	// The data section, a state machine fed by Write once the table of
	// contents is parsed.
	inData bool
	state  state
	acc    []byte // a partial integer or block header
	skip   int64  // chunk bytes left to pass over
	inLOs  bool   // inside a large objects block
	blocks []block
}

type state int

const (
	stBlockType state = iota
	stBlockID
	stChunkLen
	stSkip
	stLOOID
)

type block struct {
	id  int64
	pos int64 // of its type byte, as pg_dump records it
}

// Write implements io.Writer and never returns an error.
func (s *Scanner) Write(p []byte) (int, error) {
	n := len(p)
	if s.err != nil {
		return n, nil
	}
	if s.inData {
		s.feed(p, s.pos)
		s.pos += int64(n)
		return n, nil
	}
	s.buf = append(s.buf, p...)
	s.pos += int64(n)
	s.err = s.parseHead()
	switch {
	case s.err != nil:
		s.buf = nil
	case s.inData:
		rest := s.buf
		s.buf = nil
		s.feed(rest, s.pos-int64(len(rest)))
	case len(s.buf) > maxEntry:
		s.err, s.buf = fmt.Errorf("a table of contents entry larger than %d bytes", maxEntry), nil
	}
	return n, nil
}

// parseHead parses what it can of the header and the table of contents
// in s.buf and drops what it parsed; it returns nil when it needs more
// bytes, and sets s.inData after the last entry.
func (s *Scanner) parseHead() error {
	if s.toc == nil {
		t, count, used, err := parseHeader(s.buf)
		if errors.Is(err, errShort) {
			return nil
		}
		if err != nil {
			return err
		}
		s.toc, s.left = t, count
		s.consume(used)
	}
	for s.left > 0 {
		r := &reader{b: s.buf, intLen: s.toc.intLen}
		e, err := s.toc.parseEntry(r)
		if errors.Is(err, errShort) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, dup := s.toc.byID[e.id]; dup {
			return fmt.Errorf("dump ID %d listed twice", e.id)
		}
		e.field += s.bufAt
		s.toc.byID[e.id] = e
		s.consume(r.pos)
		s.left--
	}
	s.inData = true
	return nil
}

// consume drops the first n bytes of s.buf.
func (s *Scanner) consume(n int) {
	s.buf, s.bufAt = s.buf[n:], s.bufAt+int64(n)
}

// feed runs the data section's state machine over p, which starts at
// stream position at.
func (s *Scanner) feed(p []byte, at int64) {
	for len(p) > 0 && s.err == nil {
		if s.state == stSkip {
			k := min(int64(len(p)), s.skip)
			p, at, s.skip = p[k:], at+k, s.skip-k
			if s.skip == 0 {
				s.state = stChunkLen
			}
			continue
		}
		need := s.toc.intLen
		if s.state == stBlockType {
			need = 1
		}
		k := min(need-len(s.acc), len(p))
		s.acc = append(s.acc, p[:k]...)
		p, at = p[k:], at+int64(k)
		if len(s.acc) < need {
			return
		}
		s.step(at)
		s.acc = s.acc[:0]
	}
}

// step acts on the complete field in s.acc, which ended at stream
// position end.
func (s *Scanner) step(end int64) {
	if s.state == stBlockType {
		switch s.acc[0] {
		case blockData, blockLOs:
			s.inLOs = s.acc[0] == blockLOs
			s.blocks = append(s.blocks, block{pos: end - 1})
			s.state = stBlockID
		default:
			s.err = fmt.Errorf("unknown data block type %d at byte %d", s.acc[0], end-1)
		}
		return
	}
	v, err := s.toc.int(s.acc)
	if err != nil {
		s.err = err
		return
	}
	switch s.state {
	case stBlockID:
		s.blocks[len(s.blocks)-1].id = v
		s.state = stChunkLen
		if s.inLOs {
			s.state = stLOOID
		}
	case stLOOID:
		s.state = stChunkLen
		if v == 0 { // the end of the block's large objects
			s.inLOs, s.state = false, stBlockType
		}
	case stChunkLen:
		switch {
		case v < 0:
			s.err = fmt.Errorf("negative chunk length at byte %d", end)
		case v > 0:
			s.skip, s.state = v, stSkip
		case s.inLOs: // the end of one large object
			s.state = stLOOID
		default: // the end of the table's data
			s.state = stBlockType
		}
	}
}

// Blocks reports how many data blocks the Scanner has seen, for logs.
func (s *Scanner) Blocks() int { return len(s.blocks) }

// Patch writes the recorded data offsets into the table of contents of
// the archive in f, which holds exactly the bytes written to the Scanner.
// It returns how many entries it filled in. It writes nothing, and
// returns an error saying why, when the stream could not be followed to
// its end or what it recorded does not match the table of contents;
// the archive is then as pg_dump wrote it, and still valid. A failed
// write returns an error wrapping ErrWrite.
func (s *Scanner) Patch(f io.WriterAt) (int, error) {
	switch {
	case s.err != nil:
		return 0, s.err
	case !s.inData:
		return 0, errors.New("the archive ends inside its header or table of contents")
	case s.state != stBlockType || len(s.acc) != 0:
		return 0, errors.New("the archive ends inside a data block")
	}
	var patches []entry
	seen := map[int64]bool{}
	for _, b := range s.blocks {
		e, ok := s.toc.byID[b.id]
		if !ok || seen[b.id] {
			return 0, fmt.Errorf("data block at byte %d has dump ID %d, which the table of contents does not list once", b.pos, b.id)
		}
		seen[b.id] = true
		switch {
		case e.flag == offsetSet && e.offset == b.pos:
		case e.flag == offsetNotSet:
			e.offset = b.pos
			patches = append(patches, e)
		default:
			return 0, fmt.Errorf("data block of dump ID %d at byte %d, but its entry says flag %d offset %d", b.id, b.pos, e.flag, e.offset)
		}
	}
	field := make([]byte, 1+s.toc.offLen)
	for _, e := range patches {
		field[0] = offsetSet
		clear(field[1:])
		binary.LittleEndian.PutUint64(field[1:9], uint64(e.offset)) // offLen >= 8
		if _, err := f.WriteAt(field, e.field); err != nil {
			return 0, fmt.Errorf("%w: the offset of dump ID %d: %w", ErrWrite, e.id, err)
		}
	}
	return len(patches), nil
}
