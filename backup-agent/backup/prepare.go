package backup

import (
	"context"
	"fmt"
	"slices"

	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/selection"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// job is what prepare found: what to dump, and with what.
type job struct {
	pgDump      string
	dumpVersion pgdump.Version
	server      pgclient.ServerVersion
	dbs         []pgclient.Database
	superuser   bool
	// excluded are the databases --exclude-databases left out.
	excluded []string
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
	// Every installed pg_dump, found before anything is reached: which one
	// dumps depends on the server's version.
	tools, err := pgdump.Candidates(ctx, "pg_dump")
	if err != nil {
		return j, err
	}
	if r.store, err = r.openStore(ctx); err != nil {
		return j, err
	}
	if err := r.store.Check(ctx); err != nil {
		return j, err
	}
	var tool pgdump.Tool
	j.server, tool, j.dbs, j.superuser, err = r.inspect(ctx, tools)
	j.pgDump, j.dumpVersion = tool.Path, tool.Version
	if err != nil {
		return j, err
	}
	j.dbs, j.excluded = selection.Exclude(j.dbs, func(d pgclient.Database) string { return d.Name }, r.opts.ExcludeDatabases)
	return j, r.checkSelection(j, tool)
}

func (r *run) openStore(ctx context.Context) (storage.Store, error) {
	if r.deps.Store != nil {
		return r.deps.Store, nil
	}
	// The part budget leaves room for the encoder's own memory, so that
	// parts plus encoder stay within storage.PipelineMemory at every level;
	// parts that do not fit go to the spool directory.
	s, _, err := r.opts.Destination.Open(ctx, storage.Config{
		Concurrency: r.opts.UploadConcurrency,
		PartMemory:  storage.PartMemoryFor(r.set.encoding.Memory() + dumpReadAheadMemory),
		SpoolDir:    r.opts.SpoolDir,
		Log:         r.log,
	})
	return s, err
}

// inspect connects to the server, picks the pg_dump of tools that dumps it
// (the oldest major not older than the server's), and picks the databases
// to dump.
func (r *run) inspect(ctx context.Context, tools []pgdump.Tool) (server pgclient.ServerVersion, tool pgdump.Tool, dbs []pgclient.Database, superuser bool, err error) {
	open := r.deps.OpenCatalog
	if open == nil {
		open = openPgCatalog
	}
	cat, err := open(ctx, r.log, r.opts.ConnectRetries)
	if err != nil {
		return server, tool, nil, false, err
	}
	defer func() { _ = cat.Close(context.WithoutCancel(ctx)) }()
	if server, err = cat.Server(ctx); err != nil {
		return server, tool, nil, false, err
	}
	if tool, err = pgdump.ChooseFor(tools, server.Major(), server.Version); err != nil {
		return server, tool, nil, false, err
	}
	all, err := cat.Databases(ctx)
	if err != nil {
		return server, tool, nil, false, err
	}
	if dbs, err = pgclient.Select(all, r.opts.Databases); err != nil {
		return server, tool, nil, false, err
	}
	if len(dbs) == 0 {
		return server, tool, nil, false, result.Errorf(result.ReasonConfigInvalid, "no database to back up: the server has no connectable non-template database")
	}
	if superuser, err = cat.Superuser(ctx); err != nil {
		return server, tool, nil, false, err
	}
	return server, tool, dbs, superuser, nil
}

// checkSelection checks what is left to dump after --exclude-databases,
// that the chosen pg_dump knows every extra option, and warns about
// filters of databases that are not dumped.
func (r *run) checkSelection(j job, tool pgdump.Tool) error {
	if len(j.excluded) > 0 {
		r.log.Info("Databases excluded", "databases", j.excluded)
	}
	if len(j.dbs) == 0 {
		return result.Errorf(result.ReasonConfigInvalid, "no database to back up: --exclude-databases leaves none of the server's connectable non-template databases")
	}
	if j.server.Standby {
		if slices.Contains(r.set.sel.ExtraArgs, "--serializable-deferrable") {
			return result.Errorf(result.ReasonConfigInvalid, "--pg-dump-extra-args --serializable-deferrable cannot run on a standby (PostgreSQL has no serializable transactions in recovery): dump from the primary or leave it out")
		}
		r.log.Info("Dumping from a hot standby", "hotStandbyFeedback", j.server.HotStandbyFeedback, "maxStandbyStreamingDelay", j.server.MaxStandbyStreamingDelay)
		if !j.server.HotStandbyFeedback && j.server.MaxStandbyStreamingDelay != "-1" {
			w := fmt.Sprintf("dumping from a standby without hot_standby_feedback: recovery may cancel a COPY that runs longer than max_standby_streaming_delay (%s) and fail the run; set hot_standby_feedback = on on the standby (or max_standby_streaming_delay = -1), or dump from the primary", j.server.MaxStandbyStreamingDelay)
			r.log.Info("Standby without hot_standby_feedback (warning)", "why", w)
			r.res.Warnings = append(r.res.Warnings, w)
		}
	}
	if err := selection.CheckPgDumpMajor(r.set.sel.ExtraArgs, tool.Version.Major); err != nil {
		return result.Errorf(result.ReasonConfigInvalid, "%w", err)
	}
	names := make([]string, len(j.dbs))
	for i, d := range j.dbs {
		names[i] = d.Name
	}
	for _, db := range r.set.sel.UnmatchedFilters(names) {
		r.log.Info("A dump filter names a database that is not dumped (warning)", "database", db)
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("--dump-filters: database %q is not dumped, so its filter did nothing", db))
	}
	return nil
}
