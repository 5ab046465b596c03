package verify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// maxMismatches bounds the differing tables kept in the record.
const maxMismatches = 20

// maxIndexFailures bounds the failing indexes kept in the record.
const maxIndexFailures = 20

// undefinedTable is the SQLSTATE of a relation that does not exist.
const undefinedTable = "42P01"

// compareCounts compares the restored row count of every table the
// manifest recorded for obj with the recorded count.
func (r *run) compareCounts(ctx context.Context, conn *pgx.Conn, obj manifest.Object) []string {
	if obj.Tables == nil {
		why := obj.TablesSkipped
		if why == "" {
			why = "the backup was made by an agent that did not count rows (manifest schema 1)"
		}
		r.rec.Tables.NotRecorded = append(r.rec.Tables.NotRecorded, obj.Name)
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("database %s: row counts not compared: %s", obj.Name, why))
		r.log.Info("Row counts not compared (warning)", "database", obj.Name, "why", why)
		return nil
	}
	var problems []string
	for _, t := range obj.Tables {
		var got int64
		err := conn.QueryRow(ctx, "SELECT count(*) FROM ONLY "+pgx.Identifier{t.Schema, t.Name}.Sanitize()).Scan(&got)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == undefinedTable:
			got = -1
		case err != nil:
			problems = append(problems, fmt.Sprintf("database %s: count the rows of %s: %v", obj.Name, qualified(t), err))
			continue
		}
		r.rec.Tables.Checked++
		if got == t.Rows {
			continue
		}
		r.rec.Tables.Mismatched++
		if len(r.rec.Tables.Mismatches) < maxMismatches {
			r.rec.Tables.Mismatches = append(r.rec.Tables.Mismatches, manifest.TableMismatch{Database: obj.Name, Schema: t.Schema, Name: t.Name, Recorded: t.Rows, Restored: got})
		}
		if got < 0 {
			problems = append(problems, fmt.Sprintf("database %s: table %s is missing after the restore (the backup recorded %d rows)", obj.Name, qualified(t), t.Rows))
		} else {
			problems = append(problems, fmt.Sprintf("database %s: table %s: %d rows restored, the backup recorded %d", obj.Name, qualified(t), got, t.Rows))
		}
	}
	return problems
}

// qualified names a table as SQL would, quoting only where needed.
func qualified(t manifest.Table) string {
	quote := func(s string) string {
		if plainIdent.MatchString(s) {
			return s
		}
		return pgx.Identifier{s}.Sanitize()
	}
	return quote(t.Schema) + "." + quote(t.Name)
}

// plainIdent is an identifier that needs no quotes.
var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// btreeIndexes lists the restored B-tree indexes amcheck can check:
// those of tables, not the partitioned indexes of partitioned tables
// (relkind I), which hold no data; their partitions' indexes are checked.
const btreeIndexes = `SELECT c.oid, c.oid::regclass::text FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid
	JOIN pg_am a ON a.oid = c.relam
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE a.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
	  AND n.nspname NOT IN ('pg_catalog', 'pg_toast', 'information_schema')
	ORDER BY 2`

// amcheck checks every restored B-tree index with bt_index_check. A server
// without the extension is a warning: it proves nothing either way.
func (r *run) amcheck(ctx context.Context, log logr.Logger, conn *pgx.Conn, db string) []string {
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
		r.rec.Indexes.Available = false
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("database %s: indexes not checked: amcheck is not available on the scratch server (%v)", db, err))
		log.Info("Indexes not checked: amcheck is not available (warning)", "error", err.Error())
		return nil
	}
	rows, err := conn.Query(ctx, btreeIndexes)
	if err != nil {
		return []string{fmt.Sprintf("database %s: list indexes: %v", db, err)}
	}
	type index struct {
		oid  uint32
		name string
	}
	indexes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (index, error) {
		var i index
		return i, row.Scan(&i.oid, &i.name)
	})
	if err != nil {
		return []string{fmt.Sprintf("database %s: list indexes: %v", db, err)}
	}
	var problems []string
	for _, ix := range indexes {
		r.rec.Indexes.Checked++
		if _, err := conn.Exec(ctx, "SELECT bt_index_check($1::oid::regclass)", ix.oid); err != nil {
			r.rec.Indexes.Failed++
			msg := fmt.Sprintf("database %s: index %s fails amcheck: %v", db, ix.name, err)
			if len(r.rec.Indexes.Failures) < maxIndexFailures {
				r.rec.Indexes.Failures = append(r.rec.Indexes.Failures, msg)
			}
			problems = append(problems, msg)
		}
	}
	log.Info("Indexes checked with amcheck", "indexes", len(indexes), "failed", r.rec.Indexes.Failed)
	return problems
}

// runCheck runs one user check in a read-only transaction with a
// statement timeout. It passes only if the query returns a row whose
// first column is boolean true.
func runCheck(ctx context.Context, conn *pgx.Conn, c Check, timeout time.Duration) manifest.CheckResult {
	res := manifest.CheckResult{Name: c.Name, Database: c.Database}
	fail := func(format string, args ...any) manifest.CheckResult {
		res.Message = fmt.Sprintf(format, args...)
		return res
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail("begin: %v", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds())); err != nil {
		return fail("set statement_timeout: %v", err)
	}
	rows, err := tx.Query(ctx, c.SQL)
	if err != nil {
		return fail("%v", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fail("%v", err)
		}
		return fail("returned no rows (a check must return one row whose first column is true)")
	}
	vals, err := rows.Values()
	if err != nil {
		return fail("%v", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail("%v", err)
	}
	if len(vals) == 0 {
		return fail("returned no columns")
	}
	switch v := vals[0].(type) {
	case bool:
		if !v {
			return fail("returned false")
		}
	case nil:
		return fail("returned NULL")
	default:
		return fail("returned %T, not a boolean (write the check as a condition, e.g. SELECT count(*) > 0 FROM ...)", v)
	}
	res.OK = true
	return res
}
