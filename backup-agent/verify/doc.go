// Package verify proves that a backup restores: it restores every database
// of a backup (and its globals) into a scratch PostgreSQL server with the
// restore package's code path and rails, compares every table's row count
// with the count the backup recorded from the dump stream, checks the
// restored B-tree indexes with amcheck where the server has it, runs the
// user's SQL checks, measures the restore time of each database, and
// records the verdict once, next to the backup, as verification.json.
//
// A verification succeeds only if everything matched: a restore that
// logged a warning, a missing table, a differing row count, a failing
// index or a failing check is a failure naming what differed. It refuses a
// target server that holds databases of its own, so that it can never
// write into a real server by mistake, and it never connects to the
// server the backup was taken from.
package verify
