package rowcount

import (
	"bytes"
	"fmt"
)

// Lines of a plain script that the counter looks for.
var (
	dataHeader   = []byte("-- Data for Name: ")
	dataType     = []byte("; Type: TABLE DATA; ")
	dumpComplete = []byte("-- PostgreSQL database dump complete")
	copyPrefix   = []byte("COPY ")
	copySuffix   = []byte(" FROM stdin;")
	// endOfData is the end-of-data line with the newline before it.
	endOfData = []byte("\n\\.\n")
)

// lineHeadMax bounds the start of a script line that is kept: enough for
// "COPY " and two quoted names of 63 bytes, however many quotes they hold.
const lineHeadMax = 512

// plain counts the rows of COPY blocks in a pg_dump -Fp SQL script.
type plain struct {
	err error

	// SQL mode: the current line's first bytes, last bytes and length.
	head     []byte
	tail     [len(" FROM stdin;")]byte
	tailLen  int
	pending  bool // the last line was a TABLE DATA comment header
	complete bool // the "dump complete" comment was seen

	// Data mode (cur != nil): the last bytes of the data, after a
	// virtual newline that ends the COPY line.
	cur      *Table
	carry    [3]byte
	carryLen int

	tables []Table
}

// NewPlain returns a Counter for a pg_dump -Fp SQL script.
func NewPlain() Counter {
	return &plain{head: make([]byte, 0, lineHeadMax)}
}

// Write parses p; it never fails.
func (c *plain) Write(p []byte) (int, error) {
	n := len(p)
	for c.err == nil && len(p) > 0 {
		if c.cur != nil {
			p = c.data(p)
		} else {
			p = c.sql(p)
		}
	}
	return n, nil
}

// sql consumes script lines until a COPY block starts.
func (c *plain) sql(p []byte) []byte {
	for len(p) > 0 && c.cur == nil && c.err == nil {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.addLine(p)
			return nil
		}
		c.addLine(p[:i])
		c.endLine()
		p = p[i+1:]
	}
	return p
}

func (c *plain) addLine(p []byte) {
	if room := lineHeadMax - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
	if len(p) >= len(c.tail) {
		c.tailLen = copy(c.tail[:], p[len(p)-len(c.tail):])
		return
	}
	keep := min(c.tailLen, len(c.tail)-len(p))
	copy(c.tail[:], c.tail[c.tailLen-keep:c.tailLen])
	c.tailLen = keep + copy(c.tail[keep:], p)
}

// endLine acts on a complete script line. After a TABLE DATA header
// only blank lines, "--" and the COPY line may come: anything else is
// table data pg_dump did not write as COPY (--inserts).
func (c *plain) endLine() {
	line, tail := c.head, c.tail[:c.tailLen]
	c.head, c.tailLen = c.head[:0], 0
	if !c.pending {
		switch {
		case bytes.HasPrefix(line, dataHeader) && bytes.Contains(line, dataType):
			c.pending = true
		case bytes.HasPrefix(line, dumpComplete):
			c.complete = true
		}
		return
	}
	switch {
	case len(line) == 0 || bytes.Equal(line, []byte("--")):
	case bytes.HasPrefix(line, copyPrefix) && bytes.Equal(tail, copySuffix):
		c.pending = false
		schema, name, err := parseCopyTarget(string(line[len(copyPrefix):]))
		if err != nil {
			c.err = err
			return
		}
		c.tables = append(c.tables, Table{Schema: schema, Name: name})
		c.cur = &c.tables[len(c.tables)-1]
		c.carry[0], c.carryLen = '\n', 1
	default:
		c.err = fmt.Errorf("%w: table data not in COPY form (pg_dump --inserts?): %.40q", ErrUnsupported, line)
	}
}

// data counts the lines of a COPY block up to its end-of-data line and
// returns what follows it.
func (c *plain) data(p []byte) []byte {
	// The end-of-data line may start in the bytes carried over.
	var w [6]byte // carry and the first three bytes of p
	n := copy(w[:], c.carry[:c.carryLen])
	m := copy(w[n:], p[:min(len(p), len(endOfData)-1)])
	if i := bytes.Index(w[:n+m], endOfData); i >= 0 {
		start, end := i+1-n, i+len(endOfData)-n
		c.cur.Rows += int64(bytes.Count(p[:max(start, 0)], []byte{'\n'}))
		c.cur = nil
		return p[end:]
	}
	if i := bytes.Index(p, endOfData); i >= 0 {
		c.cur.Rows += int64(bytes.Count(p[:i+1], []byte{'\n'}))
		c.cur = nil
		return p[i+len(endOfData):]
	}
	c.cur.Rows += int64(bytes.Count(p, []byte{'\n'}))
	if len(p) >= len(c.carry) {
		c.carryLen = copy(c.carry[:], p[len(p)-len(c.carry):])
	} else {
		keep := min(c.carryLen, len(c.carry)-len(p))
		copy(c.carry[:], c.carry[c.carryLen-keep:c.carryLen])
		c.carryLen = keep + copy(c.carry[keep:], p)
	}
	return nil
}

// Tables returns the counts once the script has been read to its end.
func (c *plain) Tables() ([]Table, error) {
	switch {
	case c.err != nil:
		return nil, fmt.Errorf("count rows of plain dump: %w", c.err)
	case c.cur != nil:
		return nil, fmt.Errorf("count rows of plain dump: %w: the stream ended inside the data of %s.%s", ErrTruncated, c.cur.Schema, c.cur.Name)
	case !c.complete:
		return nil, fmt.Errorf("count rows of plain dump: %w: no \"dump complete\" comment at the end", ErrTruncated)
	}
	return sortTables(append(make([]Table, 0, len(c.tables)), c.tables...)), nil
}
