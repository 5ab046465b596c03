package rowcount

import (
	"fmt"
	"strings"
)

// parseCopyTarget reads "schema.table (cols) FROM stdin;" (or
// "schema.table  FROM stdin;" for a table without columns), each name
// quoted as pg_dump quotes identifiers when needed.
func parseCopyTarget(s string) (schema, name string, err error) {
	schema, rest, ok := parseIdent(s)
	if ok && strings.HasPrefix(rest, ".") {
		name, rest, ok = parseIdent(rest[1:])
	} else {
		ok = false
	}
	if !ok || !strings.HasPrefix(rest, " ") {
		return "", "", fmt.Errorf("%w: cannot read the table name in COPY %q", ErrMalformed, s)
	}
	return schema, name, nil
}

// parseIdent reads one identifier, quoted ("" stands for ") or not.
func parseIdent(s string) (id, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ". (")
		if end <= 0 {
			return "", "", false
		}
		return s[:end], s[end:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}
