package backup

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestCheckedReaderRefusesShortDumps(t *testing.T) {
	plainEnd := "\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n"
	tests := []struct {
		name   string
		shape  Shape
		output string
		ok     bool
	}{
		{"custom whole", shapeCustom, "PGDMP\x01\x10rest of it", true},
		{"custom empty", shapeCustom, "", false},
		{"custom not a dump", shapeCustom, "pg_dump: error", false},
		{"custom cut in the magic", shapeCustom, "PGD", false},
		{"plain whole", shapePlain, "SET x;\n" + strings.Repeat("COPY\n", 5000) + plainEnd, true},
		{"plain cut before the trailer", shapePlain, "SET x;\n" + strings.Repeat("COPY\n", 5000), false},
		{"plain empty", shapePlain, "", false},
		{"globals whole", shapeGlobals, "CREATE ROLE a;\n--\n-- PostgreSQL database cluster dump complete\n--\n\n", true},
		{"globals cut", shapeGlobals, "CREATE ROLE a;\n", false},
		{"trailer far from the end", shapePlain, plainEnd + strings.Repeat("x", 3*tailKeep), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte a read: the head and tail are found across reads.
			got, err := io.ReadAll(newCheckedReader(iotest.OneByteReader(strings.NewReader(tt.output)), tt.shape))
			if string(got) != tt.output {
				t.Fatalf("output changed: %d bytes of %d", len(got), len(tt.output))
			}
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && result.ReasonOf(err) != result.ReasonDumpFailed {
				t.Fatalf("reason %s, want DumpFailed", result.ReasonOf(err))
			}
		})
	}
}

func TestCheckedReaderPassesSourceErrors(t *testing.T) {
	boom := errors.New("pg_dump exited 1")
	_, err := io.ReadAll(newCheckedReader(io.MultiReader(strings.NewReader("PGDMP"), iotest.ErrReader(boom)), shapeCustom))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the source's", err)
	}
}
