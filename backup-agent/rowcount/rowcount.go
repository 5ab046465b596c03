package rowcount

import (
	"cmp"
	"errors"
	"io"
	"slices"
)

// Table is the row count of one table's data in a dump.
type Table struct {
	// Schema is the table's schema (namespace), unquoted.
	Schema string `json:"schema"`
	// Name is the table's name, unquoted.
	Name string `json:"name"`
	// Rows is the number of rows in the table's data.
	Rows int64 `json:"rows"`
}

// Counter is an io.Writer that parses a dump as it streams through it
// (use it with io.TeeReader or io.MultiWriter). Write never returns an
// error: a parse failure must never fail or slow the backup. Tables,
// called after the stream ended, returns the tables sorted by schema and
// name, or the reason the counts could not be taken.
type Counter interface {
	io.Writer
	// Tables returns one entry per TABLE DATA item of the dump, sorted
	// by (schema, name), or an error wrapping one of ErrUnsupported,
	// ErrCompressed, ErrTruncated or ErrMalformed.
	Tables() ([]Table, error)
}

var (
	// ErrUnsupported means the dump is of a kind the counter cannot read
	// (an unknown archive version, table data not in COPY form).
	ErrUnsupported = errors.New("unsupported dump")
	// ErrCompressed means the dump's data is compressed by pg_dump.
	ErrCompressed = errors.New("compressed dump data")
	// ErrTruncated means the stream ended before the dump did.
	ErrTruncated = errors.New("truncated dump")
	// ErrMalformed means the stream is not a dump of the expected format.
	ErrMalformed = errors.New("malformed dump")
)

// sortTables sorts tables by (schema, name) in place and returns them.
func sortTables(tables []Table) []Table {
	slices.SortFunc(tables, func(a, b Table) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	return tables
}
