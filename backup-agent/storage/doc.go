// Package storage is where backups live: a small [Store] interface over an
// object store, used by the backup agent, restore, list and retention, and its
// implementations: [S3Store] for Amazon S3 and S3-compatible servers, and
// [MemStore], an in-memory store for unit tests.
//
// Keys are full object keys in the bucket, exactly as the manifest records
// them (DESIGN section 2); [ParseDestination] splits an s3://BUCKET/PREFIX
// destination into the bucket and the prefix callers build keys under.
//
// # The commit protocol
//
// [Store.Upload] completes an object only when its reader returns io.EOF. Any
// other error from the reader, a failed request or a cancelled context aborts
// the upload, so a pg_dump that dies mid-stream never becomes a truncated
// object: the agent's reader must return an error, not io.EOF, unless pg_dump
// exited 0. S3Store uploads with its own streaming multipart uploader rather
// than the SDK's upload managers because of this: it needs exact control over
// when an upload completes and must abort with a fresh context after a
// cancellation (an abort sent on the cancelled context never leaves the
// process, aws-sdk-go-v2 issue 3341).
//
// # Memory
//
// The part size starts from the object's expected size (WithExpectedSize)
// and grows with the part number, so an object can reach 5 TiB in S3's
// 10,000 parts. What the uploads hold in memory does not grow with it: a
// store's part buffers, all its uploads together, stay within
// Config.PartMemory (DefaultPartMemory, four default parts), reused from
// part to part and from object to object. Parts are kept in memory only
// while the budget holds three of them (one filling, two uploading); larger
// ones, from a large expected size or grown past it, are written to
// scratch files in Config.SpoolDir (the spool volume) and uploaded from
// there, at most Concurrency+1 of them at once. PipelineMemory and
// PartMemoryFor size the budget so that parts and the encoder feeding
// them stay within one bound.
//
// # Errors
//
// Failures of the store are classified [result.ReasonStorageFailed] with one
// short line saying what to do (bucket missing, access denied, endpoint
// unreachable). The exceptions are deliberate: a missing object ([ErrNotFound])
// and an existing one ([ErrExists]) are left unclassified so the caller can
// decide what they mean (a missing manifest is an integrity failure for
// restore); a cancelled context stays unclassified so it reports as
// Interrupted; and errors from an upload's reader are returned as they are,
// keeping the reason the reader gave them.
//
// The package must not import controller-runtime.
package storage
