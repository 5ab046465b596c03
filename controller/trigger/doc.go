// Package trigger starts a PostgresBackup's backup now, outside its
// schedule, with a Job made from its CronJob's template (what `kubectl
// create job --from=cronjob/NAME` does), and can wait for its result.
// It is the work behind `pgbackup trigger`.
package trigger
