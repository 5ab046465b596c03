package storage

import "testing"

func TestPartSize(t *testing.T) {
	const initial = 8 * mib
	tests := []struct {
		n    int
		want int64
	}{
		{1, initial},
		{5000, initial},
		{5001, 2 * initial},
		{5500, 2 * initial},
		{5501, 4 * initial},
		{6001, 8 * initial},
		{9000, 256 * initial},  // 2 GiB
		{9001, 512 * initial},  // 4 GiB
		{9501, MaxPartSize},    // 8 GiB is over the cap
		{10000, MaxPartSize},   // capped
		{10001, MaxPartSize},   // callers stop at MaxParts; still capped
		{1 << 30, MaxPartSize}, // no overflow however far
	}
	for _, tt := range tests {
		if got := partSize(initial, tt.n); got != tt.want {
			t.Errorf("partSize(8 MiB, %d) = %d MiB, want %d MiB", tt.n, got/mib, tt.want/mib)
		}
	}
	if got := partSize(MaxPartSize, 1); got != MaxPartSize {
		t.Errorf("partSize(MaxPartSize, 1) = %d", got)
	}
	if got := partSize(3*MaxPartSize, 1); got != MaxPartSize {
		t.Errorf("partSize(3×MaxPartSize, 1) = %d, want the cap", got)
	}
}

// TestPartSizeReaches5TiB checks the schedule's point: from the default
// initial part size up, 10,000 parts hold any object S3 accepts (5 TiB).
// From S3's minimum of 5 MiB they hold a little less, about 4.9 TiB.
func TestPartSizeReaches5TiB(t *testing.T) {
	const fiveTiB = int64(5) << 40
	tests := []struct {
		initial int64
		atLeast int64
	}{
		{MinPartSize, 5019 << 30},
		{6 * mib, fiveTiB},
		{DefaultPartSize, fiveTiB},
		{64 * mib, fiveTiB},
		{MaxPartSize, fiveTiB},
	}
	for _, tt := range tests {
		initial := tt.initial
		var sum int64
		prev := int64(0)
		for n := 1; n <= MaxParts; n++ {
			size := partSize(initial, n)
			if size < prev {
				t.Fatalf("initial %d MiB: part %d (%d) is smaller than part %d (%d)", initial/mib, n, size, n-1, prev)
			}
			if size < MinPartSize || size > MaxPartSize {
				t.Fatalf("initial %d MiB: part %d has size %d outside S3's limits", initial/mib, n, size)
			}
			prev = size
			sum += size
		}
		if sum < tt.atLeast {
			t.Errorf("initial %d MiB: 10,000 parts hold %d GiB, less than %d GiB", initial/mib, sum>>30, tt.atLeast>>30)
		}
	}
}

func TestInitialPartSize(t *testing.T) {
	tests := []struct {
		name                 string
		configured, expected int64
		want                 int64
	}{
		{"defaults", 0, 0, DefaultPartSize},
		{"configured", 16 * mib, 0, 16 * mib},
		{"small expected size keeps the default", 0, 10 << 30, DefaultPartSize}, // 10 GiB / 4000 = 2.56 MiB
		{"expected 100 GiB", 0, 100 << 30, 26 * mib},                            // 25.6 MiB rounded up
		{"expected exactly 4000 MiB", 0, 4000 * mib, DefaultPartSize},
		{"expected a byte over 4000×16 MiB", 0, 4000*16*mib + 1, 17 * mib},
		{"configured beats a smaller estimate", 64 * mib, 100 << 30, 64 * mib},
		{"expected 5 TiB", 0, 5 << 40, 1311 * mib}, // 1310.72 MiB rounded up
		{"capped", 0, 1 << 60, MaxPartSize},
		{"negative expected size ignored", 0, -1, DefaultPartSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := initialPartSize(tt.configured, tt.expected); got != tt.want {
				t.Errorf("initialPartSize(%d, %d) = %d (%.2f MiB), want %d", tt.configured, tt.expected, got, float64(got)/mib, tt.want)
			}
		})
	}
}
