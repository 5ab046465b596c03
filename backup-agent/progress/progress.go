package progress

import (
	"io"
	"sync/atomic"
	"time"
)

// Counter counts bytes; it is safe for concurrent use.
type Counter struct{ n atomic.Int64 }

// Load returns the count.
func (c *Counter) Load() int64 { return c.n.Load() }

// Write counts p and never fails: use it as an io.Writer in a tee.
func (c *Counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// Reader returns r, counting what is read from it.
func (c *Counter) Reader(r io.Reader) io.Reader { return countingReader{r: r, c: c} }

type countingReader struct {
	r io.Reader
	c *Counter
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.n.Add(int64(n))
	return n, err
}

// Every calls report with the time elapsed every interval until stop is
// called; stop waits for a report in progress to end.
func Every(interval time.Duration, report func(elapsed time.Duration)) (stop func()) {
	t := time.NewTicker(interval)
	quit := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(time.Since(start))
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// Rate is bytes per second in MB/s (10^6), rounded to one decimal.
func Rate(bytes int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(int64(float64(bytes)/elapsed.Seconds()/1e5)) / 10
}
