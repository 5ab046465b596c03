package main

import (
	"context"

	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// openRepo connects to the backups under a destination.
func openRepo(ctx context.Context, d storage.Destination) (repo.Repo, error) {
	store, prefix, err := d.Open(ctx, storage.Config{})
	if err != nil {
		return repo.Repo{}, err
	}
	return repo.Repo{Store: store, Prefix: prefix}, nil
}
