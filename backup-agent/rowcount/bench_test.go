package rowcount

import (
	"fmt"
	"strings"
	"testing"
)

// benchArchive is a ~64 MiB custom archive of 16 tables whose rows are
// written one chunk each, as pg_dump 17 writes uncompressed data.
func benchArchive(b *testing.B) ([]byte, int64) {
	b.Helper()
	const tables, size = 16, 64 << 20
	var entries []entry
	for i := range tables {
		entries = append(entries, tableEntry(100+i, "public", fmt.Sprintf("t%d", i)))
	}
	w := newArchive(16, formatCustom).header(entries)
	row := "12345\tsome text value\t2026-12-02 04:14:35+00\t" + strings.Repeat("x", 20) + "\n"
	perTable := size / tables / (len(row) + 5)
	chunks := make([]string, perTable, perTable+1)
	for i := range chunks {
		chunks[i] = row
	}
	chunks = append(chunks, "\\.\n\n\n")
	for i := range tables {
		w.data(100+i, chunks...)
	}
	return w.bytes(), int64(perTable)
}

func BenchmarkCustom(b *testing.B) {
	archive, perTable := benchArchive(b)
	b.SetBytes(int64(len(archive)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := NewCustom()
		for p := archive; len(p) > 0; {
			n := min(len(p), 32<<10) // io.Copy's buffer size
			_, _ = c.Write(p[:n])
			p = p[n:]
		}
		tables, err := c.Tables()
		if err != nil || len(tables) != 16 || tables[0].Rows != perTable {
			b.Fatalf("tables %v, error %v", tables, err)
		}
	}
}

func BenchmarkPlain(b *testing.B) {
	var s strings.Builder
	row := "12345\tsome text value\t2026-12-02 04:14:35+00\t" + strings.Repeat("x", 20) + "\n"
	for i := range 16 {
		fmt.Fprintf(&s, "--\n-- Data for Name: t%d; Type: TABLE DATA; Schema: public; Owner: o\n--\n\nCOPY public.t%d (a, b, c, d) FROM stdin;\n", i, i)
		s.WriteString(strings.Repeat(row, (64<<20)/16/len(row)))
		s.WriteString("\\.\n\n\n")
	}
	s.WriteString("--\n-- PostgreSQL database dump complete\n--\n")
	script := []byte(s.String())
	b.SetBytes(int64(len(script)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := NewPlain()
		for p := script; len(p) > 0; {
			n := min(len(p), 32<<10)
			_, _ = c.Write(p[:n])
			p = p[n:]
		}
		if tables, err := c.Tables(); err != nil || len(tables) != 16 {
			b.Fatalf("tables %v, error %v", tables, err)
		}
	}
}
