package restore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// These tests drive the pgbackup binary the way an operator does: backups
// with `pgbackup backup`, then `pgbackup list` and `pgbackup restore`, each
// run in a container on a private network with a real PostgreSQL and a real
// S3-compatible server. Restored databases are compared with their source
// object by object and row by row (see takeSnapshot).

// env is one test's world: PostgreSQL of the newest major (18; the usual
// source and the restore target) and S3 on a private network.
type env struct{ *fixtures.Stack }

func newEnv(t *testing.T, initSQL string) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs Docker; run without -short")
	}
	return &env{fixtures.StartStack(t, fixtures.NewestPostgresMajor(), initSQL)}
}

// realisticSQL is testdata/realistic.sql: the schema and data every round
// trip must carry over unchanged.
func realisticSQL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/realistic.sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// s3Env is the AWS SDK's standard configuration. list and restore get
// nothing else: the restore target comes from --target alone.
func (e *env) s3Env() map[string]string { return e.S3Env() }

// agentEnv is the backup agent's production configuration for dumping src.
func (e *env) agentEnv(src *fixtures.Postgres) map[string]string { return e.AgentEnv(src) }

func (e *env) dest(prefix string) string { return e.Destination(prefix) }

// run runs pgbackup with args and checks what every run must honour: no
// password of any server in the output.
func (e *env) run(t *testing.T, vars map[string]string, args ...string) fixtures.AgentRun {
	t.Helper()
	run := fixtures.RunAgent(t, fixtures.Agent{Args: args, Env: vars, Network: e.Network})
	t.Logf("pgbackup %s: exit %d in %v", args[0], run.ExitCode, run.Duration.Round(time.Millisecond))
	if strings.Contains(run.Output, e.PG.Password) {
		t.Errorf("the PostgreSQL password appears in the output of pgbackup %s:\n%s", strings.Join(args, " "), run.Output)
	}
	return run
}

// backup dumps database app of src (plus --databases etc. from args) under
// prefix and returns the backup id.
func (e *env) backup(t *testing.T, src *fixtures.Postgres, prefix string, args ...string) string {
	t.Helper()
	run := e.run(t, e.agentEnv(src), append([]string{"backup", "--destination", e.dest(prefix)}, args...)...)
	if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded || run.Result.BackupID == "" {
		t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
	}
	return run.Result.BackupID
}

// restore runs `pgbackup restore --destination s3://BUCKET/prefix args...`.
func (e *env) restore(t *testing.T, prefix string, args ...string) fixtures.AgentRun {
	t.Helper()
	return e.run(t, e.s3Env(), append([]string{"restore", "--destination", e.dest(prefix)}, args...)...)
}

// mustRestore restores and fails the test unless the restore succeeded.
func (e *env) mustRestore(t *testing.T, prefix string, args ...string) {
	t.Helper()
	if run := e.restore(t, prefix, args...); run.ExitCode != 0 {
		t.Fatalf("restore %v: exit %d, want 0; output:\n%s", args, run.ExitCode, run.Output)
	}
}

func (e *env) list(t *testing.T, prefix string, args ...string) fixtures.AgentRun {
	t.Helper()
	run := e.run(t, e.s3Env(), append([]string{"list", "--destination", e.dest(prefix)}, args...)...)
	if run.ExitCode != 0 {
		t.Fatalf("list: exit %d, want 0; output:\n%s", run.ExitCode, run.Output)
	}
	return run
}

// target is the --target URL of database db on pg, as seen from the
// agent's container.
func target(pg *fixtures.Postgres, db string) string { return pg.InternalDSN(db) }

// expectFailure checks a failed run: the exit code, and the one error line
// on stderr (returned). The result file, when a subcommand writes one, must
// agree.
func expectFailure(t *testing.T, run fixtures.AgentRun, code int, reason result.Reason) string {
	t.Helper()
	if run.ExitCode != code {
		t.Fatalf("exit code %d, want %d (%s); output:\n%s", run.ExitCode, code, reason, run.Output)
	}
	var lines []string
	for _, l := range strings.Split(run.Output, "\n") {
		if strings.HasPrefix(l, "pgbackup: error:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want exactly one line starting with %q, got %d; output:\n%s", "pgbackup: error:", len(lines), run.Output)
	}
	if run.Result != nil && run.Result.Reason != reason {
		t.Errorf("result reason %q, want %q", run.Result.Reason, reason)
	}
	t.Logf("error line: %s", lines[0])
	return lines[0]
}

// ---------------------------------------------------------------------------
// Database comparison
// ---------------------------------------------------------------------------

// snapshot is what a database holds, as sorted lines per aspect ("data",
// "constraints", ...). Two databases with equal snapshots have the same
// schema objects, the same rows, the same sequence states and the same
// large objects. Lines name objects (never OIDs, except large objects',
// which pg_dump preserves), so they compare across servers.
type snapshot struct {
	major   int
	aspects map[string][]string
}

// versionDependent are aspects whose text the server's deparser writes and
// which change between major versions for the same object (PostgreSQL 16
// stopped qualifying columns in single-table views, for example). Across
// versions, the views' rows (under "data") stand in for their text.
var versionDependent = []string{"viewdefs"}

// userSchemas selects the namespaces (alias n) that hold user objects.
const userSchemas = `n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'`

// catalogueQueries each return one text column; the key is the aspect.
var catalogueQueries = map[string]string{
	"relations": `
		SELECT format('%I.%I kind=%s persistence=%s owner=%s acl=%s options=%s partkey=%s bound=%s',
			n.nspname, c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
			coalesce(c.relacl::text, '-'), coalesce(array_to_string(c.reloptions, ','), '-'),
			CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '-' END,
			coalesce(pg_get_expr(c.relpartbound, c.oid), '-'))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE ` + userSchemas,
	"columns": `
		SELECT format('%I.%I #%s %I %s%s%s%s%s', n.nspname, c.relname,
			row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
			format_type(a.atttypid, a.atttypmod),
			CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
			CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END,
			CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END,
			coalesce(' EXPR ' || pg_get_expr(d.adbin, d.adrelid), ''))
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'c', 'f') AND ` + userSchemas,
	"functions": `
		SELECT format('%I.%I(%s) returns %s language=%s kind=%s volatility=%s strict=%s secdef=%s config=%s source-md5=%s',
			n.nspname, p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname,
			p.prokind, p.provolatile, p.proisstrict, p.prosecdef, coalesce(array_to_string(p.proconfig, ','), '-'), md5(p.prosrc))
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE ` + userSchemas,
	// contype 'n' is left out: PostgreSQL 17 records domain NOT NULL as a
	// constraint row, 15 does not, and columns' NOT NULL is under "columns".
	"constraints": `
		SELECT format('%s: %I type=%s validated=%s %s', coalesce(c.conrelid::regclass::text, c.contypid::regtype::text),
			c.conname, c.contype, c.convalidated, pg_get_constraintdef(c.oid))
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE c.contype <> 'n' AND ` + userSchemas,
	"indexes": `
		SELECT pg_get_indexdef(i.indexrelid) || format(' unique=%s primary=%s valid=%s', i.indisunique, i.indisprimary, i.indisvalid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE ` + userSchemas,
	"triggers": `
		SELECT pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT t.tgisinternal AND ` + userSchemas,
	"types": `
		SELECT format('%I.%I type=%s base=%s notnull=%s default=%s labels=%s', n.nspname, t.typname, t.typtype,
			CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '-' END,
			t.typnotnull, coalesce(t.typdefault, '-'),
			coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-'))
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE ` + userSchemas,
	"viewdefs": `
		SELECT format('%I.%I populated=%s: %s', n.nspname, c.relname, c.relispopulated, pg_get_viewdef(c.oid))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('v', 'm') AND ` + userSchemas,
	"schemas": `
		SELECT format('%I owner=%s', n.nspname, pg_get_userbyid(n.nspowner)) FROM pg_namespace n WHERE ` + userSchemas,
	"extensions": `SELECT extname || ' ' || extversion FROM pg_extension`,
	// Objects made after initdb; pg_describe_object names them.
	"comments": `
		SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
		FROM pg_description d WHERE d.objoid >= 16384`,
	"largeobjects": `
		SELECT format('large object %s owner=%s bytes=%s md5=%s', m.oid, pg_get_userbyid(m.lomowner),
			length(lo_get(m.oid)), md5(lo_get(m.oid)))
		FROM pg_largeobject_metadata m`,
}

// sessionSettings make values render the same on every server.
const sessionSettings = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
SET extra_float_digits = 1; SET bytea_output = 'hex'; SET search_path = pg_catalog`

// takeSnapshot reads database db of pg.
func takeSnapshot(t *testing.T, pg *fixtures.Postgres, db string) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSNFor(db))
	if err != nil {
		t.Fatalf("connect to %s on postgres %d: %v", db, pg.Major, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, sessionSettings); err != nil {
		t.Fatal(err)
	}
	s := snapshot{major: pg.Major, aspects: map[string][]string{}}
	for aspect, q := range catalogueQueries {
		s.aspects[aspect] = queryLines(ctx, t, conn, q)
	}
	s.aspects["sequences"] = sequenceStates(ctx, t, conn)
	s.aspects["data"] = tableDigests(ctx, t, conn)
	for _, lines := range s.aspects {
		slices.Sort(lines)
	}
	return s
}

func queryLines(ctx context.Context, t *testing.T, conn *pgx.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return lines
}

// sequenceStates: every sequence's definition, owner column and state
// (last_value and is_called, read from the sequence itself).
func sequenceStates(ctx context.Context, t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	defs := queryLines(ctx, t, conn, `
		SELECT format('%I.%I', n.nspname, c.relname) || E'\t' ||
			format('type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned-by=%s',
				s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
				coalesce((SELECT format('%s.%I(%s)', d.refobjid::regclass, a.attname, d.deptype)
				          FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
				          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
				            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-'))
		FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'S' AND `+userSchemas)
	var out []string
	for _, def := range defs {
		name, params, _ := strings.Cut(def, "\t")
		var last int64
		var called bool
		if err := conn.QueryRow(ctx, "SELECT last_value, is_called FROM "+name).Scan(&last, &called); err != nil {
			t.Fatalf("read sequence %s: %v", name, err)
		}
		out = append(out, fmt.Sprintf("%s %s last_value=%d is_called=%v", name, params, last, called))
	}
	return out
}

// tableDigests: row count and a digest of the sorted rows of every table,
// partition, partitioned table, view and populated materialized view.
func tableDigests(ctx context.Context, t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	names := queryLines(ctx, t, conn, `
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE (c.relkind IN ('r', 'p', 'v') OR (c.relkind = 'm' AND c.relispopulated)) AND `+userSchemas)
	var out []string
	for _, name := range names {
		var rows int64
		var digest string
		q := `SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text COLLATE "C")), '-') FROM ` + name + ` t`
		if err := conn.QueryRow(ctx, q).Scan(&rows, &digest); err != nil {
			t.Fatalf("digest %s: %v", name, err)
		}
		out = append(out, fmt.Sprintf("%s rows=%d md5=%s", name, rows, digest))
	}
	return out
}

// diff describes how got differs from want, aspect by aspect: lines only
// in want ("-") and only in got ("+"). Empty when they are equal.
func (want snapshot) diff(got snapshot) string {
	var b strings.Builder
	aspects := make([]string, 0, len(want.aspects))
	for a := range want.aspects {
		if want.major != got.major && slices.Contains(versionDependent, a) {
			continue
		}
		aspects = append(aspects, a)
	}
	slices.Sort(aspects)
	for _, a := range aspects {
		missing, extra := setDiff(want.aspects[a], got.aspects[a]), setDiff(got.aspects[a], want.aspects[a])
		if len(missing) == 0 && len(extra) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s: %d missing, %d unexpected\n", a, len(missing), len(extra))
		const show = 15
		for i, l := range missing {
			if i == show {
				fmt.Fprintf(&b, "  ... %d more\n", len(missing)-show)
				break
			}
			fmt.Fprintf(&b, "  - %s\n", l)
		}
		for i, l := range extra {
			if i == show {
				fmt.Fprintf(&b, "  ... %d more\n", len(extra)-show)
				break
			}
			fmt.Fprintf(&b, "  + %s\n", l)
		}
	}
	return b.String()
}

// setDiff returns the lines of a that are not in b (a and b sorted).
func setDiff(a, b []string) []string {
	var out []string
	for _, l := range a {
		if _, found := slices.BinarySearch(b, l); !found {
			out = append(out, l)
		}
	}
	return out
}

// requireSame fails the test with the precise differences between the
// source and the restored database.
func requireSame(t *testing.T, source snapshot, srcName string, restored snapshot, dstName string) {
	t.Helper()
	if source.major != restored.major {
		t.Logf("PostgreSQL %d -> %d: %v compared through the views' rows, not their text", source.major, restored.major, versionDependent)
	}
	if d := source.diff(restored); d != "" {
		t.Fatalf("%s differs from its source %s (- only in the source, + only in the restore):\n%s", dstName, srcName, d)
	}
}

// checkRealistic makes sure a snapshot of testdata/realistic.sql saw what
// the file made, so that an equal comparison means something.
func checkRealistic(t *testing.T, s snapshot) {
	t.Helper()
	want := map[string][]string{
		"data": {"shop.orders rows=3000 ", "shop.order_summary rows=3000 ", "shop.order_lines rows=6000 ", "shop.events rows=5000 ", "shop.events_2024 rows=",
			"shop.\"Audit Log\" rows=60 ", "public.measurements rows=1200 ", "shop.daily_revenue rows="},
		"sequences":    {"shop.invoice_no_seq ", "last_value=987654321 is_called=true", "shop.ticket_seq "},
		"largeobjects": {"large object "},
		"types":        {"shop.order_status type=e base=- notnull=f default=- labels=new,paid,packed,shipped,cancelled", "shop.email type=d"},
		"triggers":     {"CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders"},
		"constraints":  {"EXCLUDE USING gist (during WITH &&)", "UNIQUE NULLS NOT DISTINCT (parent_id, name)", "DEFERRABLE INITIALLY DEFERRED"},
		"indexes":      {"CREATE UNIQUE INDEX customers_email_lower ON shop.customers USING btree (lower((email)::text))", " WHERE vip"},
		"viewdefs":     {"shop.order_summary populated=t:", "shop.daily_revenue populated=t:"},
		"functions":    {"shop.customer_revenue(p_customer integer, p_since timestamp with time zone DEFAULT '-infinity'::timestamp with time zone)"},
		"comments":     {"large object ", "First attachment", "Clickstream, partitioned by year"},
		"relations":    {"shop.events kind=p", "shop.events_other kind=r", "shop.daily_revenue kind=m", "shop.order_summary kind=v"},
	}
	for aspect, needles := range want {
		for _, needle := range needles {
			if !slices.ContainsFunc(s.aspects[aspect], func(l string) bool { return strings.Contains(l, needle) }) {
				t.Fatalf("the source database lacks %q in %s (testdata/realistic.sql not loaded?):\n%s", needle, aspect, strings.Join(s.aspects[aspect], "\n"))
			}
		}
	}
	if n := len(s.aspects["largeobjects"]); n != 4 {
		t.Fatalf("source has %d large objects, want 4", n)
	}
}

func databaseExists(t *testing.T, pg *fixtures.Postgres, db string) bool {
	t.Helper()
	var exists bool
	if err := pg.Connect(t, pg.Database).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// userObjects counts what a restore leaves behind in db: relations in user
// schemas, user schemas besides public, and large objects.
func userObjects(t *testing.T, pg *fixtures.Postgres, db string) (relations, schemas, largeObjects int) {
	t.Helper()
	conn := pg.Connect(t, db)
	err := conn.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE `+userSchemas+`),
		       (SELECT count(*) FROM pg_namespace n WHERE n.nspname <> 'public' AND `+userSchemas+`),
		       (SELECT count(*) FROM pg_largeobject_metadata)`).Scan(&relations, &schemas, &largeObjects)
	if err != nil {
		t.Fatal(err)
	}
	return relations, schemas, largeObjects
}

func execSQL(t *testing.T, pg *fixtures.Postgres, db string, statements ...string) {
	t.Helper()
	conn := pg.Connect(t, db)
	for _, s := range statements {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// ---------------------------------------------------------------------------
// S3 helpers
// ---------------------------------------------------------------------------

func (e *env) get(t *testing.T, key string) []byte { return e.Get(t, key) }

func (e *env) put(t *testing.T, key string, body []byte) { e.Put(t, key, body) }

func (e *env) manifest(t *testing.T, prefix, id string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Unmarshal(e.get(t, manifest.Key(prefix, id)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// printed is what a run printed for people: its output without the JSON
// log lines (the container's output mixes stdout and stderr).
func printed(output string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(output, "\n") {
		if !strings.HasPrefix(l, "{") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// parseList finds the JSON array `list -o json` printed on stdout among
// the JSON log lines of stderr (the container's output has both).
func parseList(t *testing.T, output string) []manifest.Manifest {
	t.Helper()
	lines := strings.SplitAfter(output, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "[") {
			continue
		}
		var ms []manifest.Manifest
		if err := json.NewDecoder(strings.NewReader(strings.Join(lines[i:], ""))).Decode(&ms); err == nil {
			return ms
		}
	}
	t.Fatalf("no JSON array in the output of list -o json:\n%s", output)
	return nil
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// TestRestoreRoundTrip backs up testdata/realistic.sql and restores it in
// every way a restore can run, comparing each restore with its source.
func TestRestoreRoundTrip(t *testing.T) {
	sql := realisticSQL(t)
	e := newEnv(t, sql)
	src := takeSnapshot(t, e.PG, "app")
	checkRealistic(t, src)
	customID := e.backup(t, e.PG, "custom", "--databases", "app", "--format", "custom")

	t.Run(fmt.Sprintf("custom/postgres-%d-to-%[1]d", e.PG.Major), func(t *testing.T) {
		e.mustRestore(t, "custom", "--backup", customID, "--target", target(e.PG, "rt_custom"), "--create")
		requireSame(t, src, "app", takeSnapshot(t, e.PG, "rt_custom"), "rt_custom")
	})

	// Restores into a newer major: a backup of every older fixture server
	// (15 and 17), restored into the newest (18) with its pg_restore.
	for _, major := range fixtures.PostgresMajors {
		if major >= e.PG.Major {
			continue
		}
		t.Run(fmt.Sprintf("custom/postgres-%d-to-%d", major, e.PG.Major), func(t *testing.T) {
			alias := fmt.Sprintf("pg%d", major)
			old := fixtures.StartPostgres(t, major, fixtures.WithPostgresNetwork(e.Network, alias), fixtures.WithInitSQL(sql))
			srcOld := takeSnapshot(t, old, "app")
			checkRealistic(t, srcOld)
			id := e.backup(t, old, alias, "--databases", "app", "--compression", "none")
			if m := e.manifest(t, alias, id); m.Server.VersionNum/10000 != major {
				t.Fatalf("the backup's server is %s, want PostgreSQL %d", m.Server.Version, major)
			}
			// No --backup: latest, the only one under this prefix.
			db := "rt_from" + alias
			e.mustRestore(t, alias, "--target", target(e.PG, db), "--create")
			requireSame(t, srcOld, fmt.Sprintf("app on PostgreSQL %d", major), takeSnapshot(t, e.PG, db), fmt.Sprintf("%s on PostgreSQL %d", db, e.PG.Major))
		})
	}

	t.Run("plain", func(t *testing.T) {
		id := e.backup(t, e.PG, "plain", "--databases", "app", "--format", "plain", "--compression", "gzip:6")
		if m := e.manifest(t, "plain", id); m.Format != manifest.FormatPlain {
			t.Fatalf("backup format %s, want plain", m.Format)
		}
		e.mustRestore(t, "plain", "--backup", id, "--target", target(e.PG, "rt_plain"), "--create")
		requireSame(t, src, "app", takeSnapshot(t, e.PG, "rt_plain"), "rt_plain")
	})

	t.Run("jobs-4", func(t *testing.T) {
		run := e.restore(t, "custom", "--backup", customID, "--target", target(e.PG, "rt_jobs"), "--create", "--jobs", "4", "--spool-dir", "/tmp")
		if run.ExitCode != 0 {
			t.Fatalf("restore --jobs 4: exit %d, want 0; output:\n%s", run.ExitCode, run.Output)
		}
		// pg_restore -j read the archive through the offsets the agent
		// filled in: one per table with data.
		if !regexp.MustCompile(`"msg":"Filled in the archive's data offsets"[^\n]*"entries":[1-9]`).MatchString(run.Output) {
			t.Errorf("the downloaded archive's data offsets were not filled in; output:\n%s", run.Output)
		}
		requireSame(t, src, "app", takeSnapshot(t, e.PG, "rt_jobs"), "rt_jobs")
	})

	t.Run("jobs-4 with an unusable spool dir", func(t *testing.T) {
		// --spool-dir is really where the download goes: a directory that
		// does not exist fails the restore, which leaves nothing behind.
		run := e.restore(t, "custom", "--backup", customID, "--target", target(e.PG, "rt_nospool"), "--create",
			"--jobs", "4", "--spool-dir", "/nonexistent/spool")
		if run.ExitCode == 0 {
			t.Fatalf("restore with --spool-dir /nonexistent/spool succeeded; output:\n%s", run.Output)
		}
		if line := expectFailure(t, run, run.ExitCode, ""); !strings.Contains(line, "/nonexistent/spool") {
			t.Errorf("the error does not name the spool directory: %s", line)
		}
		if databaseExists(t, e.PG, "rt_nospool") {
			if rels, _, _ := userObjects(t, e.PG, "rt_nospool"); rels != 0 {
				t.Errorf("a failed restore left %d relations in rt_nospool", rels)
			}
		}
	})
}

// TestRestoreSafety checks the safety rails: --dry-run changes nothing, a
// non-empty target is refused unless --clean, and a corrupt object never
// reaches the target.
func TestRestoreSafety(t *testing.T) {
	e := newEnv(t, realisticSQL(t))
	src := takeSnapshot(t, e.PG, "app")
	checkRealistic(t, src)
	id := e.backup(t, e.PG, "pg", "--databases", "app")

	t.Run("dry-run", func(t *testing.T) {
		keys := e.S3.ObjectKeys(t, e.Bucket, "")
		run := e.restore(t, "pg", "--target", target(e.PG, "dry_target"), "--create", "--dry-run")
		if run.ExitCode != 0 {
			t.Fatalf("dry run: exit %d; output:\n%s", run.ExitCode, run.Output)
		}
		plan := printed(run.Output)
		for _, want := range []string{id, "app", "dry_target"} {
			if !strings.Contains(plan, want) {
				t.Errorf("the plan does not mention %q (backup id, database, target):\n%s", want, run.Output)
			}
		}
		if databaseExists(t, e.PG, "dry_target") {
			t.Error("--dry-run --create created the target database")
		}
		if after := e.S3.ObjectKeys(t, e.Bucket, ""); !slices.Equal(keys, after) {
			t.Errorf("--dry-run changed the bucket: %v -> %v", keys, after)
		}
	})

	t.Run("non-empty target", func(t *testing.T) {
		e.mustRestore(t, "pg", "--backup", id, "--target", target(e.PG, "twice"), "--create")
		requireSame(t, src, "app", takeSnapshot(t, e.PG, "twice"), "twice")

		// Change the restored database: refusals must leave these changes.
		execSQL(t, e.PG, "twice",
			"UPDATE shop.customers SET notes = 'changed after the restore' WHERE id <= 10",
			"DELETE FROM public.measurements WHERE id > 1000",
			"SELECT setval('shop.invoice_no_seq', 5)",
			"DROP VIEW shop.order_summary",
			"SELECT lo_unlink(min(oid)) FROM pg_largeobject_metadata")
		changed := takeSnapshot(t, e.PG, "twice")
		d := src.diff(changed)
		for _, want := range []string{"data:", "sequences:", "relations:", "largeobjects:", "shop.customers rows=600", "public.measurements rows=1000"} {
			if !strings.Contains(d, want) {
				t.Fatalf("the comparison does not see the changes (no %q in the diff):\n%s", want, d)
			}
		}

		for _, tc := range []struct {
			name  string
			extra []string
		}{
			{"without --clean", nil},
			{"with --create", []string{"--create"}},
		} {
			run := e.restore(t, "pg", append([]string{"--backup", id, "--target", target(e.PG, "twice")}, tc.extra...)...)
			line := expectFailure(t, run, 7, result.ReasonRefused)
			if !strings.Contains(line, "twice") || !strings.Contains(line, "--clean") {
				t.Errorf("%s: the refusal should name the database and --clean: %s", tc.name, line)
			}
			requireSame(t, changed, "twice before the refused restore", takeSnapshot(t, e.PG, "twice"), "twice after it ("+tc.name+")")
		}

		run := e.restore(t, "pg", "--backup", id, "--target", target(e.PG, "twice"), "--clean", "--dry-run")
		if run.ExitCode != 0 {
			t.Fatalf("dry run with --clean: exit %d; output:\n%s", run.ExitCode, run.Output)
		}
		requireSame(t, changed, "twice before --clean --dry-run", takeSnapshot(t, e.PG, "twice"), "twice after it")

		// pg_restore --clean cannot drop the primary keys of a partitioned
		// table's partitions ("cannot drop inherited constraint"; plain
		// pg_restore 17 fails the same way on this schema). The restore must
		// say so, with the way out, and leave the target as it was: it ran in
		// one transaction. (--clean on a schema without partitioned tables
		// succeeds: TestRestoreSelection.)
		run = e.restore(t, "pg", "--backup", id, "--target", target(e.PG, "twice"), "--clean")
		if run.ExitCode != 4 || !strings.Contains(run.Output, "cannot drop inherited constraint") ||
			!strings.Contains(run.Output, "--create instead") || !strings.Contains(run.Output, "rolled back") {
			t.Fatalf("restore --clean over partitioned tables: exit %d, want 4 with the hint; output:\n%s", run.ExitCode, run.Output)
		}
		requireSame(t, changed, "twice before the failed --clean", takeSnapshot(t, e.PG, "twice"), "twice after it")
	})

	t.Run("corrupt object/custom zstd into a new database", func(t *testing.T) {
		cid := e.backup(t, e.PG, "corrupt", "--databases", "app")
		obj := e.manifest(t, "corrupt", cid).Databases[0]
		stored := e.get(t, obj.Key)
		stored[len(stored)/2] ^= 0xff
		e.put(t, obj.Key, stored)
		if sha256Hex(e.get(t, obj.Key)) == obj.SHA256 {
			t.Fatal("the object still matches its manifest after the flip")
		}

		run := e.restore(t, "corrupt", "--backup", cid, "--target", target(e.PG, "from_corrupt"), "--create")
		line := expectFailure(t, run, 6, result.ReasonIntegrityFailed)
		checkLeftAlone(t, e.PG, "from_corrupt", line)
	})

	t.Run("corrupt object/plain uncompressed into an existing empty database", func(t *testing.T) {
		// The hardest case for "leaves the target untouched": psql executes
		// a plain dump as it arrives, and pg_dump's plain output has its
		// own BEGIN/COMMIT around large objects. The flipped byte keeps the
		// SQL valid (a digit of a price becomes another digit), so only the
		// checksum can catch it, at the very end of the stream.
		cid := e.backup(t, e.PG, "corrupt-plain", "--databases", "app", "--format", "plain", "--compression", "none")
		obj := e.manifest(t, "corrupt-plain", cid).Databases[0]
		stored := e.get(t, obj.Key)
		pos := priceDigit(t, stored)
		stored[pos] ^= 0x01 // '0'<->'1', '2'<->'3', ...: still a digit
		e.put(t, obj.Key, stored)

		execSQL(t, e.PG, e.PG.Database, "CREATE DATABASE from_corrupt_plain")
		run := e.restore(t, "corrupt-plain", "--backup", cid, "--target", target(e.PG, "from_corrupt_plain"))
		line := expectFailure(t, run, 6, result.ReasonIntegrityFailed)
		if !databaseExists(t, e.PG, "from_corrupt_plain") {
			t.Fatal("the restore dropped a target database it did not create")
		}
		checkLeftAlone(t, e.PG, "from_corrupt_plain", line)
	})
}

// checkLeftAlone asserts a failed restore left no trace in db: it does not
// exist, or it holds nothing. The error line must name the database, and
// must not claim it was dropped when it is still there.
func checkLeftAlone(t *testing.T, pg *fixtures.Postgres, db, errLine string) {
	t.Helper()
	if !strings.Contains(errLine, db) {
		t.Errorf("the error does not say what became of the target %s: %s", db, errLine)
	}
	if !databaseExists(t, pg, db) {
		return
	}
	if strings.Contains(errLine, "dropped") && !strings.Contains(errLine, "could not be dropped") {
		t.Errorf("the error says the target was dropped, but database %s exists: %s", db, errLine)
	}
	rels, schemas, los := userObjects(t, pg, db)
	if rels != 0 || schemas != 0 || los != 0 {
		t.Errorf("the failed restore left %d relations, %d schemas and %d large objects in %s", rels, schemas, los, db)
	}
}

// priceDigit returns the offset of a digit in the middle of the COPY data
// of shop.order_lines in a plain dump: the last digit of a unit_price,
// which no constraint checks.
func priceDigit(t *testing.T, dump []byte) int {
	t.Helper()
	start := bytes.Index(dump, []byte("COPY shop.order_lines "))
	if start < 0 {
		t.Fatal("the plain dump has no COPY shop.order_lines")
	}
	start += bytes.IndexByte(dump[start:], '\n') + 1
	end := start + bytes.Index(dump[start:], []byte("\n\\.\n"))
	if end < start {
		t.Fatal("the COPY of shop.order_lines does not end")
	}
	mid := start + (end-start)/2
	lineEnd := mid + bytes.IndexByte(dump[mid:], '\n') // end of the line around mid
	lastDigit := lineEnd - 1
	if c := dump[lastDigit]; c < '0' || c > '9' || bytes.Count(dump[bytes.LastIndexByte(dump[:lineEnd], '\n')+1:lineEnd], []byte("\t")) != 4 {
		t.Fatalf("unexpected order_lines row %q", dump[bytes.LastIndexByte(dump[:lineEnd], '\n')+1:lineEnd])
	}
	t.Logf("flipping the last digit of order_lines row %q at offset %d of %d", dump[bytes.LastIndexByte(dump[:lineEnd], '\n')+1:lineEnd], lastDigit, len(dump))
	return lastDigit
}

// selectionSQL is a small database whose content changes between backups.
const selectionSQL = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(12,2));
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 100) g;
INSERT INTO orders (customer, total) SELECT 1 + g % 100, g * 1.5 FROM generate_series(1, 1000) g;
`

// TestRestoreSelection checks which backup and which database a restore
// picks (latest, --at, --backup ID, --database) and what list shows.
func TestRestoreSelection(t *testing.T) {
	e := newEnv(t, selectionSQL)

	// An incomplete backup, newer than every real one: objects, no
	// manifest. list, latest and --at must not see it.
	const incomplete = "20991231T000000Z"
	e.put(t, "pg/"+incomplete+"/app.dump.zst", []byte("a failed run's partial upload"))

	idA := e.backup(t, e.PG, "pg", "--databases", "app")
	snapA := takeSnapshot(t, e.PG, "app")
	time.Sleep(1100 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	execSQL(t, e.PG, "app",
		"UPDATE customers SET name = name || ' (renamed)' WHERE id <= 5",
		"INSERT INTO orders (customer, total) SELECT 1 + g % 100, g FROM generate_series(1, 50) g")
	snapB := takeSnapshot(t, e.PG, "app")
	if snapA.diff(snapB) == "" {
		t.Fatal("the change between the backups is invisible to the comparison")
	}
	idB := e.backup(t, e.PG, "pg", "--databases", "app")
	if idA == idB {
		t.Fatalf("both backups have id %s", idA)
	}
	at := between.Format(time.RFC3339)
	t.Logf("backup A %s, --at %s, backup B %s", idA, at, idB)

	t.Run("list -o json", func(t *testing.T) {
		ms := parseList(t, e.list(t, "pg", "-o", "json").Output)
		if len(ms) != 2 || ms[0].ID != idB || ms[1].ID != idA {
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			t.Fatalf("list shows %v, want [%s %s] (newest first, no incomplete backup)", ids, idB, idA)
		}
		if !ms[0].StartedAt.After(ms[1].StartedAt) {
			t.Errorf("startedAt %v of %s is not after %v of %s", ms[0].StartedAt, idB, ms[1].StartedAt, idA)
		}
		for _, m := range ms {
			if err := m.Validate(); err != nil {
				t.Errorf("manifest %s: %v", m.ID, err)
			}
			if m.Format != manifest.FormatCustom || m.Compression != "zstd:1" || m.Server.VersionNum/10000 != e.PG.Major || len(m.Databases) != 1 || m.Databases[0].Name != "app" {
				t.Errorf("manifest %s: %+v", m.ID, m)
				continue
			}
			// The listed manifest is the stored one, and describes the stored object.
			stored := e.manifest(t, "pg", m.ID)
			if !reflect.DeepEqual(stored.Databases[0], m.Databases[0]) || !stored.StartedAt.Equal(m.StartedAt) {
				t.Errorf("list shows %+v for %s, the stored manifest says %+v", m.Databases[0], m.ID, stored.Databases[0])
			}
			if obj := e.get(t, m.Databases[0].Key); sha256Hex(obj) != m.Databases[0].SHA256 || int64(len(obj)) != m.Databases[0].Size {
				t.Errorf("%s: size/sha256 in the list do not match the stored object", m.Databases[0].Key)
			}
		}
	})

	t.Run("list table", func(t *testing.T) {
		out := e.list(t, "pg").Output
		rowA, rowB := -1, -1
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			switch {
			case strings.HasPrefix(l, idA):
				rowA = i
			case strings.HasPrefix(l, idB):
				rowB = i
			}
		}
		if rowA < 0 || rowB < 0 || rowB > rowA {
			t.Fatalf("the table should list %s then %s, one row each:\n%s", idB, idA, out)
		}
		for _, want := range []string{"app", "custom", "zstd:1"} {
			if !strings.Contains(lines[rowA], want) {
				t.Errorf("row %q lacks %q", lines[rowA], want)
			}
		}
		if strings.Contains(out, incomplete) {
			t.Errorf("the table lists the incomplete backup %s:\n%s", incomplete, out)
		}
	})

	t.Run("list of an empty prefix", func(t *testing.T) {
		if ms := parseList(t, e.list(t, "nothing-here", "-o", "json").Output); len(ms) != 0 {
			t.Fatalf("list of an empty prefix shows %d backups", len(ms))
		}
	})

	t.Run("latest", func(t *testing.T) {
		e.mustRestore(t, "pg", "--target", target(e.PG, "latest"), "--create")
		requireSame(t, snapB, "app when "+idB+" was taken", takeSnapshot(t, e.PG, "latest"), "latest")
	})

	t.Run("--at between the backups", func(t *testing.T) {
		e.mustRestore(t, "pg", "--at", at, "--target", target(e.PG, "at_a"), "--create")
		requireSame(t, snapA, "app when "+idA+" was taken", takeSnapshot(t, e.PG, "at_a"), "at_a (--at "+at+")")
	})

	t.Run("--clean over another backup's restore", func(t *testing.T) {
		// "latest" holds B; replace it with A.
		run := e.restore(t, "pg", "--backup", idA, "--target", target(e.PG, "latest"))
		expectFailure(t, run, 7, result.ReasonRefused)
		e.mustRestore(t, "pg", "--backup", idA, "--target", target(e.PG, "latest"), "--clean")
		requireSame(t, snapA, "app when "+idA+" was taken", takeSnapshot(t, e.PG, "latest"), "latest after --clean with "+idA)
	})

	t.Run("--backup of a missing backup", func(t *testing.T) {
		run := e.restore(t, "pg", "--backup", "20200101T000000Z", "--target", target(e.PG, "missing"), "--create")
		line := expectFailure(t, run, 6, result.ReasonIntegrityFailed)
		if !strings.Contains(line, "20200101T000000Z") {
			t.Errorf("the error does not name the backup: %s", line)
		}
		if databaseExists(t, e.PG, "missing") {
			t.Error("a restore of a missing backup created the target database")
		}
	})

	t.Run("--backup of an incomplete backup", func(t *testing.T) {
		run := e.restore(t, "pg", "--backup", incomplete, "--target", target(e.PG, "incomplete"), "--create")
		expectFailure(t, run, 6, result.ReasonIntegrityFailed)
		if databaseExists(t, e.PG, "incomplete") {
			t.Error("a restore of an incomplete backup created the target database")
		}
	})

	t.Run("several databases", func(t *testing.T) {
		execSQL(t, e.PG, "app", "CREATE DATABASE second")
		execSQL(t, e.PG, "second", "CREATE TABLE only_in_second (id int PRIMARY KEY, v text)",
			"INSERT INTO only_in_second SELECT g, 'v' || g FROM generate_series(1, 77) g")
		second := takeSnapshot(t, e.PG, "second")
		id := e.backup(t, e.PG, "multi", "--databases", "app,second")

		run := e.restore(t, "multi", "--backup", id, "--target", target(e.PG, "which"), "--create")
		line := expectFailure(t, run, 2, result.ReasonConfigInvalid)
		if !strings.Contains(line, "--database") {
			t.Errorf("the error should point at --database: %s", line)
		}
		if databaseExists(t, e.PG, "which") {
			t.Error("a refused restore created the target database")
		}

		e.mustRestore(t, "multi", "--backup", id, "--database", "second", "--target", target(e.PG, "which"), "--create")
		requireSame(t, second, "second", takeSnapshot(t, e.PG, "which"), "which")
	})
}

// store is the test's bucket as the agent's own storage.Store, from the
// test process.
func (e *env) store(t *testing.T) storage.Store {
	t.Helper()
	s, err := storage.NewFromAWSConfig(aws.Config{
		Region:      fixtures.S3Region,
		Credentials: credentials.NewStaticCredentialsProvider(e.S3.AccessKey, e.S3.SecretKey, ""),
	}, storage.Config{Bucket: e.Bucket, Endpoint: e.S3.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putManifest stores m as backup m.ID's manifest under prefix, the way
// the agent commits one.
func (e *env) putManifest(t *testing.T, prefix string, m *manifest.Manifest) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store(t).PutIfAbsent(context.Background(), manifest.Key(prefix, m.ID), b, "application/json"); err != nil {
		t.Fatal(err)
	}
}

// execNow runs statements in db on a connection closed right after: a
// connection to template1 left open makes CREATE DATABASE fail.
func execNow(t *testing.T, pg *fixtures.Postgres, db string, statements ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSNFor(db))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for _, s := range statements {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// rejectLogins makes the server refuse every login to database db (a
// pg_hba.conf "reject" line, written through the server's own file
// functions) and waits until the rule is in force.
func rejectLogins(t *testing.T, pg *fixtures.Postgres, db string) {
	t.Helper()
	execNow(t, pg, "postgres", `DO $$
		DECLARE
			f text := current_setting('hba_file');
			o oid;
		BEGIN
			o := lo_from_bytea(0, convert_to('host `+db+` all all reject' || E'\n' || pg_read_file(f), 'UTF8'));
			PERFORM lo_export(o, f);
			PERFORM lo_unlink(o);
		END $$`, "SELECT pg_reload_conf()")
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), pg.DSNFor(db))
		if err == nil {
			_ = conn.Close(context.Background())
		}
		if err != nil && strings.Contains(err.Error(), "pg_hba.conf rejects") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reject rule for %s is not in force: %v", db, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRestoreRails checks the rails around the target and the manifest:
// a database --create made is dropped on a failure after its creation,
// relations that came with an extension or from template1 do not make a
// target "non-empty", backups in the revision-1 layout restore, and a
// manifest pointing outside its own directory is refused.
func TestRestoreRails(t *testing.T) {
	e := newEnv(t, selectionSQL)
	src := takeSnapshot(t, e.PG, "app")
	id := e.backup(t, e.PG, "pg", "--databases", "app")
	m := e.manifest(t, "pg", id)

	t.Run("--create drops the database it created when a later step fails", func(t *testing.T) {
		// The new database is created through "postgres", then the
		// restore's login to it is refused: a failure after the CREATE.
		rejectLogins(t, e.PG, "rails_rejected")
		run := e.restore(t, "pg", "--backup", id, "--target", target(e.PG, "rails_rejected"), "--create")
		line := expectFailure(t, run, 3, result.ReasonAuthFailed)
		if databaseExists(t, e.PG, "rails_rejected") {
			t.Fatalf("the database --create made is still there after the failure: %s", line)
		}
		if !strings.Contains(line, "rails_rejected, created by this restore, was dropped again") {
			t.Errorf("the error does not say the database was dropped: %s", line)
		}
	})

	t.Run("extension-owned relations do not make the target non-empty", func(t *testing.T) {
		// pg_buffercache's view is an extension member; spatial_ref_sys
		// plays PostGIS's table of the same name (contrib has no extension
		// that owns a table, so one is made a member with ALTER EXTENSION).
		execSQL(t, e.PG, "app", "CREATE DATABASE rails_ext")
		execNow(t, e.PG, "rails_ext",
			"CREATE EXTENSION pg_buffercache",
			"CREATE TABLE public.spatial_ref_sys (srid int PRIMARY KEY, auth_name text)",
			"INSERT INTO public.spatial_ref_sys VALUES (4326, 'EPSG')",
			"ALTER EXTENSION pg_buffercache ADD TABLE public.spatial_ref_sys")
		e.mustRestore(t, "pg", "--backup", id, "--target", target(e.PG, "rails_ext"))
		requireRestored(t, e.PG, "rails_ext")
	})

	t.Run("relations copied from template1 do not make the target non-empty", func(t *testing.T) {
		execNow(t, e.PG, "template1", "CREATE TABLE public.site_defaults (k text PRIMARY KEY, v text)")
		defer execNow(t, e.PG, "template1", "DROP TABLE public.site_defaults")
		e.mustRestore(t, "pg", "--backup", id, "--target", target(e.PG, "rails_tmpl"), "--create")
		requireRestored(t, e.PG, "rails_tmpl")
	})

	t.Run("a backup in the revision-1 layout restores", func(t *testing.T) {
		// Revision 1 kept a database's object at PREFIX/ID/<name>.<ext>,
		// next to the manifest; readers follow the manifest's keys.
		old := *m
		old.ID = "20250101T000000Z"
		obj := m.Databases[0]
		obj.Key = "rev1/" + old.ID + "/app.dump.zst"
		old.Databases = []manifest.Object{obj}
		e.put(t, obj.Key, e.get(t, m.Databases[0].Key))
		if m.Globals != nil {
			g := *m.Globals
			g.Key = "rev1/" + old.ID + "/globals.sql.zst"
			old.Globals = &g
			e.put(t, g.Key, e.get(t, m.Globals.Key))
		}
		e.putManifest(t, "rev1", &old)
		if strings.Contains(old.Databases[0].Key, "/db/") || old.Globals == nil {
			t.Fatalf("not a revision-1 manifest with globals: %+v", old)
		}
		e.mustRestore(t, "rev1", "--backup", old.ID, "--target", target(e.PG, "rails_rev1"), "--create")
		requireSame(t, src, "app", takeSnapshot(t, e.PG, "rails_rev1"), "rails_rev1")
	})

	t.Run("a manifest with a key outside its directory is refused", func(t *testing.T) {
		// The object is intact (its sha256 matches), but it belongs to
		// another backup: a manifest must never point a restore there.
		foreign := *m
		foreign.ID = "20250102T000000Z"
		e.putManifest(t, "pg", &foreign)
		run := e.restore(t, "pg", "--backup", foreign.ID, "--target", target(e.PG, "rails_outside"), "--create")
		line := expectFailure(t, run, 6, result.ReasonIntegrityFailed)
		if !strings.Contains(line, "outside") || !strings.Contains(line, foreign.ID) {
			t.Errorf("the error does not say the key lies outside backup %s: %s", foreign.ID, line)
		}
		if databaseExists(t, e.PG, "rails_outside") {
			t.Error("a refused restore created the target database")
		}
	})
}

// requireRestored checks that db holds the rows of selectionSQL.
func requireRestored(t *testing.T, pg *fixtures.Postgres, db string) {
	t.Helper()
	var customers, orders int
	if err := pg.Connect(t, db).QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM public.customers), (SELECT count(*) FROM public.orders)").Scan(&customers, &orders); err != nil {
		t.Fatalf("read the restored %s: %v", db, err)
	}
	if customers != 100 || orders != 1000 {
		t.Errorf("%s holds %d customers and %d orders, want 100 and 1000", db, customers, orders)
	}
}
