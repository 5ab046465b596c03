package pgclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
