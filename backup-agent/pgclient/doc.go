// Package pgclient is the agent's SQL connection to PostgreSQL, used before
// and around pg_dump: to check that the server is reachable and the
// credentials work, read its version, list the databases to dump and
// estimate their size.
//
// Settings come from the libpq environment (PGHOST, PGPORT, PGUSER,
// PGPASSWORD, PGPASSFILE, PGSSLMODE, PGCONNECT_TIMEOUT, ...), exactly as
// pg_dump reads them, so both see the same server. Failures are classified:
// an unreachable server is ConnectionFailed and retried with backoff; a
// refused login is AuthFailed and never retried.
package pgclient
