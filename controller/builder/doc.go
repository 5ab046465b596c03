// Package builder turns a PostgresBackup into the objects that run its
// backups: the CronJob (and, for `pgbackup trigger`, a Job from it), the
// spool PVC, and the verification CronJob whose pod restores the newest
// backup into a scratch PostgreSQL sidecar (VerifyCronJob). Every function
// here is pure: same input, same object, no client, so the reconciler can
// apply the result idempotently and the tests are tables.
package builder
