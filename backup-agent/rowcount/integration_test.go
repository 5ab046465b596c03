package rowcount_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/pgbackup/pgbackup/backup-agent/rowcount"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// initSQL is a database with what makes counting hard: quoted names with
// dots, spaces, quotes and unicode, values with newlines, tabs,
// backslashes and a lone `\.`, empty strings, a table without columns, an
// empty table, a partitioned table, large objects whose bytes look like
// COPY data, a materialized view, a sequence and 100k rows.
const initSQL = `
CREATE SCHEMA "Odd ""Schema""";
CREATE SCHEMA sales;
CREATE TABLE "Odd ""Schema"""."a.b c" (id int PRIMARY KEY, "weird col" text);
INSERT INTO "Odd ""Schema"""."a.b c" VALUES
  (1, E'line1\nline2\n\\.\nline4'), (2, E'tab\there'), (3, E'back\\slash\\'), (4, '\.'),
  (5, ''), (6, NULL), (7, E'\r\n'), (8, 'ünïcödé');
CREATE TABLE "Odd ""Schema""".ünï (x text);
INSERT INTO "Odd ""Schema""".ünï VALUES (''), (''), (E'\\.');
CREATE TABLE public.empty (id int);
CREATE TABLE public.nocols ();
INSERT INTO public.nocols DEFAULT VALUES;
INSERT INTO public.nocols DEFAULT VALUES;
CREATE TABLE public.single (t text);
INSERT INTO public.single VALUES ('');
CREATE TABLE sales.orders (id int, region int) PARTITION BY LIST (region);
CREATE TABLE sales.orders_eu PARTITION OF sales.orders FOR VALUES IN (1);
CREATE TABLE sales.orders_us PARTITION OF sales.orders FOR VALUES IN (2);
CREATE TABLE sales."orders other" PARTITION OF sales.orders DEFAULT;
INSERT INTO sales.orders SELECT g, g % 5 FROM generate_series(1, 1000) g;
CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS h, E'a\nb' AS nl FROM generate_series(1, 100000) g;
SELECT lo_from_bytea(0, convert_to(E'1\n2\n\\.\n\n\n', 'UTF8'));
SELECT lo_from_bytea(0, decode(repeat('0a', 5000), 'hex'));
CREATE MATERIALIZED VIEW public.mv AS SELECT * FROM public.big LIMIT 10;
CREATE SEQUENCE public.s;
SELECT nextval('public.s');
`

func TestIntegrationRealPgDump(t *testing.T) {
	fixtures.RequireDocker(t)
	for _, major := range fixtures.PostgresMajors {
		t.Run(fmt.Sprintf("postgres-%d", major), func(t *testing.T) {
			t.Parallel()
			p := fixtures.StartPostgres(t, major, fixtures.WithInitSQL(initSQL))
			want := expectedCounts(t, p.Connect(t, p.Database))
			if len(want) != 9 {
				t.Fatalf("the fixture has %d tables with data, want 9: %v", len(want), want)
			}

			dump := func(name string, args ...string) []byte {
				t.Helper()
				return pgDump(t, p, name, args...)
			}
			custom := dump("/tmp/c.dump", "-Fc", "-Z0", "-f", "/tmp/c.dump")
			plain := dump("/tmp/p.sql", "-Fp", "-f", "/tmp/p.sql")
			// tar of the files alone, in directory order (not the agent's)
			dirTar := dump("/tmp/d.tar", "-Fd", "-Z0", "-f", "/tmp/d")
			agentTar := retar(t, dirTar)

			checkVersion(t, major, custom)
			for _, c := range []struct {
				name    string
				counter rowcount.Counter
				data    []byte
			}{
				{"custom", rowcount.NewCustom(), custom},
				{"plain", rowcount.NewPlain(), plain},
				{"directory tar", rowcount.NewDirectoryTar(), dirTar},
				{"directory tar as the agent writes it", rowcount.NewDirectoryTar(), agentTar},
			} {
				// io.Copy through a TeeReader, as the agent uses it
				if _, err := io.Copy(io.Discard, io.TeeReader(bytes.NewReader(c.data), c.counter)); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				got, err := c.counter.Tables()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: counted\n%v\nwant (count(*))\n%v", c.name, got, want)
				}
			}
		})
	}
}

// expectedCounts is count(*) of every ordinary table and partition outside
// the system schemas, sorted as Tables sorts.
func expectedCounts(t *testing.T, conn *pgx.Conn) []rowcount.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rowcount.Table, error) {
		var tb rowcount.Table
		return tb, r.Scan(&tb.Schema, &tb.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, tb := range tables {
		q := "SELECT count(*) FROM ONLY " + pgx.Identifier{tb.Schema, tb.Name}.Sanitize()
		if err := conn.QueryRow(ctx, q).Scan(&tables[i].Rows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return tables
}

// pgDump runs pg_dump in the server's container (the server's own major
// version), for -Fd followed by a tar of the directory's files, and
// returns the file it wrote.
func pgDump(t *testing.T, p *fixtures.Postgres, file string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := "pg_dump -h 127.0.0.1 -U \"$1\" -d \"$2\" \"$@\""
	if strings.HasSuffix(file, ".tar") {
		cmd += " && cd /tmp/d && tar -cf /tmp/d.tar *"
	}
	argv := append([]string{"env", "PGPASSWORD=" + p.Password, "sh", "-c", "set -e; u=$1; d=$2; shift 2; " +
		strings.ReplaceAll(strings.ReplaceAll(cmd, `"$1"`, `"$u"`), `"$2"`, `"$d"`), "sh", p.User, p.Database}, args...)
	code, out, err := p.Container.Exec(ctx, argv, tcexec.Multiplexed())
	var msg []byte
	if out != nil {
		msg, _ = io.ReadAll(out)
	}
	if err != nil || code != 0 {
		t.Fatalf("pg_dump %v: exit %d, %v: %s", args, code, err, msg)
	}
	rc, err := p.Container.CopyFileFromContainer(ctx, file)
	if err != nil {
		t.Fatalf("copy %s: %v", file, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("copy %s: %v", file, err)
	}
	return b
}

// retar unpacks a directory dump's tar and writes it again the way the
// agent does (spool.WriteTar: name order, toc.dat last).
func retar(t *testing.T, tarBytes []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := spool.ExtractTar(bytes.NewReader(tarBytes), dir); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := spool.WriteTar(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkVersion records which archive version each pg_dump writes.
func checkVersion(t *testing.T, major int, archive []byte) {
	t.Helper()
	want := map[int]string{15: "1.14", 17: "1.16"}[major]
	got := fmt.Sprintf("%d.%d", archive[5], archive[6])
	if want != "" && got != want {
		t.Errorf("pg_dump %d wrote archive version %s, want %s", major, got, want)
	}
	t.Logf("pg_dump %d writes archive version %s.%d", major, got, archive[7])
}
