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
