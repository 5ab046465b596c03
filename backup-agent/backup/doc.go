// Package backup is the agent's `pgbackup backup` run: it dumps each
// database with pg_dump, compresses the stream, uploads it to the store,
// and writes the manifest last, following the commit protocol of DESIGN
// section 2:
//
//   - pg_dump's exit status is checked before an upload is completed: its
//     output stream returns io.EOF only after a clean exit, and the store
//     completes an object only on io.EOF;
//   - any failure aborts the upload in progress, deletes the objects this
//     run already stored, and writes no manifest;
//   - the manifest is written last, with If-None-Match, so a backup exists
//     exactly when it is complete.
//
// Run returns the result the CLI writes to the termination log.
package backup
