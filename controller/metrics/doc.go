// Package metrics holds the controller's Prometheus metrics about backups,
// per PostgresBackup, registered on the manager's registry.
package metrics
