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

// Default is the agent's default setting: zstd at level 3.
var Default = Spec{Algorithm: Zstd, Level: 3}

// zstdWindow and maxEncoders bound the encoder's memory, measured with
// make bench: with concurrent blocks each worker holds about four windows
// of input plus output, so a 4 MiB window on 2 cores held ~200 MiB and
// grew with the core count, where a 1 MiB window costs no measurable ratio
// (0.261 against 0.260 of the raw dump) and holds 65 MiB on 2 cores,
// 94 MiB on 4. More than 4 workers gains little next to pg_dump's own
// single-core pace.
const (
	zstdWindow  = 1 << 20
	maxEncoders = 4
)

// Spec is a parsed --compression value.
type Spec struct {
	Algorithm Algorithm
	// Level is the algorithm's level; 0 for None.
	Level int
}

// Parse reads "zstd", "zstd:LEVEL" (1-22), "gzip", "gzip:LEVEL" (1-9) or
// "none". Without a level, zstd uses 3 and gzip 6.
func Parse(s string) (Spec, error) {
	name, levelText, hasLevel := strings.Cut(strings.TrimSpace(s), ":")
	var spec Spec
	var lo, hi int
	switch Algorithm(strings.ToLower(name)) {
	case Zstd:
		spec, lo, hi = Spec{Algorithm: Zstd, Level: 3}, 1, 22
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
			zstd.WithEncoderConcurrency(min(runtime.GOMAXPROCS(0), maxEncoders)),
			zstd.WithConcurrentBlocks(true),
			zstd.WithWindowSize(zstdWindow),
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
		// Blocks of 1 MiB, one per core: parallel, with bounded memory.
		if err := enc.SetConcurrency(1<<20, min(runtime.GOMAXPROCS(0), maxEncoders)); err != nil {
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
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(0))
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

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

type zstdReadCloser struct{ *zstd.Decoder }

func (z zstdReadCloser) Close() error {
	z.Decoder.Close()
	return nil
}
