package storage_test

import (
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
)

func TestMemStore(t *testing.T) {
	storagetest.RunSuite(t, func(*testing.T) storage.Store {
		return &storage.MemStore{PartSize: storagetest.PartSize}
	})
}

// TestMemStoreSpooled runs the suite with a memory budget too small for any
// part, so every part goes through a spool file: the commit protocol is the
// same.
func TestMemStoreSpooled(t *testing.T) {
	storagetest.RunSuite(t, func(t *testing.T) storage.Store {
		return &storage.MemStore{PartSize: storagetest.PartSize, PartMemory: 1, SpoolDir: t.TempDir()}
	})
}
