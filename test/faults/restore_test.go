package faults_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// restoreVars is the environment of list and restore: S3 only, the
// target comes from --target.
func restoreVars(vars map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3"} {
		out[k] = vars[k]
	}
	return out
}

// restore restores backup id into a new database db (--create).
func (w *world) restore(t *testing.T, vars map[string]string, id, db string) fixtures.AgentRun {
	t.Helper()
	return w.run(t, restoreVars(vars), "restore", "--destination", w.Destination(prefix), "--backup", id,
		"--target", w.PG.InternalDSN(db), "--create")
}

// A backup is whole in the bucket; the first GetObject of its database
// object is cut after half its bytes. The restore resumes the download
// where it stopped (a ranged GET with If-Match on the object's ETag) and
// completes: every row arrives, and the log says the download resumed.
func TestRestoreGetObjectCut(t *testing.T) {
	w := newWorld(t, mediumSQL)
	m := w.exactlyOneBackup(t, w.backup(t, w.env()))
	p, vars := w.s3Proxy(t)
	p.TruncateBody(fixtures.S3OpGetObject, "/db/", 1, m.Databases[0].Size/2)
	run := w.restore(t, vars, m.ID, "restored")
	if run.ExitCode != 0 {
		t.Fatalf("restore exit code %d, want 0 (the cut download resumed); output:\n%s", run.ExitCode, run.Output)
	}
	if n := strings.Count(run.Output, resumedLog); n != 1 {
		t.Errorf("the restore logged %d resumes, want 1; output:\n%s", n, run.Output)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rows int
	if err := w.PG.Connect(t, "restored").QueryRow(ctx, "SELECT count(*) FROM medium").Scan(&rows); err != nil || rows != 200000 {
		t.Fatalf("restored %d rows (%v), want the 200000 of the backup", rows, err)
	}
}

// resumedLog is the log line of a resumed download.
const resumedLog = `"msg":"S3 download cut; resuming where it stopped (warning)"`

// Every GetObject of the database object is cut after 64 KiB, the resumes
// too: resuming never gets far, so after 5 resumes in a row the restore
// fails with StorageFailed (exit 5: a retry can succeed, the backup is not
// corrupt; exit 6 would tell the operator it is), and the database it
// created is dropped.
func TestRestoreGetObjectCutEveryTime(t *testing.T) {
	w := newWorld(t, mediumSQL)
	m := w.exactlyOneBackup(t, w.backup(t, w.env()))
	p, vars := w.s3Proxy(t)
	p.TruncateBody(fixtures.S3OpGetObject, "/db/", -1, 64<<10)
	run := w.restore(t, vars, m.ID, "restored")
	if n := strings.Count(run.Output, resumedLog); n != 5 {
		t.Errorf("the restore logged %d resumes, want 5; output:\n%s", n, run.Output)
	}
	expectRestoreFailure(t, run, 5, result.ReasonStorageFailed)
	w.leftAlone(t, "restored")
}

// The object in the bucket is cut to half its bytes (its manifest says
// otherwise): the restore fails with IntegrityFailed (exit 6), and the
// database it created is dropped.
func TestRestoreObjectTruncatedInBucket(t *testing.T) {
	w := newWorld(t, mediumSQL)
	m := w.exactlyOneBackup(t, w.backup(t, w.env()))
	obj := m.Databases[0]
	w.Put(t, obj.Key, w.Get(t, obj.Key)[:obj.Size/2])
	run := w.restore(t, w.env(), m.ID, "restored")
	expectRestoreFailure(t, run, 6, result.ReasonIntegrityFailed)
	w.leftAlone(t, "restored")
}

// expectRestoreFailure asserts a failed restore: its exit code, the reason
// it logged (restore writes no result file), and one error line on stderr
// saying what became of the target.
func expectRestoreFailure(t *testing.T, run fixtures.AgentRun, code int, reason result.Reason) {
	t.Helper()
	if run.ExitCode != code {
		t.Fatalf("exit code %d, want %d (%s); output:\n%s", run.ExitCode, code, reason, run.Output)
	}
	if !strings.Contains(run.Output, `"msg":"Restore failed","reason":"`+string(reason)+`"`) {
		t.Errorf("the restore did not log reason %s; output:\n%s", reason, run.Output)
	}
	var lines []string
	for _, l := range strings.Split(run.Output, "\n") {
		if strings.HasPrefix(l, "pgbackup: error:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "restored") {
		t.Fatalf("want one error line naming the target, got %q; output:\n%s", lines, run.Output)
	}
	t.Logf("error line: %s", lines[0])
}

// leftAlone asserts database db does not exist, or holds no relation.
func (w *world) leftAlone(t *testing.T, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := w.PG.Connect(t, w.PG.Database)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return
	}
	var rels int
	if err := w.PG.Connect(t, db).QueryRow(ctx,
		`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&rels); err != nil {
		t.Fatal(err)
	}
	if rels != 0 {
		t.Errorf("the failed restore left %d relations in %s", rels, db)
	}
}
