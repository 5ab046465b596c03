package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgarchive"
	"github.com/pgbackup/pgbackup/backup-agent/progress"
	"github.com/pgbackup/pgbackup/backup-agent/readahead"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/spool"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// This file fetches objects: download, sha256 verification against the
// manifest (verifyingReader) and decoding (codec), streamed or into the
// spool directory.

// holdBack is how much of the decompressed stream waits for the object's
// checksum: more than any tool needs to finish after its last statement.
const holdBack = 1 << 20

// maxGlobalsBytes bounds the globals script, which is read whole: roles
// and tablespaces, never table data.
const maxGlobalsBytes = 64 << 20

// openObject opens obj of the plan's backup and returns its decoded
// content, which ends in io.EOF only once the stored bytes have matched
// the manifest's size and sha256. Bytes read from the store are counted
// in downloaded when it is not nil.
func openObject(ctx context.Context, store storage.Store, p plan, obj manifest.Object, downloaded *progress.Counter) (io.ReadCloser, error) {
	body, err := store.Get(ctx, obj.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "object %s listed in the manifest of %s is missing", obj.Key, p.m.ID)
	}
	if err != nil {
		return nil, err
	}
	var stored io.Reader = body
	if downloaded != nil {
		stored = downloaded.Reader(body)
	}
	// The download and its checksum run ahead of the decoding, on a
	// goroutine of their own.
	fetched := readahead.New(newVerifyingReader(stored, obj.Key, obj.Size, obj.SHA256), readAheadBuffer, readAheadBuffers)
	plain, err := p.decoding.Decode(fetched, obj.Key)
	if err != nil {
		_ = body.Close()
		_ = fetched.Close()
		return nil, err
	}
	return readCloser{Reader: plain, close: func() error {
		// The body first: that ends a read the goroutine may be waiting
		// in, so that it can stop before the decoder closes.
		err := body.Close()
		_ = fetched.Close()
		if cerr := plain.Close(); err == nil {
			err = cerr
		}
		return err
	}}, nil
}

// The download reads ahead of the decoding by up to readAheadBuffers
// buffers of readAheadBuffer bytes.
const (
	readAheadBuffer  = 1 << 20
	readAheadBuffers = 4
)

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// openDump opens the plan's database object, logging progress until the
// returned stop is called.
func openDump(ctx context.Context, log logr.Logger, store storage.Store, p plan) (io.ReadCloser, func(), error) {
	var downloaded progress.Counter
	stop := progress.Every(p.progressEvery, func(elapsed time.Duration) {
		log.Info("Progress", "downloadedBytes", downloaded.Load(), "totalBytes", p.obj.Size, "downloadedMBps", progress.Rate(downloaded.Load(), elapsed))
	})
	rc, err := openObject(ctx, store, p, p.obj, &downloaded)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return rc, stop, nil
}

// download writes the verified, decoded dump into a new private directory
// under the spool directory (a directory-format dump unpacked from its
// tar) and returns its path and a cleanup that removes it. The dump is
// decrypted: the directory is 0700 and every file 0600, so no other user
// of the machine or volume can read it.
func download(ctx context.Context, log logr.Logger, store storage.Store, p plan) (string, func(), error) {
	if err := checkSpace(p.spoolDir, p.obj.Size); err != nil {
		return "", nil, err
	}
	work, err := os.MkdirTemp(p.spoolDir, "pgbackup-restore-") // 0700
	if err != nil {
		return "", nil, result.Errorf(result.ReasonConfigInvalid, "spool directory %s: %w", p.spoolDir, err)
	}
	cleanup := func() { _ = os.RemoveAll(work) }
	path := filepath.Join(work, "dump")
	if err := fetchInto(ctx, log, store, p, path); err != nil {
		cleanup()
		return "", nil, err
	}
	log.Info("Downloaded and verified; restoring", "file", filepath.Base(path), "jobs", p.jobs)
	return path, cleanup, nil
}

// fetchInto downloads the dump to path.
func fetchInto(ctx context.Context, log logr.Logger, store storage.Store, p plan, path string) error {
	plain, stop, err := openDump(ctx, log, store, p)
	if err != nil {
		return err
	}
	defer stop()
	defer func() { _ = plain.Close() }()
	switch p.m.Format {
	case manifest.FormatCustom:
		return writeArchive(log, path, plain)
	case manifest.FormatPlain:
		return writePrivate(path, plain, nil)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		return result.Errorf(result.ReasonStorageFailed, "spool: %w", err)
	}
	if err := spool.ExtractTar(plain, path); err != nil { // files 0600, dirs 0700
		return err
	}
	// The tar ends before the stream: read on so the checksum is checked.
	_, err = io.Copy(io.Discard, plain)
	return err
}

// checkSpace fails with StorageFailed when dir has less room than the
// stored object. The decoded dump is what lands there, and its size is
// known only once it is written (compression ratios of dumps range from 2
// to 10 and more), so the stored size is the one certain lower bound: a
// spool below it cannot work, one above it may still fill up, and then
// the write fails with the same reason.
func checkSpace(dir string, stored int64) error {
	free, err := spool.Free(dir)
	if err != nil {
		return result.Errorf(result.ReasonConfigInvalid, "spool directory %s: %w", dir, err)
	}
	if free < stored {
		return result.Errorf(result.ReasonStorageFailed,
			"spool directory %s has %d bytes free, less than the %d bytes of the stored dump, which grows when decompressed: give --spool-dir more space",
			dir, free, stored)
	}
	return nil
}

// writeArchive writes a custom-format archive to path and fills in the
// data offsets that pg_dump, writing to a pipe, could not (package
// pgarchive): without them every pg_restore -j worker reads the file from
// its start to find each table's data. The offsets are written only after
// the whole object matched its checksum; an archive they cannot be found
// for is restored as it is, more slowly, and the log says why.
func writeArchive(log logr.Logger, path string, r io.Reader) error {
	var scan pgarchive.Scanner
	return writePrivate(path, io.TeeReader(r, &scan), func(f *os.File) error {
		n, err := scan.Patch(f)
		if err != nil {
			if errors.Is(err, pgarchive.ErrWrite) {
				return result.Errorf(result.ReasonStorageFailed, "spool: %w", err)
			}
			log.Info("The archive's data offsets could not be filled in; pg_restore -j reads it more slowly (warning)", "reason", err.Error())
			return nil
		}
		log.Info("Filled in the archive's data offsets", "entries", n, "dataBlocks", scan.Blocks())
		return nil
	})
}

// writePrivate writes r to a new file at path that only this user can
// read, then calls finish, if not nil, on the file before closing it. A
// failed write (a full volume) is StorageFailed; r's own errors (a
// checksum mismatch) pass as they are.
func writePrivate(path string, r io.Reader, finish func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return result.Errorf(result.ReasonStorageFailed, "spool: %w", err)
	}
	_, err = io.Copy(spoolWriter{f}, r)
	if err == nil && finish != nil {
		err = finish(f)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = result.Errorf(result.ReasonStorageFailed, "write %s: %w", path, cerr)
	}
	return err
}

// spoolWriter classifies write failures as StorageFailed.
type spoolWriter struct{ f *os.File }

func (w spoolWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = result.Errorf(result.ReasonStorageFailed, "spool: %w", err)
	}
	return n, err
}

// readGlobals reads and verifies the backup's globals script whole.
func readGlobals(ctx context.Context, store storage.Store, p plan) ([]byte, error) {
	g := *p.m.Globals
	plain, err := openObject(ctx, store, p, g, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = plain.Close() }()
	script, err := io.ReadAll(io.LimitReader(plain, maxGlobalsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(script) > maxGlobalsBytes {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s: globals script larger than %d bytes", g.Key, maxGlobalsBytes)
	}
	return script, nil
}

// describeSpace says whether the spool directory could take the download,
// for the plan.
func describeSpace(p plan) string {
	if err := checkSpace(p.spoolDir, p.obj.Size); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s (room for at least the %d stored bytes)", p.spoolDir, p.obj.Size)
}
