// Package retention decides which complete backups to keep and deletes the
// rest, and sweeps what failed runs left behind.
//
// The rules (DESIGN section 2): retention runs only after a fully
// successful run and only over complete backups; the newest complete
// backup is never deleted; a backup is deleted manifest first, so a
// half-deleted backup never looks complete; incomplete backups (objects
// without a manifest) and multipart uploads left open are swept once they
// are older than a day, so a run in progress is never disturbed.
//
// A backup is kept when any keep rule selects it:
//
//   - KeepLast N: the N newest backups;
//   - KeepDaily N: the newest backup of each of the N most recent days
//     (UTC) that have a backup; KeepWeekly (ISO weeks) and KeepMonthly
//     likewise;
//
// and, when MaxAge is set, it is also younger than MaxAge. With no keep
// rule, MaxAge alone decides. A policy with no rule keeps everything.
package retention
