package faults_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// multipartArgs make the medium database a multipart upload of four parts.
var multipartArgs = []string{"--compression", "none"}

// S3 throttles a burst: two 503 SlowDown on the first UploadPart, on
// CompleteMultipartUpload and on the manifest's PutObject. The SDK's
// retries (five tries, throttling backoff) ride it out.
func TestS3SlowDownThenRecovers(t *testing.T) {
	w := newWorld(t, mediumSQL)
	p, vars := w.s3Proxy(t)
	p.Fail(fixtures.S3OpUploadPart, "/db/", 2, 503, "SlowDown")
	p.Fail(fixtures.S3OpCompleteMultipartUpload, "/db/", 2, 503, "SlowDown")
	p.Fail(fixtures.S3OpPutObject, "manifest.json", 2, 503, "SlowDown")
	run := w.backup(t, vars, multipartArgs...)
	m := w.exactlyOneBackup(t, run)
	if m.Databases[0].Size < 16<<20 {
		t.Fatalf("the dump is %d bytes: too small for a multipart upload of several parts", m.Databases[0].Size)
	}
	// Each faulted request kind was tried again after its two 503s.
	for op, least := range map[fixtures.S3Op]int{
		fixtures.S3OpUploadPart:              4 + 2, // four parts
		fixtures.S3OpCompleteMultipartUpload: 3,
	} {
		if n := p.Count(op); n < least {
			t.Errorf("%s: %d requests, want at least %d (2 failed, then the rest)", op, n, least)
		}
	}
	// Without faults: the claim, the globals and the manifest.
	if n := p.Count(fixtures.S3OpPutObject); n < 3+2 {
		t.Errorf("PutObject: %d requests, want at least 5 (claim, globals, 2 failed manifest puts, the manifest)", n)
	}
	within(t, run, 2*time.Minute)
}

// S3 answers 503 SlowDown to every UploadPart: the run gives up after the
// SDK's tries, aborts the upload and deletes what it created.
func TestS3SlowDownForever(t *testing.T) {
	w := newWorld(t, mediumSQL)
	p, vars := w.s3Proxy(t)
	p.Fail(fixtures.S3OpUploadPart, "", -1, 503, "SlowDown")
	run := w.backup(t, vars, multipartArgs...)
	expectFailure(t, run, 5, result.ReasonStorageFailed)
	// Five tries, with throttling backoff between them (a random delay up
	// to 1 s×2^attempt, at most 5 s each): at most about 15 s.
	within(t, run, 90*time.Second)
	if n := p.Count(fixtures.S3OpUploadPart); n < 5 {
		t.Errorf("%d UploadPart requests, want the SDK's 5 tries at least", n)
	}
	if p.Count(fixtures.S3OpAbortMultipartUpload) == 0 {
		t.Error("the upload was never aborted")
	}
	w.nothingCommitted(t)
}

// The server stores the manifest but its answer is lost: the retried
// conditional PUT answers 412, the agent reads the manifest back, finds its
// own and succeeds.
func TestLostManifestPutAnswer(t *testing.T) {
	w := newWorld(t, smallSQL)
	p, vars := w.s3Proxy(t)
	p.LoseAnswer(fixtures.S3OpPutObject, "manifest.json", 1)
	run := w.backup(t, vars)
	w.exactlyOneBackup(t, run)
	if n := p.Count(fixtures.S3OpPutObject); n < 2 {
		t.Errorf("%d PutObject requests: the lost answer was never retried", n)
	}
}

// The server completes the multipart upload but its answer is lost: the
// run must either succeed with a whole backup, or fail with no manifest.
// What it must never leave is a manifest naming a missing or different
// object.
func TestLostCompleteMultipartUploadAnswer(t *testing.T) {
	w := newWorld(t, mediumSQL)
	p, vars := w.s3Proxy(t)
	p.LoseAnswer(fixtures.S3OpCompleteMultipartUpload, "/db/", 1)
	run := w.backup(t, vars, multipartArgs...)
	if p.Count(fixtures.S3OpCompleteMultipartUpload) == 0 {
		t.Fatalf("no CompleteMultipartUpload: the dump was not a multipart upload; output:\n%s", run.Output)
	}
	if run.ExitCode == 0 {
		w.exactlyOneBackup(t, run)
		return
	}
	t.Logf("the run failed (exit %d): it must leave no manifest", run.ExitCode)
	expectFailure(t, run, 5, result.ReasonStorageFailed)
	if ms := w.manifests(t); len(ms) != 0 {
		t.Errorf("a failed run left manifests: %v", keysOf(ms))
	}
}

// S3 reads an UploadPart and never answers it (every UploadPart): each try
// gives up after --s3-request-timeout, the run fails, aborts its upload
// (AbortMultipartUpload is answered) and commits nothing.
func TestS3BlackHoleDuringUploadPart(t *testing.T) {
	w := newWorld(t, mediumSQL)
	p, vars := w.s3Proxy(t)
	p.Hang(fixtures.S3OpUploadPart, "", -1)
	const timeout = 2 * time.Second
	run := w.backup(t, vars, append([]string{"--s3-request-timeout", timeout.String()}, multipartArgs...)...)
	expectFailure(t, run, 5, result.ReasonStorageFailed)
	if !strings.Contains(run.Result.Message, "did not answer within "+timeout.String()) {
		t.Errorf("the message does not name the bound: %q", run.Result.Message)
	}
	// Five tries of 2 s, the backoff between them (at most 5 s each) and
	// the run's own start and cleanup.
	within(t, run, 5*timeout+4*5*time.Second+30*time.Second)
	if p.Count(fixtures.S3OpAbortMultipartUpload) == 0 {
		t.Error("the upload was never aborted")
	}
	w.nothingCommitted(t)
}

// The connection of an UploadPart is reset after 1 MiB of the part's 8,
// twice: the SDK tries the part again (parts are buffered, so a retry
// resends the same bytes) and the run succeeds with a whole object.
func TestS3ConnectionResetMidPart(t *testing.T) {
	w := newWorld(t, mediumSQL)
	p, vars := w.s3Proxy(t)
	p.ResetRequest(fixtures.S3OpUploadPart, "/db/", 2, 1<<20)
	run := w.backup(t, vars, multipartArgs...)
	w.exactlyOneBackup(t, run)
	t.Logf("%d UploadPart requests", p.Count(fixtures.S3OpUploadPart))
	if n := p.Count(fixtures.S3OpUploadPart); n < 4+2 {
		t.Errorf("%d UploadPart requests, want at least 6 (four parts, two reset)", n)
	}
}

// The link to S3 carries 1 MB/s each way: the run is slow and succeeds.
func TestS3Bandwidth1MBps(t *testing.T) {
	w := newWorld(t, strings.ReplaceAll(mediumSQL, "200000", "40000")) // about 5.4 MB
	link, vars := w.s3Link(t)
	addToxic(t, link, `{"name":"up","type":"bandwidth","stream":"upstream","attributes":{"rate":1024}}`)
	addToxic(t, link, `{"name":"down","type":"bandwidth","stream":"downstream","attributes":{"rate":1024}}`)
	run := w.backup(t, vars, "--compression", "none")
	m := w.exactlyOneBackup(t, run)
	// The toxic must have slowed the upload down: a test it cannot fail
	// proves nothing.
	least := time.Duration(m.TotalSize()*8/10/1024) * time.Millisecond // 80 % of size at 1 KiB/ms
	if run.Duration < least {
		t.Errorf("%d bytes went through a 1 MB/s link in %v, faster than %v", m.TotalSize(), run.Duration, least)
	}
	within(t, run, time.Minute)
	// The benchmark's bound on the agent's memory holds on a slow link:
	// parts wait in a bounded pool, they do not pile up.
	if rss := peakRSS(t, run); rss > maxAgentRSS {
		t.Errorf("peak RSS %d MiB on a 1 MB/s link, above the benchmark's bound of %d MiB", rss>>20, maxAgentRSS>>20)
	} else {
		t.Logf("peak RSS %d MiB", rss>>20)
	}
}

// maxAgentRSS is the benchmark's bound on the agent's peak RSS
// (test/bench: maxAgentRSSMiB).
const maxAgentRSS = 96 << 20
