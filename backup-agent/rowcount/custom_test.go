package rowcount

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// hostile names: quotes, dots, spaces, unicode, a newline (possible in
// an archive's TOC, not in a plain COPY line).
const (
	oddSchema = `Odd "Schema"`
	oddName   = "a.b c ünï\n"
)

func customArchive(vmin byte) []byte {
	w := newArchive(vmin, formatCustom)
	w.header([]entry{
		{id: 1, desc: "ENCODING", tag: "ENCODING", noDumper: true, noData: true},
		tableEntry(10, "public", "orders"),
		tableEntry(11, oddSchema, oddName),
		tableEntry(12, "public", "empty"),
		{id: 13, desc: "BLOBS", tag: "BLOBS"},
		{id: 14, desc: "SEQUENCE SET", tag: "s", namespace: "public", noDumper: true, noData: true, nullOID: true},
		tableEntry(15, "public", "single"),
	})
	w.data(10, "1\tone\n", "2\ttwo\\nlines\n", "3\t\\N\n", "\\.\n\n\n")
	w.data(11, "\n", "x\n", "\\.\n\n\n") // an empty-string row first
	w.data(12, "\\.\n\n\n")
	w.blobs(13, "large object one", "two")
	w.data(15, "only row\n\\.\n\n\n")
	return w.bytes()
}

var customWant = []Table{
	{Schema: oddSchema, Name: oddName, Rows: 2},
	{Schema: "public", Name: "empty", Rows: 0},
	{Schema: "public", Name: "orders", Rows: 3},
	{Schema: "public", Name: "single", Rows: 1},
}

func TestCustom(t *testing.T) {
	valid := customArchive(16)
	tests := []struct {
		name    string
		archive []byte
		want    []Table
		wantErr error
	}{
		{name: "1.12", archive: customArchive(12), want: customWant},
		{name: "1.14 (pg_dump 15)", archive: customArchive(14), want: customWant},
		{name: "1.15 (pg_dump 16)", archive: customArchive(15), want: customWant},
		{name: "1.16 (pg_dump 17)", archive: valid, want: customWant},
		{name: "no tables", archive: newArchive(16, formatCustom).header(nil).bytes(), want: []Table{}},
		{name: "entry without data", archive: newArchive(16, formatCustom).header([]entry{
			func() entry { e := tableEntry(3, "s", "t"); e.noData = true; return e }(),
		}).bytes(), want: []Table{{Schema: "s", Name: "t"}}},
		{name: "version 1.17", archive: customArchive(17), wantErr: ErrUnsupported},
		{name: "version 1.11", archive: customArchive(11), wantErr: ErrUnsupported},
		{name: "zstd", archive: func() []byte {
			w := newArchive(16, formatCustom)
			w.compression = 3
			return w.header(nil).bytes()
		}(), wantErr: ErrCompressed},
		{name: "gzip level 6", archive: func() []byte {
			w := newArchive(14, formatCustom)
			w.compression = 6
			return w.header(nil).bytes()
		}(), wantErr: ErrCompressed},
		{name: "directory header", archive: newArchive(16, formatDirectory).header(nil).bytes(), wantErr: ErrMalformed},
		{name: "inserts", archive: newArchive(16, formatCustom).header([]entry{
			{id: 3, desc: "TABLE DATA", tag: "t", namespace: "s"},
		}).data(3, "INSERT INTO s.t VALUES (1);\n").bytes(), wantErr: ErrUnsupported},
		{name: "empty stream", archive: nil, wantErr: ErrTruncated},
		{name: "cut in header", archive: valid[:20], wantErr: ErrTruncated},
		{name: "cut in TOC", archive: valid[:200], wantErr: ErrTruncated},
		{name: "cut in data", archive: valid[:len(valid)-3], wantErr: ErrTruncated},
		{name: "cut between blocks", archive: cutBeforeLastBlock(), wantErr: ErrTruncated},
		{name: "garbage", archive: []byte("this is not a pg_dump archive at all\n"), wantErr: ErrMalformed},
		{name: "random bytes after PGDMP", archive: append([]byte("PGDMP\x01\x10\x00\x04\x08\x01\x00"), randomBytes(4096)...), wantErr: errAny},
		{name: "bad block type", archive: append(customArchive(16), 7, 0, 1, 0, 0, 0), wantErr: ErrMalformed},
		{name: "negative chunk", archive: func() []byte {
			w := newArchive(16, formatCustom).header([]entry{tableEntry(3, "s", "t")})
			w.b.WriteByte(blockData)
			w.int(3)
			w.int(-5)
			return w.bytes()
		}(), wantErr: ErrMalformed},
		{name: "data block twice", archive: newArchive(16, formatCustom).header([]entry{tableEntry(3, "s", "t")}).
			data(3, "\\.\n\n\n").data(3, "\\.\n\n\n").bytes(), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{1 << 20, 1, 7} {
				got, err := feed(NewCustom, tt.archive, size)
				check(t, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// cutBeforeLastBlock is an archive whose last data block is missing.
func cutBeforeLastBlock() []byte {
	w := newArchive(16, formatCustom).header([]entry{tableEntry(3, "s", "a"), tableEntry(4, "s", "b")})
	return w.data(3, "1\n\\.\n\n\n").bytes()
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// errAny stands for any error: random bytes may read as a truncated
// archive as well as a malformed one.
var errAny = errors.New("any error")

func check(t *testing.T, got []Table, err error, want []Table, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if err == nil || !errors.Is(wantErr, errAny) && !errors.Is(err, wantErr) {
			t.Fatalf("error = %v, want %v (tables %v)", err, wantErr, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tables = %#v\nwant     %#v", got, want)
	}
}

// TestCustomSplitWrites splits a small archive at every byte boundary.
func TestCustomSplitWrites(t *testing.T) {
	b := customArchive(16)
	for i := range len(b) + 1 {
		got, err := feed(NewCustom, b, i, len(b)) // i == 0: an empty write first
		if err != nil || !reflect.DeepEqual(got, customWant) {
			t.Fatalf("split at %d: tables %v, error %v", i, got, err)
		}
	}
}

// TestCustomStopsAfterError keeps accepting writes after an error.
func TestCustomStopsAfterError(t *testing.T) {
	c := NewCustom()
	for range 3 {
		if n, err := c.Write([]byte("garbage garbage")); n != 15 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if _, err := c.Write(customArchive(16)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tables(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("error = %v, want ErrMalformed", err)
	}
}
