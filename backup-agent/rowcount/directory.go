package rowcount

import (
	"fmt"
	"strings"
)

// directory counts the rows of a tar stream of a pg_dump -Fd -Z0
// directory. toc.dat may come before or after the data files (the agent's
// tar puts it last), so each <dumpId>.dat file is counted as it passes
// and matched with the TOC at the end.
type directory struct {
	tar    *tarStream
	toc    *toc
	tocS   stream
	sawTOC bool
	files  map[string]*rowCounter
}

// NewDirectoryTar returns a Counter for a tar stream of a pg_dump -Fd -Z0
// directory, as the agent writes it (spool.WriteTar).
func NewDirectoryTar() Counter {
	d := &directory{files: map[string]*rowCounter{}}
	d.tar = newTarStream(d.open)
	return d
}

// Write parses p; it never fails.
func (d *directory) Write(p []byte) (int, error) {
	d.tar.write(p)
	return len(p), nil
}

// open routes a regular file of the archive.
func (d *directory) open(name string) (func([]byte), error) {
	switch {
	case name == "toc.dat":
		if d.sawTOC {
			return nil, fmt.Errorf("%w: two toc.dat files", ErrMalformed)
		}
		d.sawTOC = true
		d.toc = newTOC(&d.tocS, formatDirectory, func() error { return nil })
		return d.writeTOC, nil
	case isDataFile(name):
		if _, dup := d.files[name]; dup {
			return nil, fmt.Errorf("%w: two files %s", ErrMalformed, name)
		}
		r := &rowCounter{}
		d.files[name] = r
		return r.write, nil
	case isDataFile(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".lz4"), ".zst")):
		return nil, fmt.Errorf("%w: data file %s", ErrCompressed, name)
	}
	return nil, nil // large objects, blobs.toc and anything else
}

// writeTOC parses toc.dat; its first error stops the whole stream.
func (d *directory) writeTOC(p []byte) {
	d.tocS.write(p)
	if d.tocS.err != nil && d.tar.err == nil {
		d.tar.err = fmt.Errorf("toc.dat: %w", d.tocS.err)
	}
}

// isDataFile reports whether name is "<digits>.dat".
func isDataFile(name string) bool {
	id, ok := strings.CutSuffix(name, ".dat")
	if !ok || id == "" {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Tables returns the counts once the tar stream has been read to its end.
func (d *directory) Tables() ([]Table, error) {
	const what = "count rows of directory dump"
	switch {
	case d.tar.err != nil:
		return nil, fmt.Errorf("%s: %w", what, d.tar.err)
	case !d.tar.ended:
		return nil, fmt.Errorf("%s: %w: the tar stream ended without its end marker", what, ErrTruncated)
	case !d.sawTOC:
		return nil, fmt.Errorf("%s: %w: no toc.dat", what, ErrMalformed)
	case !d.toc.complete:
		return nil, fmt.Errorf("%s: %w: toc.dat ends inside the table of contents", what, ErrTruncated)
	}
	tables := make([]Table, 0, len(d.toc.entries))
	for _, td := range d.toc.entries {
		t := Table{Schema: td.schema, Name: td.name}
		if td.hasData {
			r := d.files[td.filename]
			if r == nil {
				return nil, fmt.Errorf("%s: %w: no data file %s for table %s.%s", what, ErrTruncated, td.filename, td.schema, td.name)
			}
			t.Rows = r.rows()
		}
		tables = append(tables, t)
	}
	return sortTables(tables), nil
}
