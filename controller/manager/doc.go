// Package manager assembles the controller-runtime manager that runs the
// PostgresBackup controller: scheme, cache scoped to pgbackup's objects and
// the watched namespaces, metrics, health probes and leader election.
package manager
