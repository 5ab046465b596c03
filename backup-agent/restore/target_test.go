package restore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// TestTargetSecretsStayOutOfCommandLines: a password, passfile or
// sslpassword in the --target URL (userinfo or query) reaches pg_restore
// and psql only through the variable meant for it, never their argv, and
// never the target as shown.
func TestTargetSecretsStayOutOfCommandLines(t *testing.T) {
	fakeTools(t, "17.2")
	tests := []struct {
		name   string
		url    string
		absent []string          // secrets that must appear nowhere
		inEnv  map[string]string // the one variable each kept secret may be in
		inFile string            // a secret only in the private service file
	}{
		{
			name:  "password in the query wins over the userinfo's",
			url:   "postgres://app:userinfo-secret@db.example:5432/orders?sslmode=require&password=query-secret",
			inEnv: map[string]string{"PGPASSWORD": "query-secret"}, absent: []string{"userinfo-secret"},
		},
		{
			name:  "password in the userinfo",
			url:   "postgres://app:userinfo-secret@db.example/orders",
			inEnv: map[string]string{"PGPASSWORD": "userinfo-secret"},
		},
		{
			name:  "passfile",
			url:   "postgresql://app@db.example/orders?passfile=%2Frun%2Fsecrets%2Fpgpass-secret",
			inEnv: map[string]string{"PGPASSFILE": "/run/secrets/pgpass-secret"},
		},
		{
			name:   "sslpassword",
			url:    "postgres://app@db.example/orders?sslmode=verify-full&sslkey=%2Fk%2Fclient.key&sslpassword=key-secret",
			inFile: "key-secret",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The agent may take --target from its environment: the
			// tools must not inherit it from there either.
			t.Setenv("PGBACKUP_TARGET", tt.url)
			tg, err := parseTarget(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			secrets := append([]string{tt.inFile}, tt.absent...)
			for _, v := range tt.inEnv {
				secrets = append(secrets, v)
			}
			p := plan{m: &manifest.Manifest{Format: manifest.FormatCustom}, target: tg, jobs: 1, singleTransaction: true, spoolDir: t.TempDir()}
			cmd, cleanup, err := toolCommand(p, "pg_restore", p.toolArgs(tg.conninfo(tg.db), "-"))
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			shown := []string{tg.String(), tg.conninfo("postgres"), strings.Join(cmd.Args, " ")}
			for _, s := range secrets {
				if s == "" {
					continue
				}
				for _, text := range shown {
					if strings.Contains(text, s) {
						t.Errorf("secret %q in %q", s, text)
					}
				}
			}
			if !strings.Contains(strings.Join(cmd.Args, " "), "db.example") || !strings.Contains(tg.String(), redactedMark) {
				t.Errorf("args %q / shown %q: the connection or the redaction mark is missing", cmd.Args, tg)
			}
			checkEnv(t, cmd.Env, secrets, tt.inEnv)
			if tt.inFile != "" {
				checkServiceFile(t, cmd.Env, tt.inFile)
			}
		})
	}
}

// checkEnv: each secret appears only in its intended variable.
func checkEnv(t *testing.T, env, secrets []string, inEnv map[string]string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		for _, s := range secrets {
			if s != "" && strings.Contains(v, s) && inEnv[k] != s {
				t.Errorf("secret %q in the environment variable %s", s, k)
			}
		}
	}
	for k, v := range inEnv {
		if !containsString(env, k+"="+v) {
			t.Errorf("%s=%s is not in the tool's environment", k, v)
		}
	}
}

// checkServiceFile: the sslpassword is in a service file only this user
// can read, which the environment points libpq at.
func checkServiceFile(t *testing.T, env []string, secret string) {
	t.Helper()
	var path string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PGSERVICEFILE="); ok {
			path = v
		}
	}
	if path == "" || !containsString(env, "PGSERVICE="+serviceName) {
		t.Fatalf("no PGSERVICEFILE/PGSERVICE in the environment")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
		t.Errorf("service file %v in directory %v, want 0600 in 0700", st.Mode().Perm(), dir.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "\nsslpassword="+secret+"\n") {
		t.Errorf("service file %q, %v", b, err)
	}
}

func containsString(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestTargetSecretsStayOutOfPlanLogsAndErrors runs restores whose --target
// carries every kind of secret: the dry-run plan, the logs and the errors
// never show one.
func TestTargetSecretsStayOutOfPlanLogsAndErrors(t *testing.T) {
	fakeTools(t, "17.2")
	secrets := []string{"userinfo-secret", "query-secret", "key-secret", "pgpass-secret"}
	query := "?sslmode=disable&password=query-secret&sslpassword=key-secret&passfile=%2Fnonexistent%2Fpgpass-secret"
	store := &storage.MemStore{}
	putBackup(t, store, "20261129T030000Z", manifest.FormatCustom, []byte("PGDMP fake archive"))

	check := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q in the %s:\n%s", s, what, text)
			}
		}
	}
	for _, tc := range []struct {
		name, url string
		dryRun    bool
	}{
		{"dry-run plan", "postgres://app:userinfo-secret@" + unreachable + "/orders" + query, true},
		{"target without a database", "postgres://app:userinfo-secret@" + unreachable + "/" + query, false},
		{"unreachable target", "postgres://app:userinfo-secret@" + unreachable + "/orders" + query, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log capturedLog
			var out bytes.Buffer
			opts := testOptions(tc.url)
			opts.DryRun = tc.dryRun
			err := Run(context.Background(), log.logger(), opts, Deps{Store: store}, &out)
			if tc.dryRun != (err == nil) {
				t.Fatalf("Run: %v", err)
			}
			if err != nil {
				check(t, "error", err.Error())
			}
			check(t, "plan", out.String())
			check(t, "log", log.String())
			if tc.dryRun && !strings.Contains(out.String(), "target:      postgres://app:"+redactedMark+"@") {
				t.Errorf("the plan does not show the redacted target:\n%s", out.String())
			}
		})
	}
}

func TestParseTargetRefuses(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"mysql://h/db", "postgres:// URL"},
		{"postgres://u@h/?password=query-secret", "names no database"},
		{"postgres://u@h/db?password=a&password=b", "password 2 times"},
		{"postgres://u@h/db?service=prod&sslpassword=key-secret", "libpq service"},
		{"postgres://u@h/db?sslpassword=key-secret%0A", "control characters"},
	} {
		_, err := parseTarget(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("parseTarget(%q) = %v, want an error with %q and no secret", tc.url, err, tc.want)
		}
	}
}
