// Package restore brings a backup back into a PostgreSQL database: the
// `pgbackup restore` subcommand. It needs only the S3 destination and a
// target database, no Kubernetes, so it works when the cluster is gone.
//
// A streaming restore pipes download → sha256 → decompress → pg_restore
// (or psql for plain dumps) in a single transaction. The verifying reader
// returns io.EOF only when the object's sha256 matches the manifest, and
// the last bytes of the decompressed stream are held back until then, so
// neither pg_restore nor psql can reach the end of its input, and commit,
// before the whole object has been verified: a corrupt or truncated
// object rolls back and leaves the target as it was. With --jobs > 1 the
// object is downloaded and verified first, then restored with pg_restore -j.
package restore
