package pgarchive

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata archives come in pairs: pgNN-pipe.dump is what pg_dump NN
// (-Fc -Z0) writes to a pipe, as the agent runs it; pgNN-file.dump the
// same database dumped by the same pg_dump to a file, where pg_dump fills
// in the offsets itself. testdata/README.md says how they were made.
var archiveMajors = []int{15, 17, 18}

type pair struct {
	major      int
	pipe, file []byte
}

func readPairs(t *testing.T) []pair {
	t.Helper()
	var pairs []pair
	for _, major := range archiveMajors {
		read := func(kind string) []byte {
			b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("pg%d-%s.dump", major, kind)))
			if err != nil {
				t.Fatalf("testdata archive missing (testdata/README.md says how to make it): %v", err)
			}
			return b
		}
		pairs = append(pairs, pair{major, read("pipe"), read("file")})
	}
	return pairs
}

// fileAt is an in-memory file for Patch that records its writes.
type fileAt struct {
	b      []byte
	writes int
}

func (f *fileAt) WriteAt(p []byte, off int64) (int, error) {
	f.writes++
	if off < 0 || off+int64(len(p)) > int64(len(f.b)) {
		return 0, errors.New("write past the end of the file")
	}
	return copy(f.b[off:], p), nil
}

// scan writes data to a new Scanner in pieces whose sizes next gives.
func scan(data []byte, next func() int) *Scanner {
	s := &Scanner{}
	for len(data) > 0 {
		k := min(len(data), max(next(), 1))
		if n, err := s.Write(data[:k]); n != k || err != nil {
			panic(fmt.Sprintf("Write = %d, %v", n, err))
		}
		data = data[k:]
	}
	return s
}

// timeField returns the byte range of the header's creation time, the
// only bytes in which two dumps of the same database differ.
func timeField(t *testing.T, archive []byte) (int, int) {
	t.Helper()
	intLen := 1 + int(archive[8])
	start := 11 + intLen // magic, version, sizes, format, compression level
	if archive[5] > 1 || archive[6] >= 15 {
		start = 12 // 1.15 and later: the compression algorithm is one byte
	}
	return start, start + 7*intLen
}

func TestPatchMakesThePipedArchiveWhatPgDumpWritesToAFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	writes := map[string]func() int{
		"one write":        func() int { return 1 << 30 },
		"byte by byte":     func() int { return 1 },
		"random pieces":    func() int { return 1 + rng.IntN(5000) },
		"pipe-sized (64K)": func() int { return 64 << 10 },
	}
	for _, p := range readPairs(t) {
		if bytes.Equal(p.pipe, p.file) {
			t.Fatalf("pg%d: the pipe and file archives are identical; the testdata cannot show anything", p.major)
		}
		from, to := timeField(t, p.file)
		for name, next := range writes {
			t.Run(fmt.Sprintf("pg%d/%s", p.major, name), func(t *testing.T) {
				s := scan(p.pipe, next)
				f := &fileAt{b: bytes.Clone(p.pipe)}
				n, err := s.Patch(f)
				if err != nil {
					t.Fatalf("Patch: %v", err)
				}
				if n == 0 || n != s.Blocks() {
					t.Fatalf("Patch filled in %d offsets for %d data blocks; want one per block, at least one", n, s.Blocks())
				}
				for i := range f.b {
					if f.b[i] != p.file[i] && (i < from || i >= to) {
						t.Fatalf("patched archive differs from pg_dump's file at byte %d (outside the creation time %d-%d)", i, from, to)
					}
				}
			})
		}
	}
}

func TestPatchLeavesAnArchiveWithOffsetsAlone(t *testing.T) {
	for _, p := range readPairs(t) {
		s := scan(p.file, func() int { return 4096 })
		f := &fileAt{b: bytes.Clone(p.file)}
		if n, err := s.Patch(f); n != 0 || err != nil || f.writes != 0 {
			t.Fatalf("pg%d: Patch of an archive pg_dump wrote to a file = %d, %v with %d writes; want nothing to do", p.major, n, err, f.writes)
		}
	}
}

// Every archive the Scanner cannot follow to its end, or whose blocks do
// not match its table of contents, is left exactly as it is.
func TestPatchWritesNothingItCannotProve(t *testing.T) {
	pairs := readPairs(t)
	archive := pairs[len(pairs)-1].pipe
	s := scan(archive, func() int { return 1 << 30 })
	firstBlock := s.blocks[0].pos
	lastBlock := s.blocks[len(s.blocks)-1].pos
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(archive)) }
	tests := []struct {
		name    string
		archive []byte
		wantErr string // "": Patch fills in the blocks there are
	}{
		{"empty", nil, "ends inside its header"},
		{"a plain SQL script", []byte("--\n-- PostgreSQL database dump\n--\n" + strings.Repeat("SELECT 1;\n", 100)), "not a pg_dump archive"},
		{"cut inside the header", archive[:20], "ends inside its header"},
		{"cut inside the table of contents", archive[:firstBlock/2], "ends inside its header or table of contents"},
		{"cut at the first data block", archive[:firstBlock], ""},
		{"cut inside the first data block", archive[:firstBlock+20], "ends inside a data block"},
		{"cut inside the last data block", archive[:len(archive)-3], "ends inside a data block"},
		{"cut just before the last block", archive[:lastBlock], ""},
		{"version 1.17", mutate(func(b []byte) []byte { b[6] = 17; return b }), "archive version 1.17"},
		{"version 1.11", mutate(func(b []byte) []byte { b[6] = 11; return b }), "archive version 1.11"},
		{"tar format", mutate(func(b []byte) []byte { b[10] = 3; return b }), "not custom"},
		{"unknown block type", mutate(func(b []byte) []byte { b[firstBlock] = 9; return b }), "unknown data block type 9"},
		{"block of an unknown dump ID", mutate(func(b []byte) []byte { b[firstBlock+2] ^= 0x40; return b }), "which the table of contents does not list once"},
		{"negative chunk length", mutate(func(b []byte) []byte { b[firstBlock+1+int64(s.toc.intLen)] = 1; return b }), "negative chunk length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scan(tt.archive, func() int { return 777 })
			f := &fileAt{b: bytes.Clone(tt.archive)}
			n, err := s.Patch(f)
			if tt.wantErr == "" {
				// Blocks missing at the end leave their entries without
				// an offset, as pg_dump's pipe output has them: what is
				// filled in is right. (The agent patches only archives
				// whose checksum matched, never a cut one.)
				if err != nil || n != s.Blocks() || f.writes != n {
					t.Fatalf("Patch = %d, %v with %d writes; want the %d blocks there are", n, err, f.writes, s.Blocks())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Patch error %v, want one containing %q", err, tt.wantErr)
			}
			if n != 0 || f.writes != 0 || !bytes.Equal(f.b, tt.archive) {
				t.Fatalf("Patch wrote %d times (returned %d) into an archive it could not follow", f.writes, n)
			}
		})
	}
}

func TestPatchRefusesAnEntryTooLargeToHold(t *testing.T) {
	archive := readPairs(t)[0].pipe
	_, _, headerLen, err := parseHeader(archive)
	if err != nil {
		t.Fatal(err)
	}
	intLen := 1 + int(archive[8])
	// The first entry: dump ID 1, hadDumper 0, then a tableoid string
	// that claims more than maxEntry bytes.
	entry := make([]byte, 3*intLen)
	entry[1], entry[2*intLen+4] = 1, 0x02 // 0x02000000 bytes: 32 MiB
	s := scan(append(bytes.Clone(archive[:headerLen]), entry...), func() int { return 1 << 20 })
	if s.err != nil || s.inData {
		t.Fatalf("after the header: err %v, inData %v; want it waiting for the entry", s.err, s.inData)
	}
	_, _ = s.Write(make([]byte, maxEntry))
	if s.err == nil || s.buf != nil {
		t.Fatalf("the Scanner holds %d bytes of one entry (err %v); want it to give up past maxEntry and let them go", len(s.buf), s.err)
	}
	if _, err := s.Patch(&fileAt{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Patch: %v, want the entry-size error", err)
	}
}

// FuzzPatch feeds damaged archives to the Scanner: it never panics, and
// whatever Patch writes is an offset that points at the start of a data
// block carrying that entry's dump ID.
func FuzzPatch(f *testing.F) {
	for _, major := range archiveMajors {
		b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("pg%d-pipe.dump", major)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0), byte(0))
		f.Add(b, uint16(3000), byte(0x5a))
	}
	f.Fuzz(func(t *testing.T, archive []byte, at uint16, xor byte) {
		if len(archive) > 0 {
			archive[int(at)%len(archive)] ^= xor
		}
		s := scan(archive, func() int { return 513 })
		pf := &fileAt{b: bytes.Clone(archive)}
		n, err := s.Patch(pf)
		if err != nil {
			return
		}
		if n > 0 && pf.writes != n {
			t.Fatalf("Patch returned %d and wrote %d fields", n, pf.writes)
		}
		for _, b := range s.blocks {
			if archive[b.pos] != blockData && archive[b.pos] != blockLOs {
				t.Fatalf("a block recorded at byte %d, where the archive has %d", b.pos, archive[b.pos])
			}
		}
	})
}
