// Package selection decides what each pg_dump dumps: which databases
// (--databases, --exclude-databases), which schemas and tables of each
// (--dump-filters), and which extra pg_dump options a user may add
// (--pg-dump-extra-args, checked against an allow-list).
//
// Everything here narrows a backup, so everything here fails loudly:
// filters are validated before anything is reached, an include pattern
// that matches nothing fails the dump (pg_dump --strict-names) instead of
// storing an empty "successful" one, and options that would change the
// output's format, its completeness or the connection are refused with
// the field to use instead. What was applied to each database is recorded
// in its manifest entry ([Options.Args]).
package selection
