package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerifyingReader(t *testing.T) {
	data := bytes.Repeat([]byte("pgbackup "), 10_000)
	tests := []struct {
		name    string
		stored  []byte
		wantErr string
	}{
		{"intact", data, ""},
		{"flipped byte", append(append(append([]byte{}, data[:500]...), data[500]^1), data[501:]...), "does not match"},
		{"truncated", data[:len(data)-1], "truncated"},
		{"longer", append(append([]byte{}, data...), 'x'), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifyingReader(iotest.HalfReader(bytes.NewReader(tt.stored)), "k", int64(len(data)), sum(data))
			got, err := io.ReadAll(v)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("err %v, %d bytes", err, len(got))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ExitCode(err) != result.ExitIntegrity {
				t.Fatalf("err %v, want IntegrityFailed %q", err, tt.wantErr)
			}
		})
	}
}

func TestHoldbackReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 50_000)
	for _, hold := range []int{1, 1000, 64 << 10, len(data) + 1} {
		got, err := io.ReadAll(newHoldbackReader(iotest.OneByteReader(bytes.NewReader(data)), hold))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("hold %d: err %v, %d of %d bytes", hold, err, len(got), len(data))
		}
	}

	// A failing source: the held-back tail is never released.
	boom := errors.New("checksum mismatch")
	src := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	hold := 4096
	got, err := io.ReadAll(newHoldbackReader(src, hold))
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the source's", err)
	}
	if len(got) > len(data)-hold {
		t.Fatalf("released %d bytes, want at most %d: the tail must wait for the source's verdict", len(got), len(data)-hold)
	}
}

func TestWithoutRole(t *testing.T) {
	script := `CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$x';
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$y';
CREATE ROLE postgres_ro;
ALTER ROLE postgres_ro WITH LOGIN;
CREATE ROLE "Admin";
ALTER ROLE "Admin" WITH SUPERUSER;
GRANT app TO postgres;
`
	got, n := withoutRole([]byte(script), "postgres")
	if n != 2 || strings.Contains(string(got), "ALTER ROLE postgres WITH") || !strings.Contains(string(got), "ALTER ROLE postgres_ro WITH LOGIN") || !strings.Contains(string(got), "GRANT app TO postgres;") {
		t.Fatalf("dropped %d:\n%s", n, got)
	}
	got, n = withoutRole([]byte(script), "Admin")
	if n != 2 || strings.Contains(string(got), `"Admin"`) {
		t.Fatalf("quoted role: dropped %d:\n%s", n, got)
	}
}
