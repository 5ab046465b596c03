// Package e2e is pgbackup's end-to-end suite, `make test-e2e`: it creates a
// kind cluster, loads the controller, agent and test fixture images with
// `kind load docker-image` (nothing is pulled), installs the Helm chart, and
// runs PostgreSQL (seeded with a small shop) and an S3 server in a test
// namespace. Then it checks, on the real cluster, what a user relies on: a
// scheduled backup reports success in its status, its manifest is in S3,
// the spool PVC binds, `kubectl get pgb` and the controller's metrics show
// it; a restore gives data identical to the source; a wrong password ends
// as AuthFailed with a BackupFailed event and nothing in S3; a backup that
// outlives its schedule never runs twice at once (Forbid); `pgbackup
// trigger --wait` runs one now; deleting the resource removes its CronJob
// and Jobs but not its backups; a restore verification (spec.verify, its
// scratch server the fixture's PostgreSQL image through the chart's
// verify.postgresImageTemplate) turns Verified True with lastVerifiedBackup,
// an event, metrics and verification.json in S3, and one with a failing
// check turns it False (VerificationFailed) naming the check.
//
// The suite is behind the build tag "e2e", so `go test ./...` skips it:
//
//	make test-e2e                  # builds the images, then runs the suite
//	E2E_KEEP=1 make test-e2e       # keep the cluster afterwards
//
// Environment: KIND_NODE_IMAGE (default kindest/node:v1.37.2),
// PGBACKUP_CI_KIND_CONFIG (a kind config passed with --config when set),
// CONTROLLER_IMAGE and AGENT_IMAGE (default pgbackup-{controller,agent}:
// the chart's appVersion), PGBACKUP_BIN (the pgbackup binary run on the
// host; built when unset), KIND, HELM, KUBECTL (the tools; default from
// PATH). On failure it prints the controller's logs, the events and the
// failing pods' descriptions.
package e2e
