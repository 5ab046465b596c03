// Package controller is the root of the pgbackup Kubernetes controller: the
// PostgresBackup API (api/v1alpha1), the pure builders of its CronJob and
// PVC (builder), the folding of finished runs into its status (status), the
// reconciler (reconciler) and the manager that runs it (manager).
package controller
