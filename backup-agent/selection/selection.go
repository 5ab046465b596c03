package selection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Filter narrows the dump of one database, or of every database when
// Database is empty. The patterns are pg_dump's (psql's): * and ? are
// wildcards, "..." quotes, schema.table qualifies.
type Filter struct {
	Database         string   `json:"database,omitempty"`
	Schemas          []string `json:"schemas,omitempty"`
	ExcludeSchemas   []string `json:"excludeSchemas,omitempty"`
	ExcludeTables    []string `json:"excludeTables,omitempty"`
	ExcludeTableData []string `json:"excludeTableData,omitempty"`
}

// MaxPatternLength bounds one pattern; PostgreSQL's identifiers are at
// most 63 bytes, so a qualified pattern with quotes fits well within it.
const MaxPatternLength = 1024

// ParseFilters decodes --dump-filters: a JSON array of filters, with the
// field names of the PostgresBackup API. Unknown fields are refused, so a
// misspelt "excludeTable" is an error rather than a filter that silently
// does nothing.
func ParseFilters(s string) ([]Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var fs []Filter
	if err := dec.Decode(&fs); err != nil {
		return nil, fmt.Errorf("--dump-filters: not a JSON array of filters ({\"database\", \"schemas\", \"excludeSchemas\", \"excludeTables\", \"excludeTableData\"}): %w", err)
	}
	if dec.More() {
		return nil, errors.New("--dump-filters: trailing data after the JSON array")
	}
	if err := ValidateFilters(fs); err != nil {
		return nil, err
	}
	return fs, nil
}

// ValidateFilters checks that every filter narrows something and that no
// pattern is empty or unreasonably long.
func ValidateFilters(fs []Filter) error {
	var errs []error
	for i, f := range fs {
		what := fmt.Sprintf("--dump-filters[%d]", i)
		if f.Database != "" {
			what += fmt.Sprintf(" (database %q)", f.Database)
		}
		if len(f.Schemas)+len(f.ExcludeSchemas)+len(f.ExcludeTables)+len(f.ExcludeTableData) == 0 {
			errs = append(errs, fmt.Errorf("%s: sets none of schemas, excludeSchemas, excludeTables, excludeTableData", what))
		}
		for field, pats := range map[string][]string{"schemas": f.Schemas, "excludeSchemas": f.ExcludeSchemas, "excludeTables": f.ExcludeTables, "excludeTableData": f.ExcludeTableData} {
			for _, p := range pats {
				switch {
				case strings.TrimSpace(p) == "":
					errs = append(errs, fmt.Errorf("%s: %s has an empty pattern", what, field))
				case len(p) > MaxPatternLength:
					errs = append(errs, fmt.Errorf("%s: %s has a pattern longer than %d bytes", what, field, MaxPatternLength))
				case strings.ContainsRune(p, 0):
					errs = append(errs, fmt.Errorf("%s: %s has a pattern with a NUL byte", what, field))
				}
			}
		}
	}
	// Map iteration order must not decide the message.
	slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Options are the validated selection settings of a run.
type Options struct {
	Filters   []Filter
	ExtraArgs []string
}

// Args are the pg_dump options that select what is dumped of database db
// and the user's extra options, in a fixed order: --strict-names first
// (whenever anything is selected, so an include pattern or --extension
// that matches nothing fails the dump), then each filter's patterns, then
// the extra options. Nil when nothing narrows db: the plain, whole dump.
func (o Options) Args(db string) []string {
	var sel []string
	for _, f := range o.Filters {
		if f.Database != "" && f.Database != db {
			continue
		}
		for _, p := range f.Schemas {
			sel = append(sel, "--schema="+p)
		}
		for _, p := range f.ExcludeSchemas {
			sel = append(sel, "--exclude-schema="+p)
		}
		for _, p := range f.ExcludeTables {
			sel = append(sel, "--exclude-table="+p)
		}
		for _, p := range f.ExcludeTableData {
			sel = append(sel, "--exclude-table-data="+p)
		}
	}
	if len(sel) == 0 && len(o.ExtraArgs) == 0 {
		return nil
	}
	args := append([]string{"--strict-names"}, sel...)
	return append(args, o.ExtraArgs...)
}

// UnmatchedFilters are the databases named by filters that are not among
// dumped: a filter for a database that is not dumped does nothing, which
// the run reports as a warning (a dropped or misspelt database).
func (o Options) UnmatchedFilters(dumped []string) []string {
	var out []string
	for _, f := range o.Filters {
		if f.Database != "" && !slices.Contains(dumped, f.Database) && !slices.Contains(out, f.Database) {
			out = append(out, f.Database)
		}
	}
	return out
}

// Exclude removes the excluded names from dbs, keeping the order, and
// returns the names it removed.
func Exclude[T any](dbs []T, name func(T) string, excluded []string) (kept []T, removed []string) {
	for _, d := range dbs {
		if slices.Contains(excluded, name(d)) {
			removed = append(removed, name(d))
			continue
		}
		kept = append(kept, d)
	}
	return kept, removed
}
