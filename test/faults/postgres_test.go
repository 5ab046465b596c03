package faults_test

import (
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// The link to PostgreSQL closes after 4 MB from the server, in the middle
// of the COPY of the medium table (27 MB): pg_dump fails, and the agent
// must not complete the object it was streaming.
func TestPostgresConnectionLostMidCopy(t *testing.T) {
	w := newWorld(t, mediumSQL)
	link, vars := w.pgLink(t)
	addToxic(t, link, `{"name":"cut","type":"limit_data","stream":"downstream","attributes":{"bytes":4000000}}`)
	run := w.backup(t, vars, "--compression", "none", "--globals", "false")
	expectFailure(t, run, 4, result.ReasonDumpFailed)
	within(t, run, time.Minute)
	w.nothingCommitted(t)
}

// The link to PostgreSQL accepts connections and drops every byte: each
// try gives up after PGCONNECT_TIMEOUT, and the run fails with exit 3
// after its tries (1 + --connect-retries).
func TestPostgresBlackHoleAtConnect(t *testing.T) {
	w := newWorld(t, smallSQL)
	link, vars := w.pgLink(t)
	addToxic(t, link, `{"name":"hole","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`)
	vars["PGCONNECT_TIMEOUT"] = "2"
	const tries = 2
	run := w.backup(t, vars, "--connect-retries", "1")
	expectFailure(t, run, 3, result.ReasonConnectionFailed)
	// Each try waits its 2 s: a faster failure was not the black hole.
	if run.Duration < tries*2*time.Second {
		t.Errorf("the run failed after %v, before %d tries of 2 s", run.Duration, tries)
	}
	// The tries, the backoff between them and the run's start.
	within(t, run, tries*2*time.Second+20*time.Second)
	w.nothingCommitted(t)
}
