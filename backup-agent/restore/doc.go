// Package restore brings a backup back into a PostgreSQL database: the
// `pgbackup restore` subcommand. It needs only the S3 destination and a
// target database, no Kubernetes, so it works when the cluster is gone.
//
// A restore is built in three parts:
//   - plan.go: pure functions that turn a manifest and the options into a
//     plan (which object, which tool, streamed or downloaded, what a
//     failure leaves), printed by --dry-run;
//   - fetch.go: download, sha256 verification against the manifest
//     (verify.go) and decoding (package codec), streamed or into a
//     private directory of the spool;
//   - apply.go: the target (create, or check that it is empty), globals,
//     pg_restore or psql, and the drop of a database the restore created.
//
// run.go ties them together with one failure path.
//
// A streaming restore pipes download → sha256 → decode → pg_restore in a
// single transaction. The verifying reader returns io.EOF only when the
// object's sha256 matches the manifest, and the last bytes of the decoded
// stream are held back until then, so pg_restore cannot reach the end of
// its input, and commit, before the whole object has been verified: a
// corrupt or truncated object rolls back and leaves the target as it was.
// Plain and directory dumps, and --jobs > 1, are downloaded and verified
// first. A plain script is not atomic even so: pg_dump writes its own
// BEGIN/COMMIT around large objects, which ends psql's transaction early,
// and a failure says so.
//
// The target URL's secrets (password, passfile, sslpassword) reach
// pg_restore and psql only through their environment (target.go), never a
// command line, the plan, a log or an error.
package restore
