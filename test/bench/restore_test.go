//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// scratchAlias names the scratch server of (d) to (g).
const scratchAlias = "scratch"

// localDump is the uncompressed custom-format dump (e) and (g) restore:
// written before them, not measured, as a file already on disk.
const localDump = scratch + "/local.dump"

// restores runs (d) and (e), then (f) and (g) unless BENCH_RESTORE_JOBS
// is 0, into the scratch server, each into a database of its own that is
// dropped afterwards, and records them in r.
func (b *box) restores(t *testing.T, bucket string, scratchPG *fixtures.Postgres, cfg settings, r *report) {
	t.Helper()
	r.Verify, r.VerifyResult = b.verify(t, bucket)
	b.shell(t, "pg_dump -Fc -Z0 -f "+localDump)
	r.LocalRestore = b.localRestore(t, scratchPG, r.Rows)
	r.Commands = append(r.Commands, "(d) "+strings.Join(verifyCommand(bucket), " "), "(e) "+localRestoreCommand)
	if n := cfg.restoreJobs; n > 0 {
		t.Logf("Restoring with %d jobs: the agent's backup, then the local file", n)
		r.JobsRestore = b.jobsRestore(t, bucket, n, scratchPG, r.Rows)
		r.LocalJobsRestore = b.localJobsRestore(t, n, scratchPG, r.Rows)
		r.Commands = append(r.Commands,
			"(f) "+strings.Join(jobsRestoreCommand(bucket, n), " "),
			"(g) "+localJobsRestoreCommand(n))
	}
	b.shell(t, "rm -f "+localDump)
}

// verifyCommand is (d): pgbackup verify of the agent's newest backup into
// the scratch server, without a record (the bench's bucket is thrown
// away).
func verifyCommand(bucket string) []string {
	return []string{"pgbackup", "verify", "--destination", "s3://" + bucket + "/" + agentPrefix,
		"--target", "postgres://postgres@" + scratchAlias + ":5432/postgres?sslmode=disable", "--record=false", "--spool-dir", scratch}
}

// verify runs (d) and checks its result.
func (b *box) verify(t *testing.T, bucket string) (contender, *result.Verification) {
	t.Helper()
	b.shell(t, "rm -f "+scratch+"/result.json")
	m, out := b.measureOutput(t, "d", nil, verifyCommand(bucket)...)
	var res result.Result
	if err := json.Unmarshal([]byte(b.shell(t, "cat "+scratch+"/result.json")), &res); err != nil || res.Result != result.Succeeded || res.Verification == nil {
		t.Fatalf("(d) result %+v (%v)\n%s", res, err, out)
	}
	return contender{ID: "d", Name: "(d) pgbackup verify", Agent: true, Restore: true, Runs: []measurement{m}}, res.Verification
}

// scratchConn is the libpq options of the scratch server for the client
// tools in the box (trust authentication, like a verify pod's).
const scratchConn = "-h " + scratchAlias + " -U postgres"

// localRestoreDB is the database (e) restores into.
const localRestoreDB = "local_restore"

// localRestoreCommand is (e): pg_restore of the local file into a new
// database of the scratch server, in one transaction like the agent's
// streaming restore.
const localRestoreCommand = "createdb " + scratchConn + " " + localRestoreDB +
	" && pg_restore --exit-on-error --single-transaction " + scratchConn + " -d " + localRestoreDB + " " + localDump

// localRestore runs (e) and checks the rows arrived.
func (b *box) localRestore(t *testing.T, scratchPG *fixtures.Postgres, rows map[string]int64) contender {
	t.Helper()
	m := b.measure(t, "e", "sh", "-c", localRestoreCommand)
	checkRestored(t, "(e)", scratchPG, localRestoreDB, rows)
	b.shell(t, "dropdb "+scratchConn+" "+localRestoreDB)
	return contender{ID: "e", Name: "(e) pg_restore --single-transaction of a local file", Restore: true, Runs: []measurement{m}}
}

// jobsRestoreDB is the database (f) creates.
const jobsRestoreDB = "restore_jobs"

// jobsRestoreCommand is (f): pgbackup restore --jobs n of the agent's
// newest backup into a database it creates. Above one job the agent
// downloads, verifies and decompresses the dump into the spool directory
// first, and pg_restore -j reads it from there.
func jobsRestoreCommand(bucket string, n int) []string {
	return []string{"pgbackup", "restore", "--destination", "s3://" + bucket + "/" + agentPrefix,
		"--target", "postgres://postgres@" + scratchAlias + ":5432/" + jobsRestoreDB + "?sslmode=disable",
		"--create", "--jobs", strconv.Itoa(n), "--spool-dir", scratch}
}

// jobsRestore runs (f) and checks the rows arrived.
func (b *box) jobsRestore(t *testing.T, bucket string, n int, scratchPG *fixtures.Postgres, rows map[string]int64) contender {
	t.Helper()
	m := b.measure(t, "f", jobsRestoreCommand(bucket, n)...)
	checkRestored(t, "(f)", scratchPG, jobsRestoreDB, rows)
	b.shell(t, "dropdb "+scratchConn+" "+jobsRestoreDB)
	return contender{ID: "f:" + strconv.Itoa(n), Name: fmt.Sprintf("(f) pgbackup restore --jobs %d", n), Agent: true, Restore: true, Runs: []measurement{m}}
}

// localJobsRestoreDB is the database (g) restores into.
const localJobsRestoreDB = "local_restore_jobs"

// localJobsRestoreCommand is (g): pg_restore -j n of the local file into
// a new database. -j cannot be combined with --single-transaction.
func localJobsRestoreCommand(n int) string {
	return fmt.Sprintf("createdb %[1]s %[2]s && pg_restore --exit-on-error -j %[3]d %[1]s -d %[2]s %[4]s", scratchConn, localJobsRestoreDB, n, localDump)
}

// localJobsRestore runs (g) and checks the rows arrived.
func (b *box) localJobsRestore(t *testing.T, n int, scratchPG *fixtures.Postgres, rows map[string]int64) contender {
	t.Helper()
	m := b.measure(t, "g", "sh", "-c", localJobsRestoreCommand(n))
	checkRestored(t, "(g)", scratchPG, localJobsRestoreDB, rows)
	b.shell(t, "dropdb "+scratchConn+" "+localJobsRestoreDB)
	return contender{ID: "g:" + strconv.Itoa(n), Name: fmt.Sprintf("(g) pg_restore -j %d of a local file", n), Restore: true, Runs: []measurement{m}}
}

// checkRestored fails the test unless database db of the scratch server
// holds exactly the generated rows: a restore that is fast because it
// restored too little must not pass as fast.
func checkRestored(t *testing.T, step string, scratchPG *fixtures.Postgres, db string, want map[string]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn := scratchPG.Connect(t, db)
	defer func() { _ = conn.Close(ctx) }()
	got := rowCounts(ctx, t, conn, slices.Collect(maps.Keys(want)))
	if !maps.Equal(got, want) {
		t.Fatalf("%s restored rows %v, the database had %v", step, got, want)
	}
}
