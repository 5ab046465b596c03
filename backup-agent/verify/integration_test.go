package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// These tests drive `pgbackup backup` and `pgbackup verify` as an operator
// (or the verify CronJob) does, each in a container, against a real
// PostgreSQL source, a real scratch server started like the verify pod's
// (trust on its own, no database besides postgres) and a real S3 server.

// world is a source with S3, and a scratch server of the source's major, as
// the controller picks it (postgres:{major}): the agent's pg_restore 18
// restores into every supported major.
type world struct {
	*fixtures.Stack
	scratch *fixtures.Postgres
}

func newWorld(t *testing.T, major int, initSQL string) *world {
	t.Helper()
	fixtures.RequireDocker(t)
	s := fixtures.StartStack(t, major, initSQL)
	return &world{Stack: s, scratch: fixtures.StartPostgres(t, major, fixtures.WithPostgresNetwork(s.Network, "scratch"), fixtures.AsScratch())}
}

// scratchTarget is the verify pod's --target: no password, trust.
const scratchTarget = "postgres://postgres@scratch:5432/postgres?sslmode=disable"

func (w *world) run(t *testing.T, vars map[string]string, files map[string][]byte, args ...string) fixtures.AgentRun {
	t.Helper()
	run := fixtures.RunAgent(t, fixtures.Agent{Args: args, Env: vars, Network: w.Network, Files: files, Timeout: 10 * time.Minute})
	t.Logf("pgbackup %s: exit %d in %v", args[0], run.ExitCode, run.Duration.Round(time.Millisecond))
	if strings.Contains(run.Output, w.PG.Password) {
		t.Errorf("the source's password appears in the output of pgbackup %s", args[0])
	}
	return run
}

func (w *world) backup(t *testing.T, prefix string, args ...string) string {
	t.Helper()
	run := w.run(t, w.AgentEnv(w.PG), nil, append([]string{"backup", "--destination", w.Destination(prefix)}, args...)...)
	if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
		t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
	}
	return run.Result.BackupID
}

func (w *world) verify(t *testing.T, prefix string, files map[string][]byte, args ...string) fixtures.AgentRun {
	t.Helper()
	return w.run(t, w.S3Env(), files, append([]string{"verify", "--destination", w.Destination(prefix), "--target", scratchTarget, "--spool-dir", "/tmp"}, args...)...)
}

func (w *world) manifest(t *testing.T, prefix, id string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Unmarshal(w.Get(t, manifest.Key(prefix, id)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (w *world) record(t *testing.T, prefix, id string) *manifest.Verification {
	t.Helper()
	v, err := manifest.UnmarshalVerification(w.Get(t, manifest.VerificationKey(prefix, id)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sourceCounts is count(*) of every table of db that holds data of its
// own (ordinary tables and partitions, not partitioned parents).
func sourceCounts(t *testing.T, pg *fixtures.Postgres, db string) []manifest.Table {
	t.Helper()
	conn := pg.Connect(t, db)
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (manifest.Table, error) {
		var tb manifest.Table
		return tb, r.Scan(&tb.Schema, &tb.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, tb := range tables {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM ONLY "+pgx.Identifier{tb.Schema, tb.Name}.Sanitize()).Scan(&tables[i].Rows); err != nil {
			t.Fatal(err)
		}
	}
	return tables
}

func sortedTables(ts []manifest.Table) []manifest.Table {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b manifest.Table) int {
		return strings.Compare(a.Schema+"\x00"+a.Name, b.Schema+"\x00"+b.Name)
	})
	return out
}

func identityFile(t *testing.T) (recipient string, files map[string][]byte) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), map[string][]byte{"/tmp/age.key": []byte(id.String() + "\n")}
}

func realistic(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../restore/testdata/realistic.sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A good backup verifies, whatever the source major, format and
// encryption: every table's restored row count equals the count recorded
// at backup time, which equals count(*) of the source when it was dumped
// (partitions, large objects and text with newlines included).
func TestVerifyProvesAGoodBackup(t *testing.T) {
	cases := map[int][]struct {
		format  string
		encrypt bool
	}{
		15: {{"custom", false}, {"directory", true}},
		17: {{"custom", true}, {"plain", false}},
		18: {{"custom", false}, {"plain", true}, {"directory", false}},
	}
	for _, major := range fixtures.PostgresMajors {
		t.Run(fmt.Sprintf("source %d", major), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, major, realistic(t))
			want := sourceCounts(t, w.PG, "app")
			for _, c := range cases[major] {
				name := c.format
				if c.encrypt {
					name += " encrypted"
				}
				t.Run(name, func(t *testing.T) {
					prefix := strings.ReplaceAll(name, " ", "-")
					args := []string{"--format", c.format, "--databases", "app", "--spool-dir", "/tmp"}
					var files map[string][]byte
					var verifyArgs []string
					if c.encrypt {
						var recipient string
						recipient, files = identityFile(t)
						args = append(args, "--age-recipient", recipient)
						verifyArgs = []string{"--identity", "/tmp/age.key"}
					}
					id := w.backup(t, prefix, args...)
					m := w.manifest(t, prefix, id)
					if m.SchemaVersion != manifest.SchemaVersion {
						t.Errorf("manifest schemaVersion %d, want %d", m.SchemaVersion, manifest.SchemaVersion)
					}
					db, _ := m.Database("app")
					if got := sortedTables(db.Tables); !slices.Equal(got, want) {
						t.Fatalf("manifest row counts differ from the source's count(*) (%s):\n got %v\nwant %v", db.TablesSkipped, got, want)
					}

					run := w.verify(t, prefix, files, verifyArgs...)
					if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
						t.Fatalf("verify: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
					}
					v := run.Result.Verification
					if v == nil || v.TablesChecked != len(want) || v.TablesMismatched != 0 || !v.Recorded || v.RestoreSeconds <= 0 || run.Result.BackupID != id {
						t.Fatalf("verification summary %+v (backup %s), want %d tables checked, recorded", v, run.Result.BackupID, len(want))
					}
					rec := w.record(t, prefix, id)
					if !rec.Succeeded() || rec.Tables.Checked != len(want) || rec.RestoreSeconds["app"] <= 0 || !rec.Indexes.Available || rec.Indexes.Checked == 0 {
						t.Fatalf("verification.json %+v", rec)
					}
				})
			}
		})
	}
}

// tamperSQL is a small database whose orders table loses one row between
// two backups.
const tamperSQL = `
CREATE TABLE public.orders (id int PRIMARY KEY, note text);
INSERT INTO public.orders SELECT g, 'order ' || g || E'\nsecond line' FROM generate_series(1, 100) g;
CREATE TABLE public.customers (id int PRIMARY KEY);
INSERT INTO public.customers SELECT generate_series(1, 10);
`

// A dump rebuilt with one row less, under a manifest whose checksums match
// it (what a careless or malicious rewrite of the bucket would leave),
// restores cleanly: only the row counts recorded at backup time can tell.
// Verification fails naming the table, records the failure once, and
// latest-verified never picks that backup.
func TestVerifyFailsOnADumpWithOneRowLess(t *testing.T) {
	w := newWorld(t, 17, tamperSQL)
	const prefix = "tamper"
	good := w.backup(t, prefix, "--databases", "app", "--compression", "none")
	if _, err := w.PG.Connect(t, "app").Exec(context.Background(), "DELETE FROM public.orders WHERE id = 50"); err != nil {
		t.Fatal(err)
	}
	// Backup ids have a one-second resolution: make sure the second one
	// is newer.
	time.Sleep(1100 * time.Millisecond)
	shorter := w.backup(t, prefix, "--databases", "app", "--compression", "none")

	// Rewrite the first backup: the shorter dump under its key, and its
	// manifest's size and sha256 updated to match (its row counts stay).
	gm, sm := w.manifest(t, prefix, good), w.manifest(t, prefix, shorter)
	w.Put(t, gm.Databases[0].Key, w.Get(t, sm.Databases[0].Key))
	gm.Databases[0].Size, gm.Databases[0].SHA256 = sm.Databases[0].Size, sm.Databases[0].SHA256
	body, err := gm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	w.Put(t, manifest.Key(prefix, good), body)

	run := w.verify(t, prefix, nil, "--backup", good)
	if run.ExitCode != result.ExitIntegrity || run.Result == nil || run.Result.Reason != result.ReasonVerificationFailed {
		t.Fatalf("verify of the rewritten backup: exit %d result %+v, want 6 VerificationFailed\n%s", run.ExitCode, run.Result, run.Output)
	}
	if msg := run.Result.Message; !strings.Contains(msg, "public.orders") || !strings.Contains(msg, "99 rows restored, the backup recorded 100") || strings.Contains(msg, "customers") {
		t.Errorf("the failure does not name the table and counts: %s", msg)
	}
	rec := w.record(t, prefix, good)
	if rec.Succeeded() || rec.Reason != string(result.ReasonVerificationFailed) || rec.Tables.Mismatched != 1 ||
		rec.Tables.Mismatches[0] != (manifest.TableMismatch{Database: "app", Schema: "public", Name: "orders", Recorded: 100, Restored: 99}) {
		t.Fatalf("verification.json of the rewritten backup: %+v", rec)
	}

	// The record is written once: a second run reports, and leaves it.
	again := w.verify(t, prefix, nil, "--backup", good)
	if again.ExitCode != result.ExitIntegrity || again.Result.Verification == nil || again.Result.Verification.Recorded {
		t.Fatalf("second verify: exit %d result %+v", again.ExitCode, again.Result)
	}
	if after := w.record(t, prefix, good); !after.CheckedAt.Equal(rec.CheckedAt) {
		t.Errorf("the verification record was rewritten: %v then %v", rec.CheckedAt, after.CheckedAt)
	}

	// No backup is verified yet: latest-verified restores nothing.
	restore := func() fixtures.AgentRun {
		return w.run(t, w.S3Env(), nil, "restore", "--destination", w.Destination(prefix), "--backup", "latest-verified", "--dry-run",
			"--target", "postgres://postgres@scratch:5432/restored?sslmode=disable", "--create")
	}
	if r := restore(); r.ExitCode != result.ExitIntegrity || !strings.Contains(r.Output, "successful verification") {
		t.Fatalf("restore --backup latest-verified with no verified backup: exit %d\n%s", r.ExitCode, r.Output)
	}
	if ok := w.verify(t, prefix, nil); ok.ExitCode != 0 || ok.Result.BackupID != shorter {
		t.Fatalf("verify latest: exit %d result %+v\n%s", ok.ExitCode, ok.Result, ok.Output)
	}
	if r := restore(); r.ExitCode != 0 || !strings.Contains(r.Output, shorter) {
		t.Fatalf("restore --backup latest-verified: exit %d, want the verified backup %s\n%s", r.ExitCode, shorter, r.Output)
	}
	list := w.run(t, w.S3Env(), nil, "list", "--destination", w.Destination(prefix))
	if !strings.Contains(list.Output, "FAILED (VerificationFailed)") || !strings.Contains(list.Output, "yes ") {
		t.Errorf("list does not show both verdicts:\n%s", list.Output)
	}
}

// A failing user check fails the verification and names the check; a
// passing one passes. Checks run read-only: one that writes fails.
func TestVerifyRunsTheUsersChecks(t *testing.T) {
	w := newWorld(t, 17, tamperSQL)
	const prefix = "checks"
	w.backup(t, prefix, "--databases", "app")
	checks := func(cs ...map[string]string) []string {
		b, _ := json.Marshal(cs)
		return []string{"--record=false", "--checks", string(b)}
	}
	pass := map[string]string{"name": "hundred-orders", "database": "app", "sql": "SELECT count(*) = 100 FROM orders"}
	if run := w.verify(t, prefix, nil, checks(pass)...); run.ExitCode != 0 {
		t.Fatalf("a passing check: exit %d\n%s", run.ExitCode, run.Output)
	}
	for name, c := range map[string]map[string]string{
		"false":  {"name": "order-1000", "database": "app", "sql": "SELECT count(*) > 0 FROM orders WHERE id = 1000"},
		"writes": {"name": "writes", "database": "app", "sql": "DELETE FROM orders RETURNING true"},
		"number": {"name": "number", "database": "app", "sql": "SELECT count(*) FROM orders"},
	} {
		t.Run(name, func(t *testing.T) {
			run := w.verify(t, prefix, nil, checks(pass, c)...)
			if run.ExitCode != result.ExitIntegrity || run.Result.Reason != result.ReasonVerificationFailed || !strings.Contains(run.Result.Message, `check "`+c["name"]+`" failed`) || strings.Contains(run.Result.Message, pass["name"]) {
				t.Fatalf("exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
			}
		})
	}
	// A check on a database the backup does not hold is refused before
	// anything is restored.
	bad := map[string]string{"name": "elsewhere", "database": "nope", "sql": "SELECT true"}
	if run := w.verify(t, prefix, nil, checks(bad)...); run.ExitCode != result.ExitConfig {
		t.Fatalf("check on a missing database: exit %d\n%s", run.ExitCode, run.Output)
	}
}

// Verification creates and drops databases, so it refuses any target that
// holds databases of its own: pointed at the source by mistake, it
// changes nothing there.
func TestVerifyRefusesATargetThatIsNotAScratchServer(t *testing.T) {
	w := newWorld(t, 17, tamperSQL)
	const prefix = "refuse"
	w.backup(t, prefix, "--databases", "app")
	run := w.run(t, w.S3Env(), nil, "verify", "--destination", w.Destination(prefix), "--target", w.PG.InternalDSN("postgres"))
	if run.ExitCode != result.ExitRefused || run.Result == nil || run.Result.Reason != result.ReasonRefused || !strings.Contains(run.Result.Message, "scratch server") {
		t.Fatalf("verify into the source: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
	}
	var n int
	if err := w.PG.Connect(t, "postgres").QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE NOT datistemplate").Scan(&n); err != nil || n != 2 {
		t.Fatalf("the source has %d databases (%v), want its own 2", n, err)
	}
	if strings.Contains(run.Output, w.PG.Password) {
		t.Error("the password leaked")
	}
}
