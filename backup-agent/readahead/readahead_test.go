package readahead

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// source gives data in reads of random sizes, then err.
type source struct {
	data []byte
	err  error
	rng  *rand.Rand
	read atomic.Int64
}

func (s *source) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, s.err
	}
	n := min(len(p), len(s.data), 1+s.rng.IntN(3000))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	s.read.Add(int64(n))
	if len(s.data) == 0 && s.rng.IntN(2) == 0 {
		return n, s.err // an error with the last bytes, as io.Reader allows
	}
	return n, nil
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

var errCut = errors.New("connection reset")

func TestStreamAndErrorPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name        string
		n           int
		size, count int
		err         error
	}{
		{"empty", 0, 16, 2, io.EOF},
		{"one byte", 1, 16, 2, io.EOF},
		{"exact buffers", 64, 16, 4, io.EOF},
		{"many buffers", 100_000, 1000, 3, io.EOF},
		{"single tiny buffer", 5000, 1, 1, io.EOF},
		{"cut after data", 50_000, 4096, 2, errCut},
		{"truncated stays truncated", 50_000, 4096, 2, io.ErrUnexpectedEOF},
		{"error before any data", 0, 4096, 2, errCut},
	} {
		for _, how := range []string{"Read", "WriteTo"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				want := payload(tc.n)
				src := &source{data: bytes.Clone(want), err: tc.err, rng: rand.New(rand.NewPCG(uint64(tc.n), 1))}
				r := New(src, tc.size, tc.count)
				defer func() { _ = r.Close() }()
				var got []byte
				var err error
				if how == "Read" {
					got, err = io.ReadAll(iotest.OneByteReader(r))
					if err == nil {
						err = io.EOF // ReadAll hides io.EOF
					}
				} else {
					var buf bytes.Buffer
					_, err = r.WriteTo(&buf)
					got = buf.Bytes()
					if err == nil {
						err = io.EOF // WriteTo hides io.EOF
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want the %d the source gave, in order", len(got), len(want))
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				// The error is sticky.
				if _, err2 := r.Read(make([]byte, 1)); !errors.Is(err2, tc.err) {
					t.Fatalf("second read: %v, want %v again", err2, tc.err)
				}
			})
		}
	}
}

// endless never ends and counts what it gave.
type endless struct{ read atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	e.read.Add(int64(len(p)))
	return len(p), nil
}

func TestReadsAheadAtMostItsBuffers(t *testing.T) {
	src := &endless{}
	r := New(src, 1000, 3)
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the goroutine run as far as it can
	// One buffer is being consumed, three are full: nothing more is read.
	if got := src.read.Load(); got > 3*1000 {
		t.Fatalf("read %d bytes ahead of a consumer that took 10, want at most the 3 buffers of 1000", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after := src.read.Load()
	time.Sleep(20 * time.Millisecond)
	if src.read.Load() != after {
		t.Fatal("the source was read after Close returned")
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
}

// blocked blocks in Read until released.
type blocked struct{ entered, release chan struct{} }

func (b *blocked) Read(p []byte) (int, error) {
	close(b.entered)
	<-b.release
	return 0, errCut
}

func TestCloseWaitsForTheSourceToReturn(t *testing.T) {
	src := &blocked{entered: make(chan struct{}), release: make(chan struct{})}
	r := New(src, 10, 1)
	<-src.entered
	closed := make(chan struct{})
	go func() { _ = r.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while the goroutine was still inside the source's Read")
	case <-time.After(30 * time.Millisecond):
	}
	close(src.release) // the owner closes the source: its Read returns
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the source's Read did")
	}
}

func TestWriteToStopsAtAWriteError(t *testing.T) {
	r := New(&endless{}, 100, 2)
	defer func() { _ = r.Close() }()
	errFull := errors.New("no space left on device")
	n, err := r.WriteTo(&failingWriter{after: 250, err: errFull})
	if !errors.Is(err, errFull) || n != 250 {
		t.Fatalf("WriteTo = %d, %v; want 250, %v", n, err, errFull)
	}
}

type failingWriter struct {
	after int
	err   error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		n := w.after
		w.after = 0
		return n, w.err
	}
	w.after -= len(p)
	return len(p), nil
}
