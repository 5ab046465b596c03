package storage

const (
	// growAfter is the number of parts uploaded at the initial part size.
	growAfter = 5000
	// growEvery is how many parts pass between two doublings after that.
	growEvery = 500
	// expectedParts is the part count an expected size is spread over: well
	// under growAfter, so a fair estimate never makes the part size grow and
	// an estimate 25% short still fits before it does.
	expectedParts = 4000
	mib           = 1 << 20
)

// initialPartSize is the size of the first part: the configured size (or
// DefaultPartSize), raised to expected/4000 rounded up to a whole MiB when
// the caller expects a large object, and at most MaxPartSize.
func initialPartSize(configured, expected int64) int64 {
	size := configured
	if size <= 0 {
		size = DefaultPartSize
	}
	if expected > 0 {
		per := (expected + expectedParts - 1) / expectedParts
		per = (per + mib - 1) / mib * mib
		size = max(size, per)
	}
	return min(size, MaxPartSize)
}

// partSize is the size of part n (1-based) of an upload whose first part is
// initial bytes: constant for the first 5000 parts, then doubling every 500
// parts, capped at MaxPartSize. From the default 8 MiB the 10,000 parts add
// up to over 6 TiB, so any object S3 accepts (5 TiB) fits, while the memory
// an upload holds stays small for the objects most backups are.
func partSize(initial int64, n int) int64 {
	if n <= growAfter {
		return min(initial, MaxPartSize)
	}
	size := initial
	for doublings := (n-growAfter-1)/growEvery + 1; doublings > 0 && size < MaxPartSize; doublings-- {
		size *= 2
	}
	return min(size, MaxPartSize)
}

// minMemoryParts is the fewest part buffers the memory budget must hold for
// parts to stay in memory: one filling while two upload, so the upload stays
// parallel. Larger parts are written to the spool volume instead.
const minMemoryParts = 3

// memoryParts is how many part buffers of size bytes the budget holds.
func memoryParts(budget, size int64) int64 {
	if size <= 0 {
		return 0
	}
	return budget / size
}

// spoolFileLimit is how many spool files an upload of concurrency parts in
// flight uses: one more, for the part being written.
func spoolFileLimit(concurrency int) int { return max(concurrency, 1) + 1 }

// PipelineMemory is the memory budget of a backup's data path: the part
// buffers of its uploads and what feeds them (the encoder, and the 4 MiB
// pg_dump's output is read ahead into). zstd at levels 1-9 and gzip (5-10
// MiB) leave 28 MiB and more to the parts, three parts of the default size.
const PipelineMemory int64 = 42 << 20

// PartMemoryFor is the Config.PartMemory that keeps the part buffers and
// the stages feeding them, holding encoder bytes (codec.Encoding.Memory
// and the read-ahead), within
// PipelineMemory, and at most DefaultPartMemory. An encoder that takes
// most of it (zstd at levels 10 and above holds 38 MiB) leaves too little
// for parts in memory, and they are spooled.
func PartMemoryFor(encoder int64) int64 {
	return min(max(PipelineMemory-max(encoder, 0), 1), DefaultPartMemory)
}
