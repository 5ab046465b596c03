package codec

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestRoundTrip(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recips, err := crypt.ParseRecipients([]string{id.Recipient().String()}, "")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("COPY public.t (a) FROM stdin;\n1\n2\n\\.\n", 5000))
	for _, tt := range []struct {
		compression string
		encrypt     bool
		ext         string
	}{
		{"zstd:3", false, ".zst"},
		{"gzip:1", true, ".gz.age"},
		{"none", true, ".age"},
		{"none", false, ""},
	} {
		t.Run(tt.compression, func(t *testing.T) {
			spec, err := compress.Parse(tt.compression)
			if err != nil {
				t.Fatal(err)
			}
			enc := Encoding{Compression: spec}
			dec := Decoding{Compression: spec}
			if tt.encrypt {
				enc.Recipients = recips
				dec.Encrypted, dec.Identities = true, crypt.Identities{id}
			}
			if enc.Ext() != tt.ext {
				t.Errorf("Ext() = %q, want %q", enc.Ext(), tt.ext)
			}
			var stored bytes.Buffer
			if err := enc.Encode(&stored, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			rc, err := dec.Decode(bytes.NewReader(stored.Bytes()), "obj")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("round trip: %d bytes, %v", len(got), err)
			}
			// A truncated object is an integrity failure, never a short dump.
			if tt.compression == "none" && !tt.encrypt {
				return
			}
			rc, err = dec.Decode(bytes.NewReader(stored.Bytes()[:stored.Len()-7]), "obj")
			if err == nil {
				_, err = io.ReadAll(rc)
			}
			if result.ReasonOf(err) != result.ReasonIntegrityFailed {
				t.Fatalf("truncated object: %v (reason %s), want IntegrityFailed", err, result.ReasonOf(err))
			}
		})
	}
}

func TestEncodeDoesNotFlushAFailedSource(t *testing.T) {
	spec, _ := compress.Parse("zstd:1")
	boom := errors.New("pg_dump exited 1")
	pr, done := Encoding{Compression: spec}.Pipe(io.MultiReader(strings.NewReader("partial"), errReader{boom}))
	_, err := io.ReadAll(pr)
	if !errors.Is(err, boom) {
		t.Fatalf("reader error %v, want the source's", err)
	}
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("Pipe error %v, want the source's", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestEstimateStoredSize(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recips, err := crypt.ParseRecipients([]string{id.Recipient().String()}, "")
	if err != nil {
		t.Fatal(err)
	}
	const gib = 1 << 30
	for _, tt := range []struct {
		compression string
		encrypt     bool
		db, want    int64
	}{
		{"zstd:3", false, 0, 0},
		{"zstd:3", false, -1, 0},
		{"zstd:3", false, 10 * gib, 10 * gib},
		{"gzip:6", false, gib, gib},
		{"none", false, gib, 2 * gib},
		{"none", true, gib, 2*gib + 2*gib/(64<<10)*16 + 1024},
		{"zstd:1", true, 64 << 10, 64<<10 + 16 + 1024},
	} {
		spec, err := compress.Parse(tt.compression)
		if err != nil {
			t.Fatal(err)
		}
		e := Encoding{Compression: spec}
		if tt.encrypt {
			e.Recipients = recips
		}
		if got := e.EstimateStoredSize(tt.db); got != tt.want {
			t.Errorf("%s encrypt=%v: EstimateStoredSize(%d) = %d, want %d", tt.compression, tt.encrypt, tt.db, got, tt.want)
		}
	}
}

func TestMemory(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recips, err := crypt.ParseRecipients([]string{id.Recipient().String()}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"zstd:1", "zstd:19", "gzip:9", "none"} {
		spec, _ := compress.Parse(c)
		plain, sealed := Encoding{Compression: spec}, Encoding{Compression: spec, Recipients: recips}
		if plain.Memory() != spec.EncoderMemory() {
			t.Errorf("%s: Memory %d, want the encoder's %d", c, plain.Memory(), spec.EncoderMemory())
		}
		if sealed.Memory() != spec.EncoderMemory()+ageMemory {
			t.Errorf("%s encrypted: Memory %d, want the encoder's %d and age's %d", c, sealed.Memory(), spec.EncoderMemory(), ageMemory)
		}
	}
}
