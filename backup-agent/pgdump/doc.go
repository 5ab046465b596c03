// Package pgdump runs PostgreSQL's client programs (pg_dump, pg_dumpall,
// pg_restore, psql) as subprocesses.
//
// Its central piece is [Stream]: pg_dump's standard output as an io.Reader
// that returns io.EOF only after pg_dump has exited with status 0. A dump
// that dies half-way therefore surfaces as an error at the end of the
// stream, so the uploader downstream aborts instead of completing a
// truncated object. [FeedThrough] chains two programs (pg_restore -f - into
// psql) with the same promise.
//
// The programs are found in PGBACKUP_PG_BIN_DIR when set; else every
// Debian installation (/usr/lib/postgresql/N/bin) and PATH are candidates,
// and [Choose] / [ChooseFor] take the oldest major that is not older than the
// server: pg_dump 17 for a 15 server when 17 and 18 are installed.
package pgdump
