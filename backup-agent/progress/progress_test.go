package progress

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	var c Counter
	n, err := io.Copy(&c, c.Reader(strings.NewReader(strings.Repeat("x", 1000))))
	if err != nil || n != 1000 || c.Load() != 2000 {
		t.Fatalf("copied %d (%v), counted %d; want 1000 and 2000 (read + written)", n, err, c.Load())
	}
}

func TestEvery(t *testing.T) {
	var calls atomic.Int32
	stop := Every(10*time.Millisecond, func(time.Duration) { calls.Add(1) })
	time.Sleep(100 * time.Millisecond)
	stop()
	got := calls.Load()
	time.Sleep(30 * time.Millisecond)
	if got == 0 || calls.Load() != got {
		t.Fatalf("reports: %d, then %d after stop", got, calls.Load())
	}
}

func TestRate(t *testing.T) {
	if r := Rate(250_000_000, 2*time.Second); r != 125 {
		t.Fatalf("Rate = %v, want 125", r)
	}
	if Rate(1, 0) != 0 {
		t.Fatal("Rate with no time must be 0")
	}
}
