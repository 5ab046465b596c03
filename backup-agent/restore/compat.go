package restore

import (
	"bufio"
	"bytes"
	"io"
)

// Restoring into an older server than the restore program.
//
// pg_restore and pg_dump's scripts start with a fixed preamble of SET
// statements for the session, and newer programs set parameters older
// servers do not have: pg_restore 17 and newer sends
// `SET transaction_timeout = 0;`, which a PostgreSQL 15 or 16 server refuses
// ("unrecognized configuration parameter"), so a backup of a 15 server could
// not be restored into a 15 server by any pg_restore able to read it. The
// parameter only turns a timeout off that such a server does not have, so
// leaving the statement out loses nothing. pg_restore cannot be told to, so
// the restore then runs as `pg_restore -f - | filter | psql`, and a plain
// script goes through the same filter.

// newerSettings are preamble statements and the first server major that
// knows them.
var newerSettings = map[string]int{
	"SET transaction_timeout = 0;": 17,
}

// needsFilter reports whether the preamble of a program of major tool can
// hold a statement a server of major target refuses.
func needsFilter(tool, target int) bool {
	for _, since := range newerSettings {
		if tool >= since && target < since {
			return true
		}
	}
	return false
}

// preambleFilter passes a restore script through, leaving out of its
// preamble the statements of newerSettings that a server of major target
// does not know. Only the preamble is read line by line: it ends at the
// first line that is not blank, a comment, a SET, a set_config call, BEGIN
// or a psql meta-command, and everything after it (definitions, COPY data,
// function bodies) is passed through byte for byte, so no data that
// happens to look like such a statement is ever touched.
type preambleFilter struct {
	r        *bufio.Reader
	target   int
	preamble bool
	pending  []byte
	// Dropped counts the statements left out.
	Dropped int
}

func newPreambleFilter(r io.Reader, target int) *preambleFilter {
	return &preambleFilter{r: bufio.NewReaderSize(r, 64<<10), target: target, preamble: true}
}

func (f *preambleFilter) Read(p []byte) (int, error) {
	for f.preamble && len(f.pending) == 0 {
		line, err := f.r.ReadBytes('\n')
		if len(line) > 0 {
			f.take(line)
		}
		if err != nil {
			if len(f.pending) > 0 {
				break // the error comes back on the next Read, from f.r
			}
			return 0, err
		}
	}
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	return f.r.Read(p)
}

// take handles one line of the preamble.
func (f *preambleFilter) take(line []byte) {
	text := bytes.TrimRight(line, "\r\n")
	if since, ok := newerSettings[string(text)]; ok && f.target < since {
		f.Dropped++
		return
	}
	if !preambleLine(text) {
		f.preamble = false
	}
	f.pending = append(f.pending, line...)
}

// preambleLine reports whether a line belongs to a script's session
// preamble.
func preambleLine(text []byte) bool {
	switch {
	case len(bytes.TrimSpace(text)) == 0,
		bytes.HasPrefix(text, []byte("--")),
		bytes.HasPrefix(text, []byte("SET ")),
		bytes.HasPrefix(text, []byte("SELECT pg_catalog.set_config(")),
		bytes.Equal(text, []byte("BEGIN;")),
		bytes.HasPrefix(text, []byte(`\restrict `)),
		bytes.HasPrefix(text, []byte(`\connect `)):
		return true
	}
	return false
}
