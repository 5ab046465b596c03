package rowcount

import (
	"bytes"
	"fmt"
)

// Archive format bytes in the header, as pg_dump writes them for the
// custom format and for a directory's toc.dat.
const (
	formatCustom    = 1
	formatDirectory = 3
)

// Archive versions whose header and TOC layout the parser knows.
const (
	minVersion = 1<<16 | 12<<8 // pg_dump 9.0
	maxVersion = 1<<16 | 16<<8 | 0xff
	vers1_14   = 1<<16 | 14<<8 // table access method
	vers1_15   = 1<<16 | 15<<8 // compression algorithm byte
	vers1_16   = 1<<16 | 16<<8 // relkind
)

// Offset flag of a custom archive entry that has no data block.
const offsetNoData = 3

// tableData is a TABLE DATA entry of an archive's table of contents.
type tableData struct {
	dumpID   int64
	schema   string
	name     string
	hasData  bool   // a data block or file is to be expected
	filename string // directory format
	rows     rowCounter
	seen     bool // its data block was read (custom format)
}

// opKind is what one field of the header or of a TOC entry is.
type opKind uint8

const (
	opInt    opKind = iota
	opStr           // a string, discarded
	opKeep          // a string, kept
	opDeps          // strings until a NULL one
	opOffset        // a flag byte and offSize bytes
)

// op is one field, with where its value goes (nil: nowhere).
type op struct {
	kind opKind
	set  func(t *toc, n int64, s string) error
}

// toc parses an archive header and table of contents from a stream, then
// calls done. It keeps only the TABLE DATA entries.
type toc struct {
	s       *stream
	format  byte
	version int
	intSize int
	offSize int

	prog []op
	pc   int
	strN int64 // length of the string being read

	count     int64 // entries still to read
	inEntries bool
	complete  bool // the whole TOC was read
	entry     tocEntry
	entries   []*tableData
	byID      map[int64]*tableData
	done      func() error

	onFixedFn, onStrFn func() error
}

// tocEntry holds the fields of the entry being read that matter here.
type tocEntry struct {
	dumpID    int64
	hadDumper bool
	tag, desc string
	namespace string
	copyStmt  string
	offsetFlg byte
	filename  string
}

func newTOC(s *stream, format byte, done func() error) *toc {
	t := &toc{s: s, format: format, byID: map[int64]*tableData{}, done: done}
	t.onFixedFn, t.onStrFn = t.onFixed, t.onStr
	s.readFixed(11, t.onHeader)
	return t
}

// onHeader checks "PGDMP", the version, int and offset sizes and format.
func (t *toc) onHeader() error {
	h := t.s.last
	if !bytes.Equal(h[:5], []byte("PGDMP")) {
		return fmt.Errorf("%w: no PGDMP archive header", ErrMalformed)
	}
	t.version = int(h[5])<<16 | int(h[6])<<8 | int(h[7])
	if t.version < minVersion || t.version > maxVersion {
		return fmt.Errorf("%w: archive version %d.%d.%d (known: 1.12 to 1.16)", ErrUnsupported, h[5], h[6], h[7])
	}
	t.intSize, t.offSize = int(h[8]), int(h[9])
	if t.intSize < 1 || t.intSize > 8 || t.offSize < 1 || t.offSize > 8 {
		return fmt.Errorf("%w: integer size %d, offset size %d", ErrMalformed, t.intSize, t.offSize)
	}
	if h[10] != t.format {
		return fmt.Errorf("%w: archive format %d, expected %d", ErrMalformed, h[10], t.format)
	}
	var prog []op
	if t.version >= vers1_15 {
		t.s.readFixed(1, t.onAlgorithm)
	} else {
		prog = append(prog, op{opInt, func(_ *toc, level int64, _ string) error {
			if level != 0 {
				return fmt.Errorf("%w: compression level %d (the agent runs pg_dump -Z0)", ErrCompressed, level)
			}
			return nil
		}})
	}
	for range 7 { // creation time
		prog = append(prog, op{opInt, nil})
	}
	prog = append(prog, op{opStr, nil}, op{opStr, nil}, op{opStr, nil}, // dbname, server and pg_dump versions
		op{opInt, (*toc).setCount})
	t.prog, t.pc = prog, 0
	if t.version >= vers1_15 {
		return nil // onAlgorithm starts the program
	}
	return t.run()
}

func (t *toc) onAlgorithm() error {
	a := t.s.last[0]
	if a > 3 { // none, gzip, lz4, zstd
		return fmt.Errorf("%w: unknown compression algorithm %d", ErrMalformed, a)
	}
	if a != 0 {
		return fmt.Errorf("%w: compression algorithm %d (the agent runs pg_dump -Z0)", ErrCompressed, a)
	}
	return t.run()
}

func (t *toc) setCount(n int64, _ string) error {
	if n < 0 {
		return fmt.Errorf("%w: %d TOC entries", ErrMalformed, n)
	}
	t.count = n
	return nil
}

// nextEntry starts the next TOC entry, or ends the TOC.
func (t *toc) nextEntry() error {
	if t.count == 0 {
		t.complete = true
		return t.done()
	}
	t.count--
	t.entry, t.pc = tocEntry{}, 0
	return t.run()
}

// entryProgram is the layout of one TOC entry for this archive version.
func (t *toc) entryProgram() []op {
	prog := []op{
		{opInt, func(t *toc, n int64, _ string) error { t.entry.dumpID = n; return nil }},
		{opInt, func(t *toc, n int64, _ string) error { t.entry.hadDumper = n != 0; return nil }},
		{opStr, nil}, // tableoid
		{opStr, nil}, // oid
		{opKeep, func(t *toc, _ int64, s string) error { t.entry.tag = s; return nil }},
		{opKeep, func(t *toc, _ int64, s string) error { t.entry.desc = s; return nil }},
		{opInt, nil}, // section
		{opStr, nil}, // defn
		{opStr, nil}, // dropStmt
		{opKeep, func(t *toc, _ int64, s string) error { t.entry.copyStmt = s; return nil }},
		{opKeep, func(t *toc, _ int64, s string) error { t.entry.namespace = s; return nil }},
		{opStr, nil}, // tablespace
	}
	if t.version >= vers1_14 {
		prog = append(prog, op{opStr, nil}) // table access method
	}
	if t.version >= vers1_16 {
		prog = append(prog, op{opInt, nil}) // relkind
	}
	prog = append(prog, op{opStr, nil}, op{opStr, nil}, op{opDeps, nil}) // owner, "false" (with oids), dependencies
	if t.format == formatCustom {
		prog = append(prog, op{opOffset, nil})
	} else {
		prog = append(prog, op{opKeep, func(t *toc, _ int64, s string) error { t.entry.filename = s; return nil }})
	}
	return prog
}

// run issues the read for the current field or, at the end of the
// header, starts the entries and, at the end of an entry, keeps it.
func (t *toc) run() error {
	if t.pc == len(t.prog) {
		if !t.inEntries {
			t.inEntries = true
			t.prog = t.entryProgram()
			return t.nextEntry()
		}
		return t.endEntry()
	}
	if t.prog[t.pc].kind == opOffset {
		t.s.readFixed(1+t.offSize, t.onFixedFn)
	} else { // every other field starts with an int
		t.s.readFixed(1+t.intSize, t.onFixedFn)
	}
	return nil
}

func (t *toc) onFixed() error {
	o := t.prog[t.pc]
	if o.kind == opOffset {
		t.entry.offsetFlg = t.s.last[0]
		return t.advance(o, 0, "")
	}
	n, err := decodeInt(t.s.last)
	if err != nil {
		return err
	}
	if o.kind == opInt || n < 0 { // an int, or a NULL string (which ends the dependencies)
		return t.advance(o, n, "")
	}
	t.strN = n
	return t.s.readBytes(n, nil, o.kind == opKeep, t.onStrFn)
}

func (t *toc) onStr() error {
	o := t.prog[t.pc]
	if o.kind == opDeps {
		return t.run() // the next dependency
	}
	return t.advance(o, t.strN, string(t.s.kept))
}

// advance stores a field's value and moves to the next field.
func (t *toc) advance(o op, n int64, s string) error {
	if o.set != nil {
		if err := o.set(t, n, s); err != nil {
			return err
		}
	}
	t.pc++
	return t.run()
}

// endEntry keeps a finished TABLE DATA entry and starts the next one.
func (t *toc) endEntry() error {
	e := t.entry
	if e.desc == "TABLE DATA" {
		if _, dup := t.byID[e.dumpID]; dup {
			return fmt.Errorf("%w: TOC entry %d twice", ErrMalformed, e.dumpID)
		}
		hasData := e.hadDumper
		if t.format == formatCustom {
			hasData = hasData && e.offsetFlg != offsetNoData
		} else {
			hasData = hasData && e.filename != ""
		}
		if hasData && e.copyStmt == "" {
			return fmt.Errorf("%w: data of table %s.%s is not in COPY form (pg_dump --inserts?)", ErrUnsupported, e.namespace, e.tag)
		}
		td := &tableData{dumpID: e.dumpID, schema: e.namespace, name: e.tag, hasData: hasData, filename: e.filename}
		t.byID[e.dumpID] = td
		t.entries = append(t.entries, td)
	}
	return t.nextEntry()
}
