package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// verifyingReader passes an object's bytes through and returns io.EOF only
// when their count and sha256 match the manifest's; otherwise it returns an
// IntegrityFailed error in place of io.EOF.
type verifyingReader struct {
	r        io.Reader
	key      string
	wantSize int64
	wantSum  string
	n        int64
	h        hash.Hash
}

func newVerifyingReader(r io.Reader, key string, size int64, sum string) *verifyingReader {
	return &verifyingReader{r: r, key: key, wantSize: size, wantSum: sum, h: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.wantSize {
		return n, result.Errorf(result.ReasonIntegrityFailed, "%s is larger than the %d bytes its manifest records", v.key, v.wantSize)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.wantSize {
			return n, result.Errorf(result.ReasonIntegrityFailed, "%s is %d bytes, its manifest records %d: truncated", v.key, v.n, v.wantSize)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.wantSum {
			return n, result.Errorf(result.ReasonIntegrityFailed, "%s: sha256 %s does not match the manifest's %s: the object is corrupt", v.key, got, v.wantSum)
		}
		return n, io.EOF
	}
	return n, err
}

// holdbackReader delays the last hold bytes of its source until the source
// has ended with io.EOF. A consumer that needs every byte to finish (the
// end of a pg_restore archive, the last statements of a SQL script before
// psql commits) therefore cannot finish before the source has vouched for
// the whole stream; on any other error it gets the error instead.
type holdbackReader struct {
	r    io.Reader
	hold int
	buf  []byte // pending bytes, at most hold + a read's worth
	err  error  // the source's final error, once seen
	tmp  []byte
}

func newHoldbackReader(r io.Reader, hold int) *holdbackReader {
	return &holdbackReader{r: r, hold: hold, tmp: make([]byte, 64<<10)}
}

func (h *holdbackReader) Read(p []byte) (int, error) {
	for h.err == nil && len(h.buf) <= h.hold {
		n, err := h.r.Read(h.tmp)
		h.buf = append(h.buf, h.tmp[:n]...)
		if err != nil {
			h.err = err
		}
	}
	if h.err != nil && !errors.Is(h.err, io.EOF) {
		// Never release held bytes of a stream that failed.
		return 0, h.err
	}
	avail := len(h.buf)
	if h.err == nil {
		avail -= h.hold
	}
	if avail == 0 {
		return 0, h.err
	}
	n := copy(p, h.buf[:avail])
	h.buf = h.buf[n:]
	return n, nil
}
