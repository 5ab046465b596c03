// Package rowcount counts the rows of every table's data in a pg_dump
// output while the dump streams through the agent, so that a restore can
// later be verified table by table without a second scan of the database.
//
// A Counter is an io.Writer placed beside the upload (io.TeeReader or
// io.MultiWriter). It parses the stream incrementally, keeps only small
// headers and one small record per table, and never fails or blocks a
// Write: when the stream cannot be understood it stops parsing and
// Tables reports why.
//
// What is counted: one entry per TABLE DATA item of the dump (ordinary
// tables and partitions; partitioned parents, materialized views,
// sequences and large objects have no TABLE DATA and are not listed).
// Rows are the lines of the COPY text data, which pg_dump always writes
// one row per line (newlines inside values are escaped as \n); the
// end-of-data marker line `\.` that pg_dump appends, and the blank lines
// after it, are not rows.
//
// Limits:
//   - Only uncompressed dumps (pg_dump -Z0) are understood; the agent
//     compresses afterwards. Compressed data is reported as ErrCompressed.
//   - Custom and directory archives of versions 1.12 to 1.16 are read
//     (pg_dump 9.0 to 17); other versions are reported as ErrUnsupported.
//     Verified against pg_dump 15 (1.14) and 17 (1.16); pg_dump 18
//     still writes 1.16 as far as its source shows, but is untested.
//   - Table data written as INSERT statements (--inserts) is not counted:
//     both archives and plain scripts report ErrUnsupported.
//   - A plain script carries no table of contents: COPY blocks are found
//     by pg_dump's own line structure, a "-- Data for Name: ...; Type:
//     TABLE DATA; ..." comment followed by a line "COPY schema.table (...)
//     FROM stdin;". A function body that imitates both lines would
//     confuse the count; archives do not have this weakness. A plain
//     script without pg_dump's closing "dump complete" comment is
//     reported as ErrTruncated.
//   - A plain script names a table by its COPY line: with pg_dump
//     --load-via-partition-root every partition's data would be counted
//     under the partitioned root's name (archives use the partition's).
//   - A custom archive read from a pipe has no end marker: a stream cut
//     exactly between two data blocks is detected only because some
//     TABLE DATA entry then has no data.
package rowcount
