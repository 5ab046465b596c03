// Package readahead runs a stage of a streaming pipeline on a goroutine of
// its own. A Reader reads its source ahead of the consumer into a few
// fixed buffers, so that the stages before it (the download, its checksum,
// decryption) and the stages after it (decompression, pg_restore's input,
// the spool file) use different cores at the same time instead of taking
// turns on one.
//
// Memory is bounded by the buffers given to New and does not grow with
// the stream. Errors pass through in order: the consumer reads every byte
// the source gave before the error, then the error itself, unchanged, so a
// truncated or corrupt stream can never look like a complete one.
package readahead
