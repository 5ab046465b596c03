package rowcount

import "testing"

func TestRowCounter(t *testing.T) {
	tests := []struct {
		data string
		want int64
	}{
		{"", 0},
		{"\\.\n\n\n", 0},
		{"\\.\n", 0},
		{"a\n\\.\n\n\n", 1},
		{"a\n\n\\.\n\n\n", 2}, // an empty-string row
		{"\n\\.\n\n\n", 1},
		{"a\nb\n", 2},        // no end-of-data line (not written by pg_dump 15 or 17)
		{"a\nb\n\n", 3},      // the last row is an empty string
		{"a\nx\\.\n\n\n", 4}, // not a marker: it does not start a line
		{"a\\\\.\n", 1},      // an escaped backslash then a dot
		{"1\tline1\\nline2\ttab\\\\back\n2\t\\N\n\\.\n\n\n", 2},
	}
	for _, tt := range tests {
		for size := 1; size <= len(tt.data)+1; size++ {
			var r rowCounter
			for b := []byte(tt.data); len(b) > 0; {
				n := min(size, len(b))
				r.write(b[:n])
				b = b[n:]
			}
			if got := r.rows(); got != tt.want {
				t.Errorf("rows(%q) in pieces of %d = %d, want %d", tt.data, size, got, tt.want)
			}
		}
	}
}
