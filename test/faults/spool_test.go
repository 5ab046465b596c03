package faults_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// The directory format dumps into --spool-dir, here the agent container's
// /dev/shm: Docker's default 64 MiB tmpfs, smaller than the 80 MB dump.
// The run fails cleanly, commits nothing, and leaves the spool empty.
func TestSpoolVolumeFull(t *testing.T) {
	w := newWorld(t, strings.ReplaceAll(mediumSQL, "200000", "600000"))
	run := w.backupSpool(t)
	if run.ExitCode == 0 {
		t.Fatalf("an 80 MB dump succeeded in a 64 MiB spool; output:\n%s", run.Output)
	}
	if run.Result == nil || run.Result.Result != result.Failed {
		t.Fatalf("exit %d without a failed result; output:\n%s", run.ExitCode, run.Output)
	}
	t.Logf("exit %d, %s: %s", run.ExitCode, run.Result.Reason, run.Result.Message)
	if run.Result.Reason != result.ReasonStorageFailed && run.Result.Reason != result.ReasonDumpFailed {
		t.Errorf("reason %s, want StorageFailed (checked before dumping) or DumpFailed", run.Result.Reason)
	}
	if !strings.Contains(strings.ToLower(run.Result.Message), "space") {
		t.Errorf("the message does not say the spool is full: %q", run.Result.Message)
	}
	within(t, run, 2*time.Minute)
	w.nothingCommitted(t)
	spoolEmptied(t, run)
}

// spoolListing marks the listing of the spool after the run.
const spoolListing = "spool after the run: "

// backupSpool runs a directory-format backup into /dev/shm and lists what
// the run left there.
func (w *world) backupSpool(t *testing.T) fixtures.AgentRun {
	t.Helper()
	return w.runThen(t, w.env(), `echo "`+spoolListing+`[$(ls -A /dev/shm)]"`,
		"backup", "--destination", w.Destination(prefix), "--databases", "app",
		"--format", "directory", "--jobs", "2", "--spool-dir", "/dev/shm")
}

// spoolEmptied asserts the run left nothing on its spool volume.
func spoolEmptied(t *testing.T, run fixtures.AgentRun) {
	t.Helper()
	if !strings.Contains(run.Output, spoolListing+"[]") {
		i := strings.Index(run.Output, spoolListing)
		if i < 0 {
			t.Fatalf("no listing of the spool in the output:\n%s", run.Output)
		}
		t.Errorf("the run left files on its spool: %s", strings.SplitN(run.Output[i:], "\n", 2)[0])
	}
}

// toastSQL is a database of a few MB on disk (TOAST compresses the
// repeated text) whose dump is 100 MB: it passes the agent's free-space
// check, which estimates the dump by the database's size, then fills the
// spool in the middle of the dump.
const toastSQL = `
CREATE TABLE toasted (id int PRIMARY KEY, body text);
INSERT INTO toasted SELECT g, repeat('x', 100000) FROM generate_series(1, 1000) g;
`

// The spool fills while pg_dump writes the directory: the run fails
// cleanly, saying so, and commits nothing.
func TestSpoolVolumeFullMidDump(t *testing.T) {
	w := newWorld(t, toastSQL)
	run := w.backupSpool(t)
	if run.ExitCode == 0 {
		t.Fatalf("a 100 MB dump succeeded in a 64 MiB spool; output:\n%s", run.Output)
	}
	if run.Result == nil || run.Result.Result != result.Failed {
		t.Fatalf("exit %d without a failed result; output:\n%s", run.ExitCode, run.Output)
	}
	t.Logf("exit %d, %s: %s", run.ExitCode, run.Result.Reason, run.Result.Message)
	if strings.Contains(run.Result.Message, "bytes free but the dump needs") {
		t.Fatalf("the free-space check refused the run: this test needs a dump that outgrows the estimate")
	}
	if run.Result.Reason != result.ReasonStorageFailed && run.Result.Reason != result.ReasonDumpFailed {
		t.Errorf("reason %s, want StorageFailed or DumpFailed", run.Result.Reason)
	}
	if !strings.Contains(strings.ToLower(run.Result.Message), "space") {
		t.Errorf("the message does not say the spool is full: %q", run.Result.Message)
	}
	if !strings.Contains(run.Result.Message, "spool volume") {
		t.Errorf("the message does not point at the spool volume: %q", run.Result.Message)
	}
	within(t, run, 2*time.Minute)
	w.nothingCommitted(t)
	spoolEmptied(t, run)
}
