// Package repo reads the backups stored under a destination prefix: which
// backup ids exist, which of them are complete (have a manifest), and their
// manifests. `list`, `restore` and retention all see backups through it, so
// they agree on one rule: a backup without a manifest does not exist.
package repo
