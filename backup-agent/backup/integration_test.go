package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// seedSQL is a small database with the object kinds a dump must carry.
const seedSQL = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(12,2) CHECK (total >= 0), meta jsonb);
CREATE INDEX orders_customer ON orders (customer);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE FUNCTION order_count(c int) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders WHERE customer = c';
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders (customer, total, meta) SELECT 1 + g % 200, g * 1.5, jsonb_build_object('n', g) FROM generate_series(1, 5000) g;
`

// env is one test's world: PostgreSQL and S3 on a private network.
type env struct{ *fixtures.Stack }

func newEnv(t *testing.T, major int, initSQL string) *env {
	t.Helper()
	return &env{fixtures.StartStack(t, major, initSQL)}
}

// agentEnv is the production configuration: libpq and AWS variables.
func (e *env) agentEnv() map[string]string { return e.AgentEnv(e.PG) }

func (e *env) backup(t *testing.T, overrides map[string]string, args ...string) fixtures.AgentRun {
	t.Helper()
	vars := e.agentEnv()
	for k, v := range overrides {
		vars[k] = v
	}
	run := fixtures.RunAgent(t, fixtures.Agent{
		Args:    append([]string{"backup", "--destination", "s3://" + e.Bucket + "/pg", "--progress-interval", "1s"}, args...),
		Env:     vars,
		Network: e.Network,
	})
	t.Logf("agent exited %d in %v", run.ExitCode, run.Duration.Round(time.Millisecond))
	return run
}

func (e *env) get(t *testing.T, key string) []byte { return e.Get(t, key) }

// nothingCommitted asserts the bucket holds no manifest, no object and no
// open multipart upload.
func (e *env) nothingCommitted(t *testing.T) {
	t.Helper()
	if keys := e.S3.ObjectKeys(t, e.Bucket, ""); len(keys) != 0 {
		t.Errorf("objects left in the bucket: %v", keys)
	}
	ups, err := e.S3.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(e.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open", len(ups.Uploads))
	}
}

func expectFailure(t *testing.T, run fixtures.AgentRun, code int, reason result.Reason, message string) {
	t.Helper()
	if run.ExitCode != code {
		t.Fatalf("exit code %d, want %d; output:\n%s", run.ExitCode, code, run.Output)
	}
	if run.Result == nil {
		t.Fatalf("no result written; output:\n%s", run.Output)
	}
	if run.Result.Result != result.Failed || run.Result.Reason != reason || !strings.Contains(run.Result.Message, message) {
		t.Fatalf("result %+v, want failed/%s with %q", run.Result, reason, message)
	}
	if strings.Contains(run.Output, "secret-") {
		t.Errorf("a password appears in the output:\n%s", run.Output)
	}
}

// toolbox runs client tools of the agent's major (the newest) against files,
// to check what the agent stored with programs other than the agent: older
// pg_restore cannot read a newer pg_dump's archive.
func toolbox(t *testing.T, e *env) *fixtures.Postgres {
	t.Helper()
	if e.PG.Major == fixtures.NewestPostgresMajor() {
		return e.PG
	}
	return fixtures.StartPostgres(t, fixtures.NewestPostgresMajor())
}

func execIn(t *testing.T, pg *fixtures.Postgres, cmd ...string) string {
	t.Helper()
	code, out, err := pg.Container.Exec(context.Background(), cmd, tcexec.Multiplexed())
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	b, _ := io.ReadAll(out)
	if code != 0 {
		t.Fatalf("exec %v: exit %d:\n%s", cmd, code, b)
	}
	return string(b)
}

// longestStream is the longest time between a database's "Dumping
// database" and its "Stored" log lines in the agent's JSON log.
func longestStream(t *testing.T, output string) time.Duration {
	t.Helper()
	started := map[string]time.Time{}
	var longest time.Duration
	for _, line := range strings.Split(output, "\n") {
		var l struct {
			Msg      string `json:"msg"`
			TS       string `json:"ts"`
			Database string `json:"database"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Database == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, l.TS)
		if err != nil {
			t.Fatalf("log line with a time that does not parse: %s", line)
		}
		switch l.Msg {
		case "Dumping database":
			started[l.Database] = ts
		case "Stored":
			if s, ok := started[l.Database]; ok {
				longest = max(longest, ts.Sub(s))
			}
		}
	}
	return longest
}

func TestBackupRoundTrip(t *testing.T) {
	for _, major := range fixtures.PostgresMajors {
		for _, format := range []string{"custom", "plain"} {
			t.Run(fmt.Sprintf("postgres-%d/%s", major, format), func(t *testing.T) {
				e := newEnv(t, major, seedSQL)
				setup := e.PG.Connect(t, e.PG.Database)
				if _, err := setup.Exec(context.Background(), "CREATE DATABASE second"); err != nil {
					t.Fatal(err)
				}
				run := e.backup(t, nil, "--format", format, "--databases", "app,second")
				if run.ExitCode != 0 || run.Result == nil || run.Result.Result != result.Succeeded {
					t.Fatalf("backup failed: exit %d result %+v\n%s", run.ExitCode, run.Result, run.Output)
				}
				id := run.Result.BackupID
				m, err := manifest.Unmarshal(e.get(t, "pg/"+id+"/manifest.json"))
				if err != nil {
					t.Fatal(err)
				}
				if m.Server.VersionNum/10000 != major || m.Format != manifest.Format(format) || m.Compression != "zstd:1" || len(m.Databases) != 2 {
					t.Fatalf("manifest %+v", m)
				}
				// Progress is logged every second while a database streams:
				// a stream of more than two seconds must show it. (The run's
				// own duration includes the container's start, which says
				// nothing about streaming on a busy machine.)
				d := longestStream(t, run.Output)
				t.Logf("longest database stream: %v", d)
				if d == 0 {
					t.Errorf("no database stream found in the agent's log (its lines changed?):\n%s", run.Output)
				}
				if !strings.Contains(run.Output, `"msg":"Progress"`) && d > 2*time.Second {
					t.Errorf("no progress logged while a database streamed for %v", d)
				}
				tools := toolbox(t, e)
				for _, obj := range m.Databases {
					stored := e.get(t, obj.Key)
					sum := sha256.Sum256(stored)
					if hex.EncodeToString(sum[:]) != obj.SHA256 || int64(len(stored)) != obj.Size {
						t.Fatalf("%s: the manifest's sha256/size do not match the stored object", obj.Key)
					}
					zr, err := compress.Default.NewReader(bytes.NewReader(stored))
					if err != nil {
						t.Fatal(err)
					}
					raw, err := io.ReadAll(zr)
					if err != nil {
						t.Fatalf("%s: decompress: %v", obj.Key, err)
					}
					path := "/tmp/" + obj.Name + "." + manifest.Format(format).Ext()
					if err := tools.Container.CopyToContainer(context.Background(), raw, path, 0o644); err != nil {
						t.Fatal(err)
					}
					if format == "custom" {
						list := execIn(t, tools, "pg_restore", "--list", path)
						if obj.Name == "app" && (!strings.Contains(list, "TABLE DATA public orders") || !strings.Contains(list, "FUNCTION public order_count")) {
							t.Fatalf("pg_restore --list of app lacks the seeded objects:\n%s", list)
						}
						continue
					}
					// Plain SQL: it must run to the end in a fresh database.
					target := "check_" + obj.Name
					execIn(t, tools, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", tools.User, "-d", tools.Database, "-c", "CREATE DATABASE "+target)
					execIn(t, tools, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", tools.User, "-d", target, "-f", path)
					if obj.Name == "app" {
						if got := strings.TrimSpace(execIn(t, tools, "psql", "-X", "-At", "-U", tools.User, "-d", target, "-c", "SELECT count(*), sum(total) FROM orders")); got != "5000|18753750.00" {
							t.Fatalf("restored orders: %q", got)
						}
					}
				}
			})
		}
	}
}

func TestBackupRefusals(t *testing.T) {
	e := newEnv(t, 17, seedSQL)
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		reason   result.Reason
		message  string
		maxDelay time.Duration
	}{
		{name: "wrong password", env: map[string]string{"PGPASSWORD": "secret-wrong"}, code: 3, reason: result.ReasonAuthFailed, message: "authentication refused"},
		{name: "unreachable host", env: map[string]string{"PGPORT": "5999", "PGCONNECT_TIMEOUT": "2"}, args: []string{"--connect-retries", "1"}, code: 3, reason: result.ReasonConnectionFailed, message: "unreachable", maxDelay: 30 * time.Second},
		{name: "missing database", args: []string{"--databases", "app,nope"}, code: 2, reason: result.ReasonConfigInvalid, message: `"nope"`},
		{name: "wrong S3 secret", env: map[string]string{"AWS_SECRET_ACCESS_KEY": "secret-wrong"}, code: 5, reason: result.ReasonStorageFailed, message: "access denied"},
		{name: "S3 unreachable", env: map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3:7999"}, code: 5, reason: result.ReasonStorageFailed, message: "unreachable", maxDelay: 60 * time.Second},
		{name: "bad flag value", args: []string{"--compression", "lz4"}, code: 2, reason: result.ReasonConfigInvalid, message: "--compression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := e.backup(t, tt.env, tt.args...)
			expectFailure(t, run, tt.code, tt.reason, tt.message)
			if tt.maxDelay > 0 && run.Duration > tt.maxDelay {
				t.Errorf("took %v, want at most %v", run.Duration, tt.maxDelay)
			}
			e.nothingCommitted(t)
		})
	}
	t.Run("missing bucket", func(t *testing.T) {
		run := fixtures.RunAgent(t, fixtures.Agent{
			Args: []string{"backup", "--destination", "s3://no-such-bucket-here/pg"}, Env: e.agentEnv(), Network: e.Network,
		})
		expectFailure(t, run, 5, result.ReasonStorageFailed, "does not exist")
	})
}

// bigTableSQL makes a table large enough (about 200 MB of dump) that a
// test can act while pg_dump is streaming it.
const bigTableSQL = `
CREATE TABLE big (id int, a text, b text);
INSERT INTO big SELECT g, md5(g::text), repeat(md5((g * 7)::text), 3) FROM generate_series(1, 1400000) g;
`

// waitOpenUpload waits until a multipart upload is open: data is flowing.
func (e *env) waitOpenUpload(t *testing.T, agent *fixtures.RunningAgent) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ups, err := e.S3.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(e.Bucket)})
		if err == nil && len(ups.Uploads) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := agent.Wait()
	t.Fatalf("no multipart upload was ever open; agent exited %d:\n%s", run.ExitCode, run.Output)
}

func TestBackupInterruptedMidStream(t *testing.T) {
	e := newEnv(t, 17, bigTableSQL)

	t.Run("pg_dump backend terminated", func(t *testing.T) {
		agent := fixtures.StartAgent(t, fixtures.Agent{
			Args: []string{"backup", "--destination", "s3://" + e.Bucket + "/pg", "--databases", "app"}, Env: e.agentEnv(), Network: e.Network,
		})
		e.waitOpenUpload(t, agent)
		conn := e.PG.Connect(t, e.PG.Database)
		var killed int
		if err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_dump') t").Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatal("no pg_dump backend to terminate: the dump finished before the test could act")
		}
		run := agent.Wait()
		expectFailure(t, run, 4, result.ReasonDumpFailed, "pg_dump failed")
		e.nothingCommitted(t)
	})

	t.Run("SIGTERM during upload", func(t *testing.T) {
		agent := fixtures.StartAgent(t, fixtures.Agent{
			Args: []string{"backup", "--destination", "s3://" + e.Bucket + "/pg", "--databases", "app"}, Env: e.agentEnv(), Network: e.Network,
		})
		e.waitOpenUpload(t, agent)
		agent.Signal("TERM")
		run := agent.Wait()
		expectFailure(t, run, 130, result.ReasonInterrupted, "interrupted")
		if run.Duration > time.Minute {
			t.Errorf("the agent took %v to stop after SIGTERM", run.Duration)
		}
		e.nothingCommitted(t)
	})
}

// Every wait of a run is bounded, and its expiry fails the run with a
// reason and nothing committed: a held ACCESS EXCLUSIVE lock (pg_dump's
// --lock-wait-timeout) and an S3 endpoint that accepts connections but
// never answers (--s3-request-timeout).
func TestRunsAreBounded(t *testing.T) {
	e := newEnv(t, 17, seedSQL)

	t.Run("held ACCESS EXCLUSIVE lock", func(t *testing.T) {
		conn := e.PG.Connect(t, "app")
		tx, err := conn.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		if _, err := tx.Exec(context.Background(), "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		run := e.backup(t, nil, "--databases", "app", "--lock-wait-timeout", "2s")
		expectFailure(t, run, 4, result.ReasonDumpFailed, "ACCESS EXCLUSIVE")
		if run.Duration > time.Minute {
			t.Errorf("the run took %v with a 2 s lock-wait bound", run.Duration)
		}
		e.nothingCommitted(t)
	})

	t.Run("S3 endpoint that never answers", func(t *testing.T) {
		hole := fixtures.StartBlackHole(t, e.Network, "s3-black-hole")
		run := e.backup(t, map[string]string{"AWS_ENDPOINT_URL_S3": hole}, "--databases", "app", "--s3-request-timeout", "1s")
		expectFailure(t, run, 5, result.ReasonStorageFailed, "did not answer within 1s")
		if run.Duration > time.Minute {
			t.Errorf("the run took %v with a 1 s request bound", run.Duration)
		}
		e.nothingCommitted(t)
	})
}
