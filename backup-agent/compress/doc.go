// Package compress parses the agent's --compression setting and builds the
// streaming compressors and decompressors for it: multi-threaded zstd
// (github.com/klauspost/compress), parallel gzip (github.com/klauspost/pgzip)
// or none. pg_dump itself always runs uncompressed (-Z0), so the agent can
// spread compression over every core while pg_dump's single process only
// produces data.
package compress
