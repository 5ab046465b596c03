package compress

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		str     string
		ext     string
		wantErr bool
	}{
		{in: "zstd", want: Spec{Zstd, 1}, str: "zstd:1", ext: ".zst"},
		{in: "zstd:3", want: Spec{Zstd, 3}, str: "zstd:3", ext: ".zst"},
		{in: "zstd:19", want: Spec{Zstd, 19}, str: "zstd:19", ext: ".zst"},
		{in: "ZSTD:1", want: Spec{Zstd, 1}, str: "zstd:1", ext: ".zst"},
		{in: "gzip", want: Spec{Gzip, 6}, str: "gzip:6", ext: ".gz"},
		{in: "gzip:9", want: Spec{Gzip, 9}, str: "gzip:9", ext: ".gz"},
		{in: "none", want: Spec{None, 0}, str: "none", ext: ""},
		{in: "zstd:0", wantErr: true},
		{in: "zstd:23", wantErr: true},
		{in: "zstd:x", wantErr: true},
		{in: "gzip:10", wantErr: true},
		{in: "none:1", wantErr: true},
		{in: "lz4", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want || got.String() != tt.str || got.Ext() != tt.ext {
				t.Fatalf("Parse(%q) = %+v %q %q, want %+v %q %q", tt.in, got, got.String(), got.Ext(), tt.want, tt.str, tt.ext)
			}
			// The canonical form parses back to the same spec.
			if again, err := Parse(got.String()); err != nil || again != got {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	// Compressible text with a random tail, larger than one parallel block.
	data := bytes.Repeat([]byte("COPY public.orders (id, customer, total) FROM stdin;\n42\talice\t19.99\n"), 200_000)
	tail := make([]byte, 1<<20)
	_, _ = rand.Read(tail)
	data = append(data, tail...)

	for _, in := range []string{"zstd:1", "zstd:3", "gzip:1", "none"} {
		t.Run(in, func(t *testing.T) {
			spec, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			var compressed bytes.Buffer
			w, err := spec.NewWriter(&compressed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if spec.Algorithm != None && compressed.Len() >= len(data) {
				t.Errorf("%s: %d bytes compressed to %d", in, len(data), compressed.Len())
			}
			stored := compressed.Bytes()
			r, err := spec.NewReader(bytes.NewReader(stored))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			_ = r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%s: round trip changed the data (%d bytes back, want %d)", in, len(got), len(data))
			}

			// A truncated stream must fail, never end quietly.
			if spec.Algorithm == None {
				return
			}
			r, err = spec.NewReader(bytes.NewReader(stored[:len(stored)/2]))
			if err == nil {
				_, err = io.ReadAll(r)
				_ = r.Close()
			}
			if err == nil {
				t.Fatalf("%s: truncated stream decompressed without error", in)
			}
		})
	}
}

// TestDefaultCompressesHex guards the default level's literal coding: hex
// text (pg_dump's bytea) of random bytes holds no matches, so only entropy
// coding of the literals halves it, which zstd's level 1 skips unless told.
func TestDefaultCompressesHex(t *testing.T) {
	raw := make([]byte, 2<<20)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	text := []byte(hex.EncodeToString(raw))
	for _, spec := range []Spec{Default, {Zstd, 3}} {
		var out bytes.Buffer
		w, err := spec.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(text); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if ratio := float64(out.Len()) / float64(len(text)); ratio > 0.6 {
			t.Errorf("%s stores random hex at %.2f of its size, want about 0.5", spec, ratio)
		}
	}
}
