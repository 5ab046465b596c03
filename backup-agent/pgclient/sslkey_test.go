package pgclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestUsableSSLKey(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     os.FileMode
		wantCopy bool
	}{
		{name: "private key stays", mode: 0o600, wantCopy: false},
		{name: "readable by the group is copied", mode: 0o640, wantCopy: os.Geteuid() != 0},
		{name: "world readable (a Secret volume's default) is copied", mode: 0o644, wantCopy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "tls.key")
			if err := os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(key, tc.mode); err != nil {
				t.Fatal(err)
			}
			t.Setenv(SSLKeyEnv, key)
			private := t.TempDir()
			remove, err := UsableSSLKey(private)
			if err != nil {
				t.Fatal(err)
			}
			got := os.Getenv(SSLKeyEnv)
			if !tc.wantCopy {
				if got != key {
					t.Fatalf("PGSSLKEY = %s, want %s left alone", got, key)
				}
				return
			}
			if filepath.Dir(got) != private {
				t.Fatalf("PGSSLKEY = %s, want a copy in %s", got, private)
			}
			st, err := os.Stat(got)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("the copy has mode %v, want 0600", st.Mode().Perm())
			}
			if b, _ := os.ReadFile(got); string(b) != "-----BEGIN PRIVATE KEY-----\n" {
				t.Errorf("the copy holds %q", b)
			}
			remove()
			if _, err := os.Stat(got); !os.IsNotExist(err) {
				t.Errorf("remove left the copy: %v", err)
			}
		})
	}
	t.Run("unset: nothing to do", func(t *testing.T) {
		t.Setenv(SSLKeyEnv, "")
		remove, err := UsableSSLKey(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		remove()
	})
	t.Run("missing key: ConfigInvalid naming the path", func(t *testing.T) {
		t.Setenv(SSLKeyEnv, "/nonexistent/tls.key")
		if _, err := UsableSSLKey(t.TempDir()); err == nil || !strings.Contains(err.Error(), "PGSSLKEY /nonexistent/tls.key") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("PEM"), 0o644); err != nil {
		t.Fatal(err)
	}
	all := []string{"PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "AWS_CA_BUNDLE"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		only []string
		want string
	}{
		{name: "nothing set", env: map[string]string{}},
		{name: "files present", env: map[string]string{"PGSSLROOTCERT": ca, "AWS_CA_BUNDLE": ca}},
		{name: "the system's CAs", env: map[string]string{"PGSSLROOTCERT": "system"}},
		{name: "missing CA", env: map[string]string{"PGSSLROOTCERT": "/etc/pgbackup/postgres-ca/ca.crt"},
			want: "PGSSLROOTCERT /etc/pgbackup/postgres-ca/ca.crt: no such file; on Kubernetes it comes from postgres.sslRootCertRef"},
		{name: "missing key", env: map[string]string{"PGSSLCERT": ca, "PGSSLKEY": filepath.Join(dir, "tls.key")}, want: "postgres.sslClientCertSecretRef (tls.key)"},
		{name: "a directory is no file", env: map[string]string{"AWS_CA_BUNDLE": dir}, want: "destination.s3.caBundleRef"},
		{name: "only what is asked is checked", env: map[string]string{"PGSSLROOTCERT": "/nonexistent"}, only: []string{"AWS_CA_BUNDLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range all {
				t.Setenv(v, tc.env[v])
			}
			only := tc.only
			if only == nil {
				only = all
			}
			err := CheckTLSFiles(only...)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if result.ReasonOf(err) != result.ReasonConfigInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ConfigInvalid with %q", err, tc.want)
			}
		})
	}
}
