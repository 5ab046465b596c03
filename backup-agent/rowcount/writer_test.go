package rowcount

import (
	"archive/tar"
	"bytes"
	"testing"
)

// archiveWriter builds small pg_dump archives for tests, following the
// layout pg_dump writes (see toc.go).
type archiveWriter struct {
	b       bytes.Buffer
	version [3]byte
	format  byte
	// compression is the level (before 1.15) or algorithm (1.15 on).
	compression int
}

// entry is a TOC entry to write.
type entry struct {
	id        int
	desc      string
	tag       string
	namespace string
	copyStmt  string
	noDumper  bool
	noData    bool   // custom: offset flag "no data"
	filename  string // directory
	nullOID   bool
}

func newArchive(vmin byte, format byte) *archiveWriter {
	return &archiveWriter{version: [3]byte{1, vmin, 0}, format: format}
}

func (w *archiveWriter) int(v int64) {
	sign := byte(0)
	if v < 0 {
		sign, v = 1, -v
	}
	w.b.WriteByte(sign)
	for range 4 {
		w.b.WriteByte(byte(v))
		v >>= 8
	}
}

func (w *archiveWriter) str(s string) {
	w.int(int64(len(s)))
	w.b.WriteString(s)
}

func (w *archiveWriter) null() { w.int(-1) }

func (w *archiveWriter) header(entries []entry) *archiveWriter {
	w.b.WriteString("PGDMP")
	w.b.Write(w.version[:])
	w.b.Write([]byte{4, 8, w.format})
	if w.version[1] >= 15 {
		w.b.WriteByte(byte(w.compression))
	} else {
		w.int(int64(w.compression))
	}
	for _, v := range []int64{1, 2, 3, 4, 5, 126, 0} {
		w.int(v)
	}
	w.str("app")
	w.str("17.2")
	w.null() // a NULL pg_dump version: tolerated
	w.int(int64(len(entries)))
	for _, e := range entries {
		w.entry(e)
	}
	return w
}

func (w *archiveWriter) entry(e entry) {
	w.int(int64(e.id))
	if e.noDumper {
		w.int(0)
	} else {
		w.int(1)
	}
	w.str("1259")
	if e.nullOID {
		w.null()
	} else {
		w.str("16384")
	}
	w.str(e.tag)
	w.str(e.desc)
	w.int(3) // SECTION_DATA
	w.str("")
	w.null()
	if e.copyStmt == "" {
		w.null()
	} else {
		w.str(e.copyStmt)
	}
	w.str(e.namespace)
	w.null() // tablespace
	if w.version[1] >= 14 {
		w.str("heap")
	}
	if w.version[1] >= 16 {
		w.int('r')
	}
	w.str("postgres")
	w.str("false")
	w.str("12")
	w.str("")
	w.null()
	if w.format == formatCustom {
		flag := byte(1)
		if e.noData {
			flag = offsetNoData
		}
		w.b.WriteByte(flag)
		w.b.Write(make([]byte, 8))
	} else {
		w.str(e.filename)
	}
}

// data writes a data block with one chunk per string.
func (w *archiveWriter) data(id int, chunks ...string) *archiveWriter {
	w.b.WriteByte(blockData)
	w.int(int64(id))
	for _, c := range chunks {
		w.str(c)
	}
	w.int(0)
	return w
}

// blobs writes a large-object block.
func (w *archiveWriter) blobs(id int, objects ...string) *archiveWriter {
	w.b.WriteByte(blockBlobs)
	w.int(int64(id))
	for i, o := range objects {
		w.int(int64(16400 + i))
		w.str(o)
		w.str("\n\\.\n") // data that looks like COPY must not count
		w.int(0)
	}
	w.int(0)
	return w
}

func (w *archiveWriter) bytes() []byte { return bytes.Clone(w.b.Bytes()) }

// tableEntry is a TABLE DATA entry with a COPY statement.
func tableEntry(id int, schema, name string) entry {
	return entry{id: id, desc: "TABLE DATA", tag: name, namespace: schema,
		copyStmt: "COPY x (a) FROM stdin;\n", filename: itoa(id) + ".dat"}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

// tarFile is one file of a test tar stream.
type tarFile struct {
	name string
	data []byte
}

func makeTar(t *testing.T, format tar.Format, files ...tarFile) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.data)), Typeflag: tar.TypeReg, Format: format}
		if format == tar.FormatPAX { // forces a PAX header before every file
			hdr.PAXRecords = map[string]string{"comment": "pgbackup test"}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// feed writes b to a fresh counter in pieces of the given sizes (the last
// repeated), and returns its tables.
func feed(newCounter func() Counter, b []byte, sizes ...int) ([]Table, error) {
	c := newCounter()
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(sizes) > 0 {
			n = min(n, sizes[min(i, len(sizes)-1)])
		}
		if m, err := c.Write(b[:n]); m != n || err != nil {
			return nil, errWrite
		}
		b = b[n:]
	}
	return c.Tables()
}

var errWrite = &writeError{}

type writeError struct{}

func (*writeError) Error() string { return "Write returned an error or a short count" }
