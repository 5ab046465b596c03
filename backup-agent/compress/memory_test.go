package compress

import (
	"encoding/hex"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// heldBy measures the heap an encoder of spec holds after compressing n
// bytes of data, before it is closed: what it keeps while a dump streams.
func heldBy(t *testing.T, spec Spec, data []byte) int64 {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := spec.NewWriter(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(w)
	return held
}

// TestEncoderMemory checks EncoderMemory against what the encoders hold
// while compressing incompressible hex (bytea as pg_dump writes it), the
// case whose output is largest.
func TestEncoderMemory(t *testing.T) {
	const mib = 1 << 20
	raw := make([]byte, 2<<20)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(raw)
	data := make([]byte, hex.EncodedLen(len(raw)))
	hex.Encode(data, raw)
	for _, s := range []string{"zstd:1", "zstd:3", "zstd:7", "zstd:19", "gzip:1", "gzip:9", "none"} {
		spec, _ := Parse(s)
		held := max(heldBy(t, spec, data), 0)
		est := spec.EncoderMemory()
		t.Logf("%s: holds %.1f MiB, estimate %.1f MiB", s, float64(held)/mib, float64(est)/mib)
		// The estimate bounds what the encoder holds, and is not so
		// generous that it would starve the upload's part buffers.
		if held > est {
			t.Errorf("%s holds %.1f MiB, more than its EncoderMemory %.1f MiB", s, float64(held)/mib, float64(est)/mib)
		}
		if est > 2*held+4*mib {
			t.Errorf("%s: EncoderMemory %.1f MiB is far above the %.1f MiB it holds", s, float64(est)/mib, float64(held)/mib)
		}
	}
}
