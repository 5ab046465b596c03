package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// restore runs `pgbackup restore` in the agent container.
func (e *env) restore(t *testing.T, files map[string][]byte, args ...string) fixtures.AgentRun {
	t.Helper()
	run := fixtures.RunAgent(t, fixtures.Agent{
		Args:    append([]string{"restore", "--destination", "s3://" + e.Bucket + "/pg"}, args...),
		Env:     e.agentEnv(),
		Network: e.Network,
		Files:   files,
	})
	t.Logf("restore exited %d in %v", run.ExitCode, run.Duration.Round(time.Millisecond))
	return run
}

func (e *env) target(db string) string { return e.PG.InternalDSN(db) }

func (e *env) manifest(t *testing.T, id string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Unmarshal(e.get(t, "pg/"+id+"/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) query(t *testing.T, db, sql string) string {
	t.Helper()
	var out string
	if err := e.PG.Connect(t, db).QueryRow(context.Background(), sql).Scan(&out); err != nil {
		t.Fatalf("%s on %s: %v", sql, db, err)
	}
	return out
}

func mustSucceed(t *testing.T, run fixtures.AgentRun) {
	t.Helper()
	if run.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s", run.ExitCode, run.Output)
	}
}

const ordersDigest = "SELECT count(*)::text || ':' || md5(string_agg(o::text, ',' ORDER BY o.id)) FROM orders o"

func TestAgentDepth(t *testing.T) {
	e := newEnv(t, 17, seedSQL+"CREATE ROLE reporting NOLOGIN; CREATE DATABASE second;")
	want := e.query(t, "app", ordersDigest)

	t.Run("every database and globals by default", func(t *testing.T) {
		run := e.backup(t, nil)
		mustSucceed(t, run)
		m := e.manifest(t, run.Result.BackupID)
		var names []string
		for _, d := range m.Databases {
			names = append(names, d.Name)
		}
		if strings.Join(names, ",") != "app,postgres,second" {
			t.Fatalf("databases %v, want every connectable non-template database", names)
		}
		if m.Globals == nil || !strings.HasSuffix(m.Globals.Key, "/globals.sql.zst") || m.GlobalsSkipped != "" {
			t.Fatalf("globals %+v (skipped %q): a superuser's backup must hold them", m.Globals, m.GlobalsSkipped)
		}
	})

	t.Run("globals restored first", func(t *testing.T) {
		other := fixtures.StartPostgres(t, 17, fixtures.WithPostgresNetwork(e.Network, "pg2"))
		run := fixtures.RunAgent(t, fixtures.Agent{
			Args: []string{"restore", "--destination", "s3://" + e.Bucket + "/pg", "--database", "app", "--globals", "--create",
				"--target", other.InternalDSN("app_copy")},
			Env: e.agentEnv(), Network: e.Network,
		})
		mustSucceed(t, run)
		var exists bool
		if err := other.Connect(t, other.Database).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reporting')").Scan(&exists); err != nil || !exists {
			t.Fatalf("role reporting not restored (%v):\n%s", err, run.Output)
		}
		// The restore connects as postgres: the source's password for it
		// must not replace the target's (the restore would lock itself out).
		if !strings.Contains(run.Output, "left out the statements about the connecting role") {
			t.Errorf("the connecting role's statements should be left out and said so:\n%s", run.Output)
		}
		if _, err := other.Connect(t, other.Database).Exec(context.Background(), "SELECT 1"); err != nil {
			t.Fatalf("the target's own password no longer works: %v", err)
		}
	})

	t.Run("directory format in parallel through the spool", func(t *testing.T) {
		run := e.backup(t, nil, "--databases", "app", "--format", "directory", "--jobs", "2", "--spool-dir", "/tmp")
		mustSucceed(t, run)
		m := e.manifest(t, run.Result.BackupID)
		if m.Format != manifest.FormatDirectory || !strings.HasSuffix(m.Databases[0].Key, "/app.tar.zst") {
			t.Fatalf("manifest %+v", m)
		}
		mustSucceed(t, e.restore(t, nil, "--backup", m.ID, "--jobs", "2", "--spool-dir", "/tmp", "--create", "--target", e.target("from_directory")))
		if got := e.query(t, "from_directory", ordersDigest); got != want {
			t.Fatalf("restored orders %s, want %s", got, want)
		}
	})

	t.Run("directory format without space on the spool", func(t *testing.T) {
		run := e.backup(t, nil, "--databases", "app", "--format", "directory", "--spool-dir", "/nonexistent")
		expectFailure(t, run, 2, result.ReasonConfigInvalid, "--spool-dir /nonexistent is not a directory")
	})

	t.Run("age encryption", func(t *testing.T) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		stranger, _ := age.GenerateX25519Identity()
		run := e.backup(t, nil, "--databases", "app", "--age-recipient", id.Recipient().String())
		mustSucceed(t, run)
		m := e.manifest(t, run.Result.BackupID)
		if m.Encryption == nil || m.Encryption.Recipients[0] != id.Recipient().String() || !strings.HasSuffix(m.Databases[0].Key, ".dump.zst.age") {
			t.Fatalf("manifest %+v", m)
		}
		if stored := e.get(t, m.Databases[0].Key); strings.Contains(string(stored), "customer 1") {
			t.Fatal("plaintext in the stored object")
		}
		key := map[string][]byte{"/tmp/key.txt": []byte(id.String() + "\n")}
		wrong := map[string][]byte{"/tmp/key.txt": []byte(stranger.String() + "\n")}

		expectRestoreFailure(t, e.restore(t, nil, "--backup", m.ID, "--create", "--target", e.target("enc_none")), 6, "--identity")
		expectRestoreFailure(t, e.restore(t, wrong, "--backup", m.ID, "--identity", "/tmp/key.txt", "--create", "--target", e.target("enc_wrong")), 6, "other recipients")
		mustSucceed(t, e.restore(t, key, "--backup", m.ID, "--identity", "/tmp/key.txt", "--create", "--target", e.target("enc_ok")))
		if got := e.query(t, "enc_ok", ordersDigest); got != want {
			t.Fatalf("decrypted restore %s, want %s", got, want)
		}
		if e.query(t, "postgres", "SELECT count(*)::text FROM pg_database WHERE datname IN ('enc_none', 'enc_wrong')") != "0" {
			t.Fatal("a failed restore left the database it created")
		}
	})

	t.Run("retention after success, and prune", func(t *testing.T) {
		for range 2 {
			time.Sleep(1100 * time.Millisecond) // distinct backup ids
			mustSucceed(t, e.backup(t, nil, "--databases", "app", "--keep-last", "2"))
		}
		if n := len(e.manifests(t)); n != 2 {
			t.Fatalf("%d complete backups after --keep-last 2, want 2", n)
		}
		dry := fixtures.RunAgent(t, fixtures.Agent{Args: []string{"prune", "--destination", "s3://" + e.Bucket + "/pg", "--keep-last", "1", "--dry-run"}, Env: e.agentEnv(), Network: e.Network})
		mustSucceed(t, dry)
		if !strings.Contains(dry.Output, "would delete 1 backups") || len(e.manifests(t)) != 2 {
			t.Fatalf("dry run:\n%s", dry.Output)
		}
		mustSucceed(t, fixtures.RunAgent(t, fixtures.Agent{Args: []string{"prune", "--destination", "s3://" + e.Bucket + "/pg", "--keep-last", "1"}, Env: e.agentEnv(), Network: e.Network}))
		if ms := e.manifests(t); len(ms) != 1 {
			t.Fatalf("%d complete backups after prune --keep-last 1", len(ms))
		}
	})
}

func (e *env) manifests(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, k := range e.S3.ObjectKeys(t, e.Bucket, "pg/") {
		if strings.HasSuffix(k, "/manifest.json") {
			out = append(out, k)
		}
	}
	return out
}

func expectRestoreFailure(t *testing.T, run fixtures.AgentRun, code int, message string) {
	t.Helper()
	if run.ExitCode != code || !strings.Contains(run.Output, message) {
		t.Fatalf("exit %d, want %d with %q:\n%s", run.ExitCode, code, message, run.Output)
	}
}
