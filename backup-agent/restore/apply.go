package restore

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// This file changes the target: it prepares the database (create, or
// check that it is empty), applies globals, runs pg_restore or psql, and
// drops a database it created when anything fails.

// maintenanceDB is the database connected to for CREATE and DROP
// DATABASE and for globals: every cluster has it.
const maintenanceDB = "postgres"

// connect opens a connection to database db of the target's server
// (empty db: the target database itself).
func connect(ctx context.Context, log logr.Logger, t target, db string) (*pgx.Conn, error) {
	return pgclient.Connect(ctx, log, pgclient.Options{ConnString: t.connString(), Database: db, Retries: 2})
}

// createDatabase creates the target database unless it exists. It reports
// whether it created it.
func createDatabase(ctx context.Context, log logr.Logger, t target) (bool, error) {
	conn, err := connect(ctx, log, t, maintenanceDB)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", t.db).Scan(&exists); err != nil {
		return false, result.Errorf(result.ReasonConnectionFailed, "look up database %s: %w", t.db, err)
	}
	if exists {
		log.Info("Target database exists; not creating it")
		return false, nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{t.db}.Sanitize()); err != nil {
		return false, result.Errorf(result.ReasonRestoreFailed, "create database %s: %w", t.db, err)
	}
	log.Info("Created the target database")
	return true, nil
}

// checkEmpty refuses a target that holds relations of its own, unless
// clean.
func checkEmpty(ctx context.Context, log logr.Logger, p plan) error {
	conn, err := connect(ctx, log, p.target, "")
	if err != nil {
		if result.ReasonOf(err) == result.ReasonConfigInvalid && !p.create {
			return fmt.Errorf("%w (add --create to create it)", err)
		}
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rels, err := ownRelations(ctx, log, conn, p.target)
	if err != nil || len(rels) == 0 || p.clean {
		return err
	}
	return result.Errorf(result.ReasonRefused,
		"target database %s already holds %d user tables, views or sequences (%s): refusing to restore over them; use --clean to replace the backup's objects, or restore into a new database with --create",
		p.target.db, len(rels), sample(rels))
}

// sample names the first few relations of a list.
func sample(rels []string) string {
	const show = 3
	if len(rels) <= show {
		return strings.Join(rels, ", ")
	}
	return strings.Join(rels[:show], ", ") + fmt.Sprintf(" and %d more", len(rels)-show)
}

// relationsQuery lists the tables, views, sequences and foreign tables
// outside the system schemas that no extension owns. An extension's
// members (PostGIS's spatial_ref_sys, pg_stat_statements' views) come with
// CREATE EXTENSION, which a target may have been given on purpose before
// the restore: they are no sign of data the restore could overwrite.
const relationsQuery = `
	SELECT format('%I.%I', s.nspname, c.relname)
	FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
	  AND s.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND s.nspname NOT LIKE 'pg\_toast%' AND s.nspname NOT LIKE 'pg\_temp\_%'
	  AND NOT EXISTS (SELECT 1 FROM pg_depend d
	                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
	ORDER BY 1`

// ownRelations lists the relations that make the target non-empty: those
// of relationsQuery that template1 does not have too. CREATE DATABASE
// copies template1, so what it holds is in every new database and says
// nothing about this one. When template1 cannot be read, only the
// extension rule applies.
func ownRelations(ctx context.Context, log logr.Logger, conn *pgx.Conn, t target) ([]string, error) {
	rels, err := relations(ctx, conn)
	if err != nil || len(rels) == 0 {
		return rels, err
	}
	tmpl, err := templateRelations(ctx, log, t)
	if err != nil {
		log.Info("Could not read template1; counting every relation no extension owns (warning)", "error", err.Error())
		return rels, nil
	}
	return withoutTemplate(rels, tmpl), nil
}

func relations(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, relationsQuery)
	if err == nil {
		var rels []string
		if rels, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			return rels, nil
		}
	}
	return nil, result.Errorf(result.ReasonConnectionFailed, "inspect target database: %w", err)
}

// templateRelations lists template1's relations. The connection is held
// only for the query: while anyone is connected to template1, CREATE
// DATABASE from it fails on that server.
func templateRelations(ctx context.Context, log logr.Logger, t target) ([]string, error) {
	conn, err := pgclient.Connect(ctx, log, pgclient.Options{ConnString: t.connString(), Database: "template1"})
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	return relations(ctx, conn)
}

// withoutTemplate removes from rels the names template1 also has.
func withoutTemplate(rels, template []string) []string {
	var own []string
	for _, r := range rels {
		if !slices.Contains(template, r) {
			own = append(own, r)
		}
	}
	return own
}

// dropStatement drops database db. WITH (FORCE) (PostgreSQL 13+) ends the
// sessions still connected to it: the backend of a killed psql, or of a
// pg_restore -j worker, notices only later that its client is gone, and a
// plain DROP DATABASE fails while any session is connected.
func dropStatement(db string, serverMajor int) string {
	s := "DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize()
	if serverMajor >= 13 {
		s += " WITH (FORCE)"
	}
	return s
}

// dropCreated drops the database this restore created, after cause, and
// says so in the returned error. It runs on a fresh context: the
// restore's own may be the one that was cancelled.
func dropCreated(log logr.Logger, p plan, st stage, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := connect(ctx, log, p.target, maintenanceDB)
	if err == nil {
		defer func() { _ = conn.Close(ctx) }()
		var v pgclient.ServerVersion
		if v, err = pgclient.Server(ctx, conn); err == nil {
			_, err = conn.Exec(ctx, dropStatement(p.target.db, v.Major()))
		}
	}
	if err != nil {
		log.Error(err, "Could not drop the database this restore created")
		return fmt.Errorf("%w (database %s was created by this restore and could not be dropped: drop it by hand%s)", cause, p.target.db, p.globalsStay(st))
	}
	log.Info("Dropped the database this restore created")
	return fmt.Errorf("%w (database %s, created by this restore, was dropped again%s)", cause, p.target.db, p.globalsStay(st))
}

// toolCommand is the command running a PostgreSQL client program against
// the target: the connection without secrets on its command line, the
// secrets in its environment (target.toolEnv). cleanup must be called
// once the program has exited.
func toolCommand(p plan, path string, args []string) (cmd pgdump.Command, cleanup func(), err error) {
	env, cleanup, err := p.target.toolEnv(p.spoolDir)
	if err != nil {
		return cmd, nil, err
	}
	return pgdump.Command{Path: path, Args: args, Env: env, Reason: result.ReasonRestoreFailed}, cleanup, nil
}

// applyGlobals runs the backup's pg_dumpall --globals-only script on the
// target server. The script is read and verified whole first. It cannot be
// one transaction (CREATE TABLESPACE refuses to run in one) and roles such
// as the bootstrap superuser usually exist already, so statements that fail
// are logged as warnings and the script goes on. Statements about the role
// the restore connects as are left out: they would replace its password
// with the source server's and lock the restore out of the target.
func applyGlobals(ctx context.Context, log logr.Logger, script []byte, p plan) error {
	log.Info("Applying globals (roles and tablespaces)", "key", p.m.Globals.Key)
	conn, err := connect(ctx, log, p.target, maintenanceDB)
	if err != nil {
		return err
	}
	var self string
	err = conn.QueryRow(ctx, "SELECT current_user").Scan(&self)
	_ = conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return result.Errorf(result.ReasonConnectionFailed, "read current user: %w", err)
	}
	script, dropped := withoutRole(script, self)
	if dropped > 0 {
		log.Info("Globals: left out the statements about the connecting role", "role", self, "statements", dropped)
	}
	psql, err := pgdump.Find("psql")
	if err != nil {
		return err
	}
	cmd, cleanup, err := toolCommand(p, psql, []string{"-X", "-q", "--no-password", "-d", p.target.conninfo(maintenanceDB), "-f", "-"})
	if err != nil {
		return err
	}
	defer cleanup()
	var notes strings.Builder
	cmd.Stderr = &notes
	err = pgdump.Feed(ctx, cmd, bytes.NewReader(script))
	for _, line := range strings.Split(strings.TrimSpace(notes.String()), "\n") {
		if line != "" {
			log.Info("Globals: statement skipped (warning)", "psql", line)
			if p.warn != nil {
				p.warn("globals: " + line)
			}
		}
	}
	return err
}

// withoutRole drops pg_dumpall's one-line CREATE ROLE and ALTER ROLE
// statements about role (written plain or quoted) from a globals script.
func withoutRole(script []byte, role string) ([]byte, int) {
	names := []string{pgx.Identifier{role}.Sanitize()}
	if plainIdent.MatchString(role) {
		names = append(names, role)
	}
	var out bytes.Buffer
	dropped := 0
	for _, line := range bytes.SplitAfter(script, []byte("\n")) {
		skip := false
		for _, n := range names {
			for _, verb := range []string{"CREATE ROLE ", "ALTER ROLE "} {
				if bytes.HasPrefix(line, []byte(verb+n+";")) || bytes.HasPrefix(line, []byte(verb+n+" ")) {
					skip = true
				}
			}
		}
		if skip {
			dropped++
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), dropped
}

// plainIdent is an identifier pg_dump writes without quotes.
var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)
