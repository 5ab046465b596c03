package compress

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Algorithm names a compression algorithm.
type Algorithm string

// The supported algorithms.
const (
	Zstd Algorithm = "zstd"
	Gzip Algorithm = "gzip"
	None Algorithm = "none"
)

// Default is the agent's default setting: zstd at level 1, chosen with
// make bench on three data shapes (docs/bench.md). With entropy coding of
// every literal (see NewWriter) it stores about what level 3 stores (text
// 10% more, numbers and bytea's hex 2-6% less) for a third to two thirds
// of level 3's CPU, which on a small machine decides whether the agent
// keeps pace with pg_dump.
var Default = Spec{Algorithm: Zstd, Level: 1}

// The encoders' settings bound their memory, measured with make bench and
// heap profiles. zstd encodes one stream, block after block, with its own
// goroutine encoding a block while the next one fills (concurrency 2): its
// memory is the 1 MiB window, two blocks and the level's match tables
// (1-5 MiB at levels 1-9, 35 MiB at 10 and above), and does not depend
// on the data. zstd's concurrent blocks (WithConcurrentBlocks) are not
// used: they queue jobs of four windows of input and their output per
// worker, and held 40-90 MiB on 2 cores, most of the agent's memory, with a
// worse ratio (0.525 of a bytea dump against 0.506 at zstd:3, whose job
// boundaries cut matches) and little to gain next to pg_dump, which takes
// a core of its own. gzip (pgzip) compresses
// blocks of 512 KiB in parallel, at most maxEncoders at once; its window
// is 32 KiB, so the block size costs no ratio.
const (
	zstdWindow      = 1 << 20
	zstdConcurrency = 2
	gzipBlock       = 512 << 10
	maxEncoders     = 4
)

// Spec is a parsed --compression value.
type Spec struct {
	Algorithm Algorithm
	// Level is the algorithm's level; 0 for None.
	Level int
}

// Parse reads "zstd", "zstd:LEVEL" (1-22), "gzip", "gzip:LEVEL" (1-9) or
// "none". Without a level, zstd uses the default level (1) and gzip 6.
func Parse(s string) (Spec, error) {
	name, levelText, hasLevel := strings.Cut(strings.TrimSpace(s), ":")
	var spec Spec
	var lo, hi int
	switch Algorithm(strings.ToLower(name)) {
	case Zstd:
		spec, lo, hi = Default, 1, 22
	case Gzip:
		spec, lo, hi = Spec{Algorithm: Gzip, Level: 6}, 1, 9
	case None:
		if hasLevel {
			return Spec{}, fmt.Errorf("compression %q: none takes no level", s)
		}
		return Spec{Algorithm: None}, nil
	default:
		return Spec{}, fmt.Errorf("compression %q: use zstd[:LEVEL], gzip[:LEVEL] or none", s)
	}
	if hasLevel {
		level, err := strconv.Atoi(levelText)
		if err != nil || level < lo || level > hi {
			return Spec{}, fmt.Errorf("compression %q: %s level must be a number from %d to %d", s, spec.Algorithm, lo, hi)
		}
		spec.Level = level
	}
	return spec, nil
}

// String is the canonical form, as recorded in the manifest ("zstd:3", "none").
func (s Spec) String() string {
	if s.Algorithm == None || s.Algorithm == "" {
		return string(None)
	}
	return fmt.Sprintf("%s:%d", s.Algorithm, s.Level)
}

// Ext is the object name suffix: ".zst", ".gz" or "".
func (s Spec) Ext() string {
	switch s.Algorithm {
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	default:
		return ""
	}
}

// NewWriter returns a compressor writing to w. Close flushes it; it does
// not close w.
func (s Spec) NewWriter(w io.Writer) (io.WriteCloser, error) {
	switch s.Algorithm {
	case Zstd:
		enc, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(s.Level)),
			zstd.WithEncoderConcurrency(zstdConcurrency),
			zstd.WithWindowSize(zstdWindow),
			// Entropy-code literals even where a block has no matches:
			// level 1 skips that by default and then stores hex (pg_dump's
			// bytea), base64 and other skewed text uncompressed (ratio 1.00
			// on random bytea against 0.51 with it, measured at a fifth of
			// level 3's CPU). Levels 2 and above do it already.
			zstd.WithAllLitEntropyCompression(true),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return enc, nil
	case Gzip:
		enc, err := pgzip.NewWriterLevel(w, s.Level)
		if err != nil {
			return nil, fmt.Errorf("gzip encoder: %w", err)
		}
		// Blocks compressed in parallel, one per core, with bounded memory.
		if err := enc.SetConcurrency(gzipBlock, gzipEncoders()); err != nil {
			return nil, fmt.Errorf("gzip encoder: %w", err)
		}
		return enc, nil
	case None:
		return nopWriteCloser{w}, nil
	default:
		return nil, fmt.Errorf("unknown compression %q", s.Algorithm)
	}
}

// NewReader returns a decompressor reading from r. Truncated or corrupt
// input is an error, never a silent early end.
func (s Spec) NewReader(r io.Reader) (io.ReadCloser, error) {
	switch s.Algorithm {
	case Zstd:
		// Synchronous decoding, in the reader's goroutine: measured 30%
		// faster than the decoder's own goroutines on a 735 MB dump, and
		// the callers already run the download ahead on a goroutine of
		// its own (package readahead).
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		return zstdReadCloser{dec}, nil
	case Gzip:
		dec, err := pgzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip decoder: %w", err)
		}
		return dec, nil
	case None:
		return io.NopCloser(r), nil
	default:
		return nil, fmt.Errorf("unknown compression %q", s.Algorithm)
	}
}

// gzipEncoders is how many gzip blocks are compressed at once.
func gzipEncoders() int { return min(runtime.GOMAXPROCS(0), maxEncoders) }

// EncoderMemory estimates the memory the compressor holds while it works,
// in bytes, as measured: zstd's window, blocks and the match tables of its
// level, gzip's blocks in flight and their output. The uploader's part
// buffers come on top; a caller with a memory budget gives them the rest.
func (s Spec) EncoderMemory() int64 {
	const mib = 1 << 20
	switch s.Algorithm {
	case Zstd:
		var tables int64
		switch zstd.EncoderLevelFromZstd(s.Level) {
		case zstd.SpeedFastest:
			tables = 1 * mib
		case zstd.SpeedDefault:
			tables = 2 * mib
		case zstd.SpeedBetterCompression:
			tables = 9 * mib / 2
		default:
			tables = 35 * mib
		}
		// The window twice (history and the block being matched), the
		// blocks filling and encoding, and their output.
		return 2*zstdWindow + mib + tables
	case Gzip:
		// Each block's input, its output (up to 1/16 larger) and a
		// compressor, for the blocks compressing, those waiting in the
		// queue to be written and the one filling.
		return int64(2*gzipEncoders()+1) * (2*gzipBlock + mib)
	default:
		return 0
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

type zstdReadCloser struct{ *zstd.Decoder }

func (z zstdReadCloser) Close() error {
	z.Decoder.Close()
	return nil
}
