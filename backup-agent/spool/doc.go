// Package spool manages the agent's scratch space (the PersistentVolume
// mounted at --spool-dir): it checks free space before a dump is written
// there, streams a pg_dump directory-format dump as one tar archive, and
// unpacks such an archive for pg_restore -j. It also gives the uploader
// anonymous scratch files (TempFile) for parts too large to hold in memory.
package spool
