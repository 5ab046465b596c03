package rowcount

import "bytes"

// rowCounter counts the rows of one table's COPY text data, fed in pieces.
// pg_dump ends the data with a line `\.` and (in archives) two blank
// lines; those are not rows. The marker can only be the last line but
// for blank lines: COPY escapes every backslash in values, so no row is
// ever `\.`.
type rowCounter struct {
	newlines int64
	// tail holds the last bytes seen, enough for "\n\\.\n\n\n".
	tail    [6]byte
	tailLen int
}

func (r *rowCounter) write(p []byte) {
	r.newlines += int64(bytes.Count(p, []byte{'\n'}))
	if len(p) >= len(r.tail) {
		r.tailLen = copy(r.tail[:], p[len(p)-len(r.tail):])
		return
	}
	keep := min(r.tailLen, len(r.tail)-len(p))
	copy(r.tail[:], r.tail[r.tailLen-keep:r.tailLen])
	r.tailLen = keep + copy(r.tail[keep:], p)
}

// rows is the number of data lines before the end-of-data marker (all
// lines when there is none).
func (r *rowCounter) rows() int64 {
	t := r.tail[:r.tailLen]
	blank := 0
	for blank < 3 && len(t) > 0 && t[len(t)-1] == '\n' {
		t = t[:len(t)-1]
		blank++
	}
	if blank == 0 || !bytes.HasSuffix(t, []byte(`\.`)) {
		return r.newlines
	}
	t = t[:len(t)-2]
	// The marker must start a line: at the start of the data or after a
	// newline.
	if len(t) > 0 && t[len(t)-1] != '\n' {
		return r.newlines
	}
	return r.newlines - int64(blank)
}
