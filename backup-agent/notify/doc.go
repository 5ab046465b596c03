// Package notify tells the outside world how a run ended: it POSTs the
// run's result as JSON to a webhook, for the events the user chose, and
// pings a heartbeat URL (healthchecks.io, Cronitor, Uptime Kuma push and
// the like) after every success, so that a heartbeat service raises the
// alarm when backups stop succeeding, for whatever reason, including a
// cluster in which no run starts at all.
//
// A notification is never the backup: a webhook that fails, refuses or
// never answers becomes a warning in the run's result, and the run's
// outcome stays what it was. Every wait is bounded (a timeout per
// attempt, a few attempts). The URLs usually carry a token, so they are
// treated as secrets: logs, warnings and errors name only their scheme and
// host.
package notify
