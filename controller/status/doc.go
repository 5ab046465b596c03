// Package status folds what the cluster reports about a PostgresBackup's
// runs (finished Jobs, their Pods and the agent's result in each pod's
// termination message) into the PostgresBackup's status. It is pure: the
// reconciler lists the objects, Fold decides, so the rules are table-tested.
package status
