package codec

import (
	"errors"
	"io"
	"slices"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Encoding is what the agent does to a dump before storing it.
type Encoding struct {
	// Compression is applied first.
	Compression compress.Spec
	// Recipients, when enabled, encrypt the compressed stream.
	Recipients crypt.Recipients
}

// Ext is the object name suffix after the format's extension:
// ".zst"/".gz", then ".age".
func (e Encoding) Ext() string {
	s := e.Compression.Ext()
	if e.Recipients.Enabled() {
		s += crypt.Ext
	}
	return s
}

// ageMemory is what an age writer holds: its 64 KiB chunk of plaintext
// and the sealed chunk.
const ageMemory = 160 << 10

// Memory estimates the bytes the encoding holds while it streams (see
// compress.Spec.EncoderMemory), so that a caller with a memory budget
// can give the uploader the rest.
func (e Encoding) Memory() int64 {
	m := e.Compression.EncoderMemory()
	if e.Recipients.Enabled() {
		m += ageMemory
	}
	return m
}

// EstimateStoredSize is a realistic upper estimate of the stored size of a
// dump of a database of dbSize bytes (pg_database_size), for sizing upload
// parts. Compressed, a dump is rarely larger than the database: indexes
// and free space are not dumped, text and numbers compress to a fraction,
// and bytea, which pg_dump writes as hex (twice its size), compresses back
// to about its own size. Uncompressed, the hex of bytea and text that
// TOAST stores compressed make a dump up to about twice the database.
// age adds 16 bytes per 64 KiB chunk. An estimate that is short costs
// nothing but parts that grow (and then go to the spool volume) late in a
// very large upload.
func (e Encoding) EstimateStoredSize(dbSize int64) int64 {
	if dbSize <= 0 {
		return 0
	}
	size := dbSize
	if e.Compression.Algorithm == compress.None || e.Compression.Algorithm == "" {
		size = 2 * dbSize
	}
	if e.Recipients.Enabled() {
		size += size/(64<<10)*16 + 1024
	}
	return size
}

// Encode copies src to w compressed, then encrypted. It returns src's
// error as it is (a pgdump.Stream's, for example), so a source that fails
// is never flushed into a complete-looking stream. Writers are closed
// innermost first: each Close flushes what the next one still needs, and
// an encrypted stream without its final chunk is a truncated one.
func (e Encoding) Encode(w io.Writer, src io.Reader) error {
	var closers []io.Closer
	if e.Recipients.Enabled() {
		ew, err := e.Recipients.NewWriter(w)
		if err != nil {
			return result.Wrap(result.ReasonInternal, err)
		}
		closers = append(closers, ew)
		w = ew
	}
	zw, err := e.Compression.NewWriter(w)
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	closers = append(closers, zw)
	// Even after a failure every writer is closed (the encoders hold
	// goroutines); the source's error stays the one returned, so what they
	// flush ends in an error, never in a clean end of stream.
	_, err = io.Copy(zw, src)
	for _, c := range slices.Backward(closers) {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Pipe runs Encode in a goroutine and returns the encoded stream. The
// stream ends with io.EOF only when src did and every writer flushed;
// otherwise with their error. The channel yields Encode's error once the
// goroutine has finished. Closing the reader with an error stops it.
func (e Encoding) Pipe(src io.Reader) (*io.PipeReader, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := e.Encode(pw, src)
		_ = pw.CloseWithError(err) // nil: the reader sees io.EOF
		done <- err
	}()
	return pr, done
}

// Decoding undoes an Encoding.
type Decoding struct {
	// Compression is the manifest's compression.
	Compression compress.Spec
	// Identities decrypt; nil when the backup is not encrypted.
	Identities crypt.Identities
	// Encrypted says the stored object is age-encrypted.
	Encrypted bool
}

// Decode returns the dump inside a stored object: decrypted, then
// decompressed. what names the object in errors. Every failure, at open
// or while reading, is IntegrityFailed (a wrong key, damaged or truncated
// data), except the stored reader's own errors, which pass as they are.
func (d Decoding) Decode(stored io.Reader, what string) (io.ReadCloser, error) {
	r := stored
	if d.Encrypted {
		dec, err := d.Identities.NewReader(r, what)
		if err != nil {
			return nil, err
		}
		r = dec
	}
	plain, err := d.Compression.NewReader(r)
	if err != nil {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s: %w", what, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{&integrityReader{r: plain, what: what}, plain}, nil
}

// integrityReader classifies decompression failures as IntegrityFailed.
type integrityReader struct {
	r    io.Reader
	what string
}

func (ir *integrityReader) Read(b []byte) (int, error) {
	n, err := ir.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) && result.ReasonOf(err) == result.ReasonInternal {
		err = result.Errorf(result.ReasonIntegrityFailed, "%s: corrupt data: %w", ir.what, err)
	}
	return n, err
}
