package backup_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// selectionSQL adds to seedSQL what a user leaves out of a backup: a
// scratch schema, a log table whose rows are not worth keeping, and a
// table with a name that looks like an option.
const selectionSQL = seedSQL + `
CREATE SCHEMA scratch;
CREATE TABLE scratch.junk (id int);
INSERT INTO scratch.junk SELECT generate_series(1, 100);
CREATE TABLE events (id int, payload text);
INSERT INTO events SELECT g, 'e' || g FROM generate_series(1, 1000) g;
CREATE TABLE "--file=x" (id int);
INSERT INTO "--file=x" VALUES (1);
GRANT SELECT ON orders TO PUBLIC;
`

// What to dump: excluded databases, per-database filters and extra
// options reach pg_dump, narrow the stored dump exactly, and are recorded
// in the manifest; selections that would store less than asked (an include
// pattern matching nothing) or change the output are refused loudly.
func TestBackupSelection(t *testing.T) {
	e := newEnv(t, 17, selectionSQL)
	setup := e.PG.Connect(t, e.PG.Database)
	for _, db := range []string{"second", "throwaway"} {
		if _, err := setup.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("filters, exclusions and extra options", func(t *testing.T) {
		filters := `[{"database":"app","excludeSchemas":["scratch"],"excludeTableData":["public.events"],"excludeTables":["public.\"--file=x\""]},` +
			`{"database":"dropped_long_ago","excludeTables":["t"]}]`
		run := e.backup(t, map[string]string{"PGBACKUP_DUMP_FILTERS": filters},
			"--exclude-databases", "throwaway,postgres", "--pg-dump-extra-args", "--no-owner,--no-privileges")
		if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
			t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
		}
		if !slices.ContainsFunc(run.Result.Warnings, func(w string) bool { return strings.Contains(w, `"dropped_long_ago" is not dumped`) }) {
			t.Errorf("no warning about the filter of a database that is not dumped: %q", run.Result.Warnings)
		}
		m, err := manifest.Unmarshal(e.get(t, "pg/"+run.Result.BackupID+"/manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.ExcludedDatabases, []string{"postgres", "throwaway"}) && !slices.Equal(m.ExcludedDatabases, []string{"throwaway", "postgres"}) {
			t.Errorf("excludedDatabases = %q, want postgres and throwaway", m.ExcludedDatabases)
		}
		var names []string
		for _, d := range m.Databases {
			names = append(names, d.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"app", "second"}) {
			t.Fatalf("dumped %q, want app and second", names)
		}
		app, _ := m.Database("app")
		wantApp := []string{"--strict-names", "--exclude-schema=scratch", `--exclude-table=public."--file=x"`, "--exclude-table-data=public.events", "--no-owner", "--no-privileges"}
		if !slices.Equal(app.PgDumpOptions, wantApp) {
			t.Errorf("app pgDumpOptions = %q, want %q", app.PgDumpOptions, wantApp)
		}
		second, _ := m.Database("second")
		if !slices.Equal(second.PgDumpOptions, []string{"--strict-names", "--no-owner", "--no-privileges"}) {
			t.Errorf("second pgDumpOptions = %q", second.PgDumpOptions)
		}
		var tables []string
		for _, tb := range app.Tables {
			tables = append(tables, tb.Schema+"."+tb.Name)
		}
		slices.Sort(tables)
		if !slices.Equal(tables, []string{"public.customers", "public.orders"}) {
			t.Errorf("row counts recorded for %q, want only public.customers and public.orders", tables)
		}

		// The stored archive, read by pg_restore: the events table is
		// there without its data, the scratch schema and the excluded
		// table are not, and no privilege (the GRANT above) is recorded.
		// (--no-owner affects only the plain format: pg_restore decides
		// ownership of an archive.)
		zr, err := compress.Default.NewReader(strings.NewReader(string(e.get(t, app.Key))))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		tools := toolbox(t, e)
		if err := tools.Container.CopyToContainer(context.Background(), raw, "/tmp/app.dump", 0o644); err != nil {
			t.Fatal(err)
		}
		list := execIn(t, tools, "pg_restore", "--list", "/tmp/app.dump")
		for _, want := range []string{"TABLE public events", "TABLE DATA public orders"} {
			if !strings.Contains(list, want) {
				t.Errorf("pg_restore --list lacks %q:\n%s", want, list)
			}
		}
		for _, unwanted := range []string{"TABLE DATA public events", "scratch", "--file=x", "ACL "} {
			if strings.Contains(list, unwanted) {
				t.Errorf("pg_restore --list has %q:\n%s", unwanted, list)
			}
		}
	})

	t.Run("an include pattern that matches nothing fails the dump", func(t *testing.T) {
		before := e.S3.ObjectKeys(t, e.Bucket, "")
		run := e.backup(t, map[string]string{"PGBACKUP_DUMP_FILTERS": `[{"database":"app","schemas":["sales"]}]`}, "--databases", "app")
		expectFailure(t, run, 4, result.ReasonDumpFailed, "no matching schemas were found")
		if after := e.S3.ObjectKeys(t, e.Bucket, ""); !slices.Equal(before, after) {
			t.Errorf("the failed run changed the bucket: %q -> %q", before, after)
		}
	})

	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		message string
	}{
		{name: "an output-changing option", args: []string{"--pg-dump-extra-args", "--file=/tmp/x"}, message: `--pg-dump-extra-args "--file=/tmp/x": refused`},
		{name: "a connection option", args: []string{"--pg-dump-extra-args", "--host=elsewhere"}, message: "a connection option"},
		{name: "a misspelt filter field", env: map[string]string{"PGBACKUP_DUMP_FILTERS": `[{"database":"app","excludeTable":["events"]}]`}, message: `unknown field "excludeTable"`},
		{name: "a database both dumped and excluded", args: []string{"--databases", "app", "--exclude-databases", "app"}, message: "also in --databases"},
		{name: "nothing left to dump", args: []string{"--exclude-databases", "app,second,throwaway,postgres"}, message: "--exclude-databases leaves none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.S3.ObjectKeys(t, e.Bucket, "")
			run := e.backup(t, tc.env, tc.args...)
			expectFailure(t, run, 2, result.ReasonConfigInvalid, tc.message)
			if after := e.S3.ObjectKeys(t, e.Bucket, ""); !slices.Equal(before, after) {
				t.Errorf("a refused run changed the bucket: %q -> %q", before, after)
			}
		})
	}
}
