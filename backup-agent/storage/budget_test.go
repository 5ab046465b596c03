package storage

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestMemoryParts(t *testing.T) {
	tests := []struct {
		budget, size int64
		want         int64
		fits         bool
	}{
		{DefaultPartMemory, DefaultPartSize, 4, true},
		{DefaultPartMemory, 10 * mib, 3, true},
		{DefaultPartMemory, 11 * mib, 2, false}, // one uploading while one fills: not parallel, so spooled
		{DefaultPartMemory, 16 * mib, 2, false},
		{DefaultPartMemory, 64 * mib, 0, false},
		{24 * mib, DefaultPartSize, 3, true},
		{PartMemoryFor(38 * mib), DefaultPartSize, 0, false}, // zstd:19 leaves 4 MiB
		{1, 1, 1, false},
		{3, 1, 3, true},
		{DefaultPartMemory, 0, 0, false},
	}
	for _, tt := range tests {
		if got := memoryParts(tt.budget, tt.size); got != tt.want {
			t.Errorf("memoryParts(%d, %d) = %d, want %d", tt.budget, tt.size, got, tt.want)
		}
		if got := newMemPool(tt.budget).fits(tt.size); got != tt.fits {
			t.Errorf("budget %d: fits(%d) = %v, want %v", tt.budget, tt.size, got, tt.fits)
		}
	}
}

func TestPartMemoryFor(t *testing.T) {
	tests := []struct {
		encoder, want int64
	}{
		{0, DefaultPartMemory},        // none: never more than the default
		{5 * mib, DefaultPartMemory},  // zstd:3: four 8 MiB parts
		{10 * mib, DefaultPartMemory}, // gzip on 2 cores: four parts
		{11 * mib, 31 * mib},          // three parts
		{38 * mib, 4 * mib},           // zstd:19: parts are spooled
		{PipelineMemory, 1},           // nothing left: spool, never the default (0)
		{PipelineMemory + 1<<30, 1},
		{-1, DefaultPartMemory}, // nonsense estimates do not raise the budget
	}
	for _, tt := range tests {
		if got := PartMemoryFor(tt.encoder); got != tt.want {
			t.Errorf("PartMemoryFor(%d) = %d, want %d", tt.encoder, got, tt.want)
		}
	}
	// Whatever the encoder, parts and encoder stay within the pipeline's
	// budget, and the default encoder leaves the default parts in memory.
	for enc := int64(0); enc <= PipelineMemory; enc += mib {
		if parts := PartMemoryFor(enc); parts+enc > PipelineMemory+1 {
			t.Errorf("encoder %d MiB: part memory %d MiB, together over %d MiB", enc/mib, parts/mib, PipelineMemory/mib)
		}
	}
	if got := memoryParts(PartMemoryFor(10*mib), DefaultPartSize); got < minMemoryParts+1 {
		t.Errorf("gzip leaves %d default parts in memory, want %d", got, minMemoryParts+1)
	}
}

func TestSpoolFileLimit(t *testing.T) {
	for _, tt := range []struct{ conc, want int }{{0, 2}, {1, 2}, {4, 5}, {64, 65}} {
		if got := spoolFileLimit(tt.conc); got != tt.want {
			t.Errorf("spoolFileLimit(%d) = %d, want %d", tt.conc, got, tt.want)
		}
	}
}

// allocGauge counts the part buffers a pool allocates, in bytes.
type allocGauge struct{ bytes atomic.Int64 }

func (g *allocGauge) newBuf(size int64) []byte {
	g.bytes.Add(size)
	return make([]byte, size)
}

func TestMemPool(t *testing.T) {
	var g allocGauge
	p := newMemPool(300)
	p.newBuf = g.newBuf
	ctx := t.Context()
	a, b, c := p.get(ctx, 100), p.get(ctx, 100), p.get(ctx, 100)
	if len(a) != 100 || len(b) != 100 || len(c) != 100 {
		t.Fatalf("got buffers of %d, %d, %d bytes, want 100", len(a), len(b), len(c))
	}
	// The budget is spent: the next get waits for a buffer to come back.
	got := make(chan []byte)
	go func() { got <- p.get(ctx, 100) }()
	select {
	case <-got:
		t.Fatal("a fourth buffer of 100 bytes came out of a budget of 300")
	case <-time.After(20 * time.Millisecond):
	}
	p.put(a)
	if d := <-got; &d[0] != &a[0] {
		t.Error("the waiting get did not reuse the buffer that came back")
	}
	if n := g.bytes.Load(); n != 300 {
		t.Errorf("allocated %d bytes, want 300 (reuse)", n)
	}
	// Parts grew: the free small buffers are dropped to make room.
	p.put(b)
	p.put(c)
	big := p.get(ctx, 200)
	if len(big) != 200 {
		t.Fatalf("got %d bytes, want 200", len(big))
	}
	if p.used > p.budget {
		t.Errorf("pool accounts %d bytes, over its budget %d", p.used, p.budget)
	}
	// A smaller request reuses a larger free buffer.
	p.put(big)
	if small := p.get(ctx, 50); len(small) != 50 || &small[0] != &big[0] {
		t.Error("a 50-byte get did not reuse the free 200-byte buffer")
	}
	// A cancelled wait returns nil.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if buf := p.get(cctx, 300); buf != nil {
		t.Errorf("get on a cancelled context with the budget spent returned %d bytes", len(buf))
	}
}

// TestStreamerMemoryBudget: however many parts the concurrency would put in
// flight, and however many uploads share the store, the part buffers never
// exceed the budget: the buffers allocated (reused, never freed, as parts
// keep their size) and the in-memory parts being uploaded at any moment
// stay within it, and the upload stays parallel.
func TestStreamerMemoryBudget(t *testing.T) {
	const (
		part   = 1000
		budget = 4 * part
		conc   = 8 // would hold 9 parts without a budget
		size   = 40*part + 17
	)
	var g allocGauge
	pool := newMemPool(budget)
	pool.newBuf = g.newBuf
	var (
		mu            sync.Mutex
		inflight, max int64
	)
	gauge := func(delta int64) {
		mu.Lock()
		defer mu.Unlock()
		inflight += delta
		if inflight > max {
			max = inflight
		}
	}
	var wg sync.WaitGroup
	targets := []*gaugedTarget{}
	for range 2 {
		f := &gaugedTarget{fakeTarget: newFakeTarget(), gauge: gauge}
		f.delay = 2 * time.Millisecond
		targets = append(targets, f)
		u := &streamer{target: f, initial: part, concurrency: conc, pool: pool, spoolDir: t.TempDir()}
		data := pattern(size)
		wg.Go(func() {
			n, _, err := u.upload(t.Context(), bytes.NewReader(data))
			if err != nil || n != size {
				t.Errorf("upload: %d bytes, %v", n, err)
			}
			if !bytes.Equal(f.joined(), data) {
				t.Error("the parts do not add up to the data")
			}
		})
	}
	wg.Wait()
	if n := g.bytes.Load(); n > budget {
		t.Errorf("two uploads allocated %d bytes of part buffers, more than the budget of %d", n, budget)
	}
	if max > budget {
		t.Errorf("%d bytes of parts in memory were uploading at once, more than the budget of %d", max, budget)
	}
	for i, f := range targets {
		if f.spooled != 0 {
			t.Errorf("upload %d: %d parts spooled, want all in memory", i, f.spooled)
		}
	}
	if targets[0].maxInflight < 2 && targets[1].maxInflight < 2 {
		t.Errorf("at most one part in flight: the budget made the uploads serial")
	}
}

// gaugedTarget reports the in-memory bytes it is uploading to a gauge
// shared between targets.
type gaugedTarget struct {
	*fakeTarget
	gauge func(delta int64)
}

func (g *gaugedTarget) uploadPart(ctx context.Context, n int, b partBody) (string, error) {
	var mem int64
	if b.file == nil {
		mem = b.size
	}
	g.gauge(mem)
	defer g.gauge(-mem)
	return g.fakeTarget.uploadPart(ctx, n, b)
}

// TestStreamerSpoolsLargeParts: parts the budget cannot hold three of are
// written to the spool directory, not to memory, and leave nothing there.
func TestStreamerSpoolsLargeParts(t *testing.T) {
	for _, size := range []int{0, 999, 1000, 1001, 5555} {
		var g allocGauge
		pool := newMemPool(2999) // two parts of 1000: not enough
		pool.newBuf = g.newBuf
		dir := t.TempDir()
		f := newFakeTarget()
		f.delay = time.Millisecond
		u := &streamer{target: f, initial: 1000, concurrency: 3, pool: pool, spoolDir: dir}
		data := pattern(size)
		n, _, err := u.upload(t.Context(), bytes.NewReader(data))
		if err != nil || n != int64(size) {
			t.Fatalf("size %d: %d bytes, %v", size, n, err)
		}
		got := f.joined()
		if len(f.puts) == 1 {
			got = f.puts[0]
		}
		if !bytes.Equal(got, data) {
			t.Errorf("size %d: stored data differs", size)
		}
		if g.bytes.Load() != 0 {
			t.Errorf("size %d: %d bytes of part buffers allocated in memory, want none", size, g.bytes.Load())
		}
		if len(f.puts) == 0 && f.spooled != len(f.completed) {
			t.Errorf("size %d: %d of %d parts came from the spool", size, f.spooled, len(f.completed))
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("size %d: %d files left in the spool directory", size, len(entries))
		}
		if u.spool == nil || len(u.spool.all) > spoolFileLimit(3) {
			t.Errorf("size %d: spool files %v, want at most %d", size, u.spool, spoolFileLimit(3))
		}
	}
}

// TestStreamerSpoolsWhenPartsGrow: an object larger than its estimate
// makes the part size grow past the budget; from then on parts go to the
// spool volume, and memory stays within the budget.
func TestStreamerSpoolsWhenPartsGrow(t *testing.T) {
	var g allocGauge
	pool := newMemPool(3) // three parts of 1 byte, none of 2
	pool.newBuf = g.newBuf
	f := newFakeTarget()
	u := &streamer{target: f, initial: 1, concurrency: 2, pool: pool, spoolDir: t.TempDir()}
	size := growAfter + 2*300 + 1 // 300 parts of 2 bytes, then one of 1
	data := pattern(size)
	n, _, err := u.upload(t.Context(), bytes.NewReader(data))
	if err != nil || n != int64(size) {
		t.Fatalf("%d bytes, %v", n, err)
	}
	if !bytes.Equal(f.joined(), data) {
		t.Error("stored data differs")
	}
	if got := len(f.completed); got != growAfter+301 {
		t.Errorf("%d parts, want %d", got, growAfter+301)
	}
	if f.spooled != 301 {
		t.Errorf("%d parts spooled, want the 301 past part %d", f.spooled, growAfter)
	}
	if g.bytes.Load() > 3 {
		t.Errorf("%d bytes allocated in memory, over the budget of 3", g.bytes.Load())
	}
}

func TestStreamerSpoolFull(t *testing.T) {
	f := newFakeTarget()
	u := &streamer{target: f, initial: 1000, concurrency: 2, pool: newMemPool(1000), spoolDir: t.TempDir(),
		freeSpace: func(string) (int64, error) { return 999, nil }}
	_, _, err := u.upload(t.Context(), bytes.NewReader(pattern(5000)))
	if err == nil || !strings.Contains(err.Error(), "give the spool volume more space") {
		t.Fatalf("error %v, want the spool volume to be full", err)
	}
	if r := result.ReasonOf(err); r != result.ReasonStorageFailed {
		t.Errorf("reason %s, want StorageFailed", r)
	}
	if f.created || len(f.puts) != 0 {
		t.Errorf("created=%v puts=%d; want nothing started", f.created, len(f.puts))
	}

	// Room for two parts but not three: the upload goes on with two.
	var files atomic.Int64
	f = newFakeTarget()
	f.delay = time.Millisecond
	u = &streamer{target: f, initial: 1000, concurrency: 4, pool: newMemPool(1000), spoolDir: t.TempDir(),
		freeSpace: func(string) (int64, error) {
			if files.Add(1) > 2 {
				return 999, nil
			}
			return 1 << 20, nil
		}}
	data := pattern(10_000)
	if _, _, err := u.upload(t.Context(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.joined(), data) {
		t.Error("stored data differs")
	}
	if len(u.spool.all) != 2 {
		t.Errorf("%d spool files, want the 2 there was room for", len(u.spool.all))
	}
}

func TestStreamerSpoolDirMissing(t *testing.T) {
	f := newFakeTarget()
	u := &streamer{target: f, initial: 1000, concurrency: 2, pool: newMemPool(1000), spoolDir: "/nonexistent/spool"}
	_, _, err := u.upload(t.Context(), bytes.NewReader(pattern(5000)))
	if r := result.ReasonOf(err); err == nil || r != result.ReasonStorageFailed {
		t.Fatalf("error %v (reason %s), want StorageFailed", err, r)
	}
	if !strings.Contains(err.Error(), "/nonexistent/spool") {
		t.Errorf("error %v does not name the spool directory", err)
	}
}
