package spool

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"toc.dat": "toc", "3001.dat": strings.Repeat("row\n", 10000), "blobs/1.dat": "blob"}
	for name, body := range files {
		p := filepath.Join(src, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteTar(&buf, src); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := ExtractTar(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != body {
			t.Fatalf("%s: %v, %d bytes", name, err, len(got))
		}
	}
	// A truncated archive is an error, not a shorter dump.
	if err := ExtractTar(bytes.NewReader(buf.Bytes()[:buf.Len()/2]), t.TempDir()); err == nil {
		t.Fatal("truncated archive unpacked")
	}
}

func TestExtractRejectsEscapes(t *testing.T) {
	for _, hdr := range []*tar.Header{
		{Name: "../evil", Typeflag: tar.TypeReg, Size: 1},
		{Name: "/etc/passwd", Typeflag: tar.TypeReg, Size: 1},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(hdr)
		if hdr.Size > 0 {
			_, _ = tw.Write([]byte("x"))
		}
		_ = tw.Close()
		err := ExtractTar(&buf, t.TempDir())
		if result.ExitCode(err) != result.ExitIntegrity {
			t.Errorf("%q: %v, want IntegrityFailed", hdr.Name, err)
		}
	}
}

func TestCheckFree(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFree(dir, 1); err != nil {
		t.Fatal(err)
	}
	err := CheckFree(dir, 1<<62)
	if result.ExitCode(err) != result.ExitStorage || !strings.Contains(err.Error(), "bytes free but the dump needs about") {
		t.Fatalf("CheckFree(huge) = %v", err)
	}
}

func TestTempFileLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f, err := TempFile(dir, "part-*")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteAt([]byte("part data"), 0); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 9)
	if _, err := f.ReadAt(got, 0); err != nil || string(got) != "part data" {
		t.Fatalf("read back %q, %v", got, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the spool directory holds %d entries while the file is open, want none (the name is removed at once)", len(entries))
	}
}

func TestTempFileMissingDir(t *testing.T) {
	_, err := TempFile(filepath.Join(t.TempDir(), "missing"), "part-*")
	if result.ReasonOf(err) != result.ReasonStorageFailed {
		t.Errorf("TempFile in a missing directory: %v (reason %s), want StorageFailed", err, result.ReasonOf(err))
	}
}
