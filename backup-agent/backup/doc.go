// Package backup is the agent's `pgbackup backup` run: it dumps each
// database with pg_dump, compresses (and encrypts) the stream, uploads it
// to the store, and writes the manifest last, following the commit
// protocol of DESIGN section 2 (revision 2). A run goes through prepare
// (prepare.go), claim (claim.go), dump (dump.go), commit and retention
// (commit.go), and a failure anywhere takes the one cleanup path (run.go):
//
//   - the backup id is claimed with a conditional put of claim.json before
//     anything is stored, so runs that start in the same second never
//     share keys; a failed run deletes only the keys it created;
//   - pg_dump's exit status, and the shape of its output (check.go), are
//     checked before an upload is completed: its output stream returns
//     io.EOF only after a clean exit of a whole dump, and the store
//     completes an object only on io.EOF;
//   - any failure aborts the upload in progress and writes no manifest;
//   - the manifest is written last, with If-None-Match; an unclear answer
//     is resolved by reading it back, and once the PUT was sent no data is
//     deleted, because a manifest that landed unseen would point at it;
//   - retention runs after a fully successful run only, and never deletes
//     the backup the run just committed.
//
// Run returns the result the CLI writes to the termination log. What each
// rule guarantees, and the test that proves it, is in docs/guarantees.md.
package backup
