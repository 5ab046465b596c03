package pgarchive

import (
	"bytes"
	"fmt"
)

// toc is what the Scanner needs of an archive's header and table of
// contents.
type toc struct {
	version int
	intLen  int // bytes of an integer: a sign byte and intSize bytes
	offLen  int // offSize
	byID    map[int64]entry
}

// entry is one table of contents entry's data offset field.
type entry struct {
	id     int64
	field  int64 // stream position of the offset's flag byte
	flag   byte
	offset int64
}

// reader reads the archive's primitive fields from a byte slice; reading
// past its end gives errShort.
type reader struct {
	b      []byte
	pos    int
	intLen int
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.pos < n {
		return nil, errShort
	}
	v := r.b[r.pos : r.pos+n]
	r.pos += n
	return v, nil
}

func (r *reader) byte() (byte, error) {
	v, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// int reads pg_dump's integer: a sign byte, then intSize bytes, least
// significant first (WriteInt).
func (r *reader) int() (int64, error) {
	v, err := r.bytes(r.intLen)
	if err != nil {
		return 0, err
	}
	return decodeInt(v)
}

// skipStr passes over a string: a length and that many bytes. It
// returns false for a NULL string (length -1).
func (r *reader) skipStr() (bool, error) {
	n, err := r.int()
	if err != nil {
		return false, err
	}
	if n < 0 {
		return false, nil
	}
	if n > int64(len(r.b)) {
		return false, errShort
	}
	_, err = r.bytes(int(n))
	return true, err
}

func decodeInt(v []byte) (int64, error) {
	var u uint64
	for i, c := range v[1:] {
		if i >= 8 {
			if c != 0 {
				return 0, fmt.Errorf("integer out of range")
			}
			continue
		}
		u |= uint64(c) << (8 * i)
	}
	if u > 1<<62 {
		return 0, fmt.Errorf("integer out of range")
	}
	if v[0] != 0 {
		return -int64(u), nil
	}
	return int64(u), nil
}

func (t *toc) int(v []byte) (int64, error) { return decodeInt(v) }

// parseHeader parses the archive's header at the start of b (ReadHead of
// pg_backup_archiver.c, and the entry count that begins ReadToc) and
// returns it, the number of table of contents entries and the header's
// length in bytes: errShort when b ends inside it.
func parseHeader(b []byte) (*toc, int64, int, error) {
	r := &reader{b: b}
	magic, err := r.bytes(5)
	if err != nil {
		return nil, 0, 0, err
	}
	if !bytes.Equal(magic, []byte("PGDMP")) {
		return nil, 0, 0, fmt.Errorf("not a pg_dump archive")
	}
	v, err := r.bytes(6) // major, minor, revision, intSize, offSize, format
	if err != nil {
		return nil, 0, 0, err
	}
	t := &toc{version: int(v[0])<<16 | int(v[1])<<8 | int(v[2]), intLen: 1 + int(v[3]), offLen: int(v[4]), byID: map[int64]entry{}}
	switch {
	case t.version < minVersion || t.version > maxVersion:
		return nil, 0, 0, fmt.Errorf("archive version %d.%d.%d: this agent fills in offsets of versions 1.12 to 1.16", v[0], v[1], v[2])
	case v[5] != formatCustom:
		return nil, 0, 0, fmt.Errorf("archive format %d is not custom", v[5])
	case v[3] < 4 || v[3] > 16 || v[4] < 8 || v[4] > 16:
		return nil, 0, 0, fmt.Errorf("integer size %d or offset size %d out of range", v[3], v[4])
	}
	r.intLen = t.intLen
	if t.version >= 1<<16|15<<8 {
		_, err = r.byte() // compression algorithm
	} else {
		_, err = r.int() // compression level
	}
	if err != nil {
		return nil, 0, 0, err
	}
	for range 7 { // the creation time
		if _, err := r.int(); err != nil {
			return nil, 0, 0, err
		}
	}
	for range 3 { // database name, server and pg_dump versions
		if _, err := r.skipStr(); err != nil {
			return nil, 0, 0, err
		}
	}
	count, err := r.int()
	if err != nil {
		return nil, 0, 0, err
	}
	if count < 0 {
		return nil, 0, 0, fmt.Errorf("negative entry count %d", count)
	}
	return t, count, r.pos, nil
}

// parseEntry reads one table of contents entry (ReadToc, then the custom
// format's _ReadExtraToc) and keeps its dump ID and data offset.
func (t *toc) parseEntry(r *reader) (entry, error) {
	var e entry
	var err error
	if e.id, err = r.int(); err != nil {
		return e, err
	}
	if e.id <= 0 {
		return e, fmt.Errorf("dump ID %d out of range", e.id)
	}
	if _, err = r.int(); err != nil { // hadDumper
		return e, err
	}
	// tableoid, oid, tag, desc
	if err := skipStrs(r, 4); err != nil {
		return e, err
	}
	if _, err = r.int(); err != nil { // section
		return e, err
	}
	// defn, dropStmt, copyStmt, namespace, tablespace, and from 1.14 tableam
	n := 5
	if t.version >= 1<<16|14<<8 {
		n++
	}
	if err := skipStrs(r, n); err != nil {
		return e, err
	}
	if t.version >= 1<<16|16<<8 {
		if _, err = r.int(); err != nil { // relkind
			return e, err
		}
	}
	if err := skipStrs(r, 2); err != nil { // owner, "false" (WITH OIDS)
		return e, err
	}
	for { // dependencies, until NULL
		ok, err := r.skipStr()
		if err != nil {
			return e, err
		}
		if !ok {
			break
		}
	}
	e.field = int64(r.pos)
	if e.flag, err = r.byte(); err != nil {
		return e, err
	}
	off, err := r.bytes(t.offLen)
	if err != nil {
		return e, err
	}
	for i, c := range off {
		if i < 8 {
			e.offset |= int64(c) << (8 * i)
		} else if c != 0 {
			return e, fmt.Errorf("offset of dump ID %d out of range", e.id)
		}
	}
	if e.flag != offsetNotSet && e.flag != offsetSet && e.flag != offsetNoData {
		return e, fmt.Errorf("dump ID %d: unknown offset flag %d", e.id, e.flag)
	}
	return e, nil
}

func skipStrs(r *reader, n int) error {
	for range n {
		if _, err := r.skipStr(); err != nil {
			return err
		}
	}
	return nil
}
