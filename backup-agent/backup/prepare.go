package backup

import (
	"context"

	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// job is what prepare found: what to dump, and with what.
type job struct {
	pgDump      string
	dumpVersion pgdump.Version
	server      pgclient.ServerVersion
	dbs         []pgclient.Database
	superuser   bool
}

// prepare validates the options, finds pg_dump, reaches the store and the
// server. Nothing is stored yet.
func (r *run) prepare(ctx context.Context) (job, error) {
	var j job
	set, err := r.opts.validate()
	if err != nil {
		return j, err
	}
	r.set = set
	if j.pgDump, err = pgdump.Find("pg_dump"); err != nil {
		return j, err
	}
	if j.dumpVersion, err = pgdump.ProgramVersion(ctx, j.pgDump); err != nil {
		return j, err
	}
	if r.store, err = r.openStore(ctx); err != nil {
		return j, err
	}
	if err := r.store.Check(ctx); err != nil {
		return j, err
	}
	j.server, j.dbs, j.superuser, err = r.inspect(ctx, j.dumpVersion)
	return j, err
}

func (r *run) openStore(ctx context.Context) (storage.Store, error) {
	if r.deps.Store != nil {
		return r.deps.Store, nil
	}
	s, _, err := r.opts.Destination.Open(ctx, storage.Config{Concurrency: r.opts.UploadConcurrency})
	return s, err
}

// inspect connects to the server, checks that pg_dump can dump it, and
// picks the databases to dump.
func (r *run) inspect(ctx context.Context, dump pgdump.Version) (server pgclient.ServerVersion, dbs []pgclient.Database, superuser bool, err error) {
	open := r.deps.OpenCatalog
	if open == nil {
		open = openPgCatalog
	}
	cat, err := open(ctx, r.log, r.opts.ConnectRetries)
	if err != nil {
		return server, nil, false, err
	}
	defer func() { _ = cat.Close(context.WithoutCancel(ctx)) }()
	if server, err = cat.Server(ctx); err != nil {
		return server, nil, false, err
	}
	if err := pgdump.CheckCompatible(dump, server.Major(), server.Version); err != nil {
		return server, nil, false, err
	}
	all, err := cat.Databases(ctx)
	if err != nil {
		return server, nil, false, err
	}
	if dbs, err = pgclient.Select(all, r.opts.Databases); err != nil {
		return server, nil, false, err
	}
	if len(dbs) == 0 {
		return server, nil, false, result.Errorf(result.ReasonConfigInvalid, "no database to back up: the server has no connectable non-template database")
	}
	if superuser, err = cat.Superuser(ctx); err != nil {
		return server, nil, false, err
	}
	return server, dbs, superuser, nil
}
