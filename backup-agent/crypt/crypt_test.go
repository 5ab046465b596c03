package crypt

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func identity(t *testing.T) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, path
}

func encrypt(t *testing.T, rs Recipients, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := rs.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAndFailures(t *testing.T) {
	alice, alicePath := identity(t)
	bob, bobPath := identity(t)
	_, evePath := identity(t)
	recFile := filepath.Join(t.TempDir(), "recipients.txt")
	if err := os.WriteFile(recFile, []byte("# team\n"+bob.Recipient().String()+"\n\n"+alice.Recipient().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRecipients([]string{alice.Recipient().String()}, recFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Keys()) != 2 || !rs.Enabled() {
		t.Fatalf("recipients %v, want alice and bob once each", rs.Keys())
	}
	data := make([]byte, 300_000)
	_, _ = rand.Read(data)
	ct := encrypt(t, rs, data)

	for _, path := range []string{alicePath, bobPath} {
		ids, err := LoadIdentities(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ids.NewReader(bytes.NewReader(ct), "obj")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decrypt with %s: %v", path, err)
		}
	}

	eve, _ := LoadIdentities(evePath)
	if _, err := eve.NewReader(bytes.NewReader(ct), "obj"); result.ExitCode(err) != result.ExitIntegrity || !strings.Contains(err.Error(), "other recipients") {
		t.Fatalf("wrong identity: %v", err)
	}
	if _, err := Identities(nil).NewReader(bytes.NewReader(ct), "obj"); result.ExitCode(err) != result.ExitIntegrity || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("missing identity: %v", err)
	}
	ids, _ := LoadIdentities(alicePath)
	for name, bad := range map[string][]byte{
		"truncated": ct[:len(ct)-1000],
		"flipped":   append(append(append([]byte{}, ct[:len(ct)/2]...), ct[len(ct)/2]^1), ct[len(ct)/2+1:]...),
	} {
		r, err := ids.NewReader(bytes.NewReader(bad), "obj")
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if result.ExitCode(err) != result.ExitIntegrity {
			t.Errorf("%s ciphertext: %v, want IntegrityFailed", name, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := ParseRecipients([]string{"age1notakey"}, ""); result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), "age1notakey") {
		t.Fatalf("bad recipient: %v", err)
	}
	if _, err := ParseRecipients(nil, "/nonexistent"); result.ExitCode(err) != result.ExitConfig {
		t.Fatalf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(path, []byte("AGE-SECRET-KEY-1SECRETSTUFF\n"), 0o600)
	_, err := LoadIdentities(path)
	if result.ExitCode(err) != result.ExitConfig || strings.Contains(err.Error(), "SECRETSTUFF") {
		t.Fatalf("bad identity file: %v", err)
	}
	if rs, err := ParseRecipients(nil, ""); err != nil || rs.Enabled() {
		t.Fatal("no recipients must mean no encryption")
	}
}

// A missing identity file says where it comes from in a verify pod.
func TestLoadIdentitiesMissing(t *testing.T) {
	_, err := LoadIdentities(filepath.Join(t.TempDir(), "identity"))
	if result.ReasonOf(err) != result.ReasonConfigInvalid || !strings.Contains(err.Error(), "does not exist (in a verify pod it comes from verify.ageIdentitySecretRef") {
		t.Fatalf("err = %v", err)
	}
}
