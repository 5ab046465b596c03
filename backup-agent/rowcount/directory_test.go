package rowcount

import (
	"archive/tar"
	"reflect"
	"strings"
	"testing"
)

func directoryTOC(vmin byte) []byte {
	return newArchive(vmin, formatDirectory).header([]entry{
		{id: 1, desc: "ENCODING", tag: "ENCODING", noDumper: true},
		tableEntry(10, "public", "orders"),
		tableEntry(11, oddSchema, oddName),
		tableEntry(12, "public", "empty"),
		{id: 13, desc: "BLOBS", tag: "BLOBS", filename: "blobs_13.toc"},
		func() entry { e := tableEntry(14, "public", "nofile"); e.filename = ""; return e }(),
	}).bytes()
}

var directoryWant = []Table{
	{Schema: oddSchema, Name: oddName, Rows: 2},
	{Schema: "public", Name: "empty", Rows: 0},
	{Schema: "public", Name: "nofile", Rows: 0},
	{Schema: "public", Name: "orders", Rows: 3},
}

// directoryFiles are the files of a directory dump, in the agent's
// (name) order: toc.dat last.
func directoryFiles(vmin byte) []tarFile {
	return []tarFile{
		{"10.dat", []byte("1\tone\n2\ttwo\n3\tthree\n\\.\n\n\n")},
		{"11.dat", []byte("\nx\n\\.\n\n\n")},
		{"12.dat", []byte("\\.\n\n\n")},
		{"blob_16400.dat", []byte("\\.\n")},
		{"blobs_13.toc", []byte("16400 blob_16400.dat\n")},
		{"toc.dat", directoryTOC(vmin)},
	}
}

func TestDirectoryTar(t *testing.T) {
	files := directoryFiles(16)
	reversed := make([]tarFile, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	valid := makeTar(t, tar.FormatUSTAR, files...)
	tests := []struct {
		name    string
		tar     []byte
		want    []Table
		wantErr error
	}{
		{name: "1.14, toc last", tar: makeTar(t, tar.FormatUSTAR, directoryFiles(14)...), want: directoryWant},
		{name: "1.16, toc last", tar: valid, want: directoryWant},
		{name: "toc first", tar: makeTar(t, tar.FormatUSTAR, reversed...), want: directoryWant},
		{name: "PAX headers", tar: makeTar(t, tar.FormatPAX, files...), want: directoryWant},
		{name: "GNU format", tar: makeTar(t, tar.FormatGNU, files...), want: directoryWant},
		{name: "GNU long names", tar: makeTar(t, tar.FormatGNU, prefixed(strings.Repeat("./", 150), files)...), want: directoryWant},
		{name: "PAX long names", tar: makeTar(t, tar.FormatPAX, prefixed(strings.Repeat("./", 150), files)...), want: directoryWant},
		{name: "files in a subdirectory", tar: makeTar(t, tar.FormatPAX, prefixed(strings.Repeat("d/", 80), files)...), wantErr: ErrMalformed},
		{name: "missing data file", tar: makeTar(t, tar.FormatUSTAR, files[1:]...), wantErr: ErrTruncated},
		{name: "no toc.dat", tar: makeTar(t, tar.FormatUSTAR, files[:5]...), wantErr: ErrMalformed},
		{name: "toc.dat cut", tar: makeTar(t, tar.FormatUSTAR, tarFile{"toc.dat", directoryTOC(16)[:300]}), wantErr: ErrTruncated},
		{name: "toc.dat with trailing bytes", tar: makeTar(t, tar.FormatUSTAR, append(files[:5:5], tarFile{"toc.dat", append(directoryTOC(16), 0)})...), wantErr: ErrMalformed},
		{name: "compressed file", tar: makeTar(t, tar.FormatUSTAR, tarFile{"10.dat.gz", []byte{0x1f, 0x8b}}), wantErr: ErrCompressed},
		{name: "custom header in toc.dat", tar: makeTar(t, tar.FormatUSTAR, tarFile{"toc.dat", customArchive(16)}), wantErr: ErrMalformed},
		{name: "unknown version", tar: makeTar(t, tar.FormatUSTAR, tarFile{"toc.dat", directoryTOC(20)}), wantErr: ErrUnsupported},
		{name: "cut in a file", tar: valid[:1000], wantErr: ErrTruncated},
		{name: "cut before end marker", tar: valid[:len(valid)-1024], wantErr: ErrTruncated},
		{name: "empty stream", tar: nil, wantErr: ErrTruncated},
		{name: "garbage", tar: []byte(strings.Repeat("not a tar stream ", 100)), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1 << 20, 1, 100} {
				got, err := feed(NewDirectoryTar, tt.tar, size)
				check(t, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// prefixed puts dir before the files' names.
func prefixed(dir string, files []tarFile) []tarFile {
	out := make([]tarFile, len(files))
	for i, f := range files {
		out[i] = tarFile{dir + f.name, f.data}
	}
	return out
}

// TestDirectoryTarSplitWrites splits the stream at every byte boundary.
func TestDirectoryTarSplitWrites(t *testing.T) {
	b := makeTar(t, tar.FormatPAX, directoryFiles(16)...)
	for i := 1; i <= len(b); i++ {
		got, err := feed(NewDirectoryTar, b, i, len(b))
		if err != nil || !reflect.DeepEqual(got, directoryWant) {
			t.Fatalf("split at %d: tables %v, error %v", i, got, err)
		}
	}
}
