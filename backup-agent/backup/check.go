package backup

import (
	"bytes"
	"errors"
	"io"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// tailKeep is how much of the end of a dump is kept to find pg_dump's
// closing comment: newer pg_dumps write a few lines after it (\unrestrict).
const tailKeep = 4 << 10

// Shape is what a complete output of a dump program looks like: pg_dump
// can exit 0 and still have written nothing, or less than a whole dump
// (killed wrappers, a broken pipe swallowed by a shell), and an object
// that looks like a backup must never be committed from that.
type Shape struct {
	// What names the program's output in errors.
	What string
	// Magic is how the output must start (empty: anything, but not
	// nothing).
	Magic string
	// Trailer must occur in the last tailKeep bytes (empty: not checked).
	Trailer string
}

// The shapes of the outputs the agent stores.
var (
	shapeCustom  = Shape{What: "pg_dump custom-format output", Magic: "PGDMP"}
	shapePlain   = Shape{What: "pg_dump plain output", Trailer: "-- PostgreSQL database dump complete"}
	shapeGlobals = Shape{What: "pg_dumpall output", Trailer: "-- PostgreSQL database cluster dump complete"}
)

// checkedReader passes a program's output through and, at its end,
// returns a DumpFailed error instead of io.EOF when the output does not
// have the expected shape. Because the uploader completes an object only
// on io.EOF, a short or empty dump is aborted, never stored.
type checkedReader struct {
	r     io.Reader
	shape Shape
	head  []byte
	tail  []byte
	n     int64
}

func newCheckedReader(r io.Reader, s Shape) *checkedReader { return &checkedReader{r: r, shape: s} }

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.observe(p[:n])
	if errors.Is(err, io.EOF) {
		if cerr := c.check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (c *checkedReader) observe(b []byte) {
	c.n += int64(len(b))
	if need := len(c.shape.Magic) - len(c.head); need > 0 {
		c.head = append(c.head, b[:min(need, len(b))]...)
	}
	if c.shape.Trailer == "" {
		return
	}
	c.tail = append(c.tail, b...)
	if len(c.tail) > 2*tailKeep {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailKeep:]...)
	}
}

func (c *checkedReader) check() error {
	s := c.shape
	switch {
	case c.n == 0:
		return result.Errorf(result.ReasonDumpFailed, "%s is empty although the program exited 0: nothing was stored", s.What)
	case string(c.head) != s.Magic:
		return result.Errorf(result.ReasonDumpFailed, "%s does not start with %q: it is not a dump; nothing was stored", s.What, s.Magic)
	case s.Trailer != "" && !bytes.Contains(c.tail[max(0, len(c.tail)-tailKeep):], []byte(s.Trailer)):
		return result.Errorf(result.ReasonDumpFailed, "%s ends early (%d bytes, without %q) although the program exited 0: nothing was stored", s.What, c.n, s.Trailer)
	}
	return nil
}
