// Package pgdump runs PostgreSQL's client programs (pg_dump, pg_dumpall,
// pg_restore, psql) as subprocesses.
//
// Its central piece is [Stream]: pg_dump's standard output as an io.Reader
// that returns io.EOF only after pg_dump has exited with status 0. A dump
// that dies half-way therefore surfaces as an error at the end of the
// stream, so the uploader downstream aborts instead of completing a
// truncated object. The programs are found in PGBACKUP_PG_BIN_DIR when set,
// else on PATH.
package pgdump
