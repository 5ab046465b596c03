// Package status folds what the cluster reports about a PostgresBackup's
// runs (its Jobs, their Pods and the agent's result in each pod's
// termination message) into the PostgresBackup's status: only the Jobs the
// resource owns (Owned), a success only with the agent's succeeded result,
// reasons from a bounded set, the agent's warnings, whether a run is
// active and running too long, and, kept apart from the backups, the
// verification runs and the Verified condition (OwnedVerify, VerifyRun).
// It is pure: the reconciler lists the objects, Fold decides, so the rules
// are table-tested.
package status
