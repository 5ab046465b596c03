package restore

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNeedsFilter(t *testing.T) {
	tests := []struct {
		tool, target int
		want         bool
	}{
		{17, 15, true}, {18, 16, true}, {17, 17, false}, {18, 17, false}, {16, 15, false}, {15, 15, false}, {18, 18, false},
	}
	for _, tt := range tests {
		if got := needsFilter(tt.tool, tt.target); got != tt.want {
			t.Errorf("needsFilter(%d, %d) = %v, want %v", tt.tool, tt.target, got, tt.want)
		}
	}
}

// script is the start of pg_restore 17's script output, with a COPY whose
// data and a function whose body hold the very statement the filter drops.
const script = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\nSET statement_timeout = 0;\nSET lock_timeout = 0;\n" +
	"SET idle_in_transaction_session_timeout = 0;\nSET transaction_timeout = 0;\nSET client_encoding = 'UTF8';\n" +
	"SELECT pg_catalog.set_config('search_path', '', false);\nBEGIN;\n\n" +
	"CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$\nSET transaction_timeout = 0;\n$$;\n" +
	"COPY public.t (s) FROM stdin;\nSET transaction_timeout = 0;\n\\.\n\nCOMMIT;\n"

func TestPreambleFilter(t *testing.T) {
	want := strings.Replace(script, "SET transaction_timeout = 0;\n", "", 1)
	for _, tt := range []struct {
		name   string
		target int
		want   string
		drops  int
	}{
		{"older server: dropped from the preamble only", 15, want, 1},
		{"server that knows it: unchanged", 17, script, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
				f := newPreambleFilter(wrap(strings.NewReader(script)), tt.target)
				got, err := io.ReadAll(f)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want || f.Dropped != tt.drops {
					t.Errorf("filtered (%d dropped):\n%s\nwant (%d):\n%s", f.Dropped, got, tt.drops, tt.want)
				}
			}
		})
	}
}

func TestPreambleFilterPassesErrors(t *testing.T) {
	boom := io.ErrUnexpectedEOF
	f := newPreambleFilter(io.MultiReader(strings.NewReader("SET a = 1;\n"), iotest.ErrReader(boom)), 15)
	got, err := io.ReadAll(f)
	if !errors.Is(err, boom) || string(got) != "SET a = 1;\n" {
		t.Fatalf("got %q, %v; want the preamble then %v", got, err, boom)
	}
	// A long body after the preamble arrives whole.
	body := bytes.Repeat([]byte("x"), 1<<20)
	f = newPreambleFilter(io.MultiReader(strings.NewReader("SET transaction_timeout = 0;\nCREATE TABLE t ();\n"), bytes.NewReader(body)), 16)
	got, err = io.ReadAll(f)
	if err != nil || !bytes.Equal(got, append([]byte("CREATE TABLE t ();\n"), body...)) {
		t.Fatalf("body: %d bytes, %v", len(got), err)
	}
}
