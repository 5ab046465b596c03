// Package reconciler is the PostgresBackup controller: it applies the
// CronJob and spool PVC the builder package describes, watches the Jobs and
// Pods of every run, and writes what the status package folds from them.
package reconciler
