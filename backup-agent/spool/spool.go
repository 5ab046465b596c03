package spool

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Free returns the bytes available to this process under dir.
func Free(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// CheckFree fails with StorageFailed, naming both numbers, when dir has
// less than need bytes available.
func CheckFree(dir string, need int64) error {
	free, err := Free(dir)
	if err != nil {
		return result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
	}
	if free < need {
		return result.Errorf(result.ReasonStorageFailed,
			"spool directory %s has %d bytes free but the dump needs about %d (the database's size): give the spool volume more space",
			dir, free, need)
	}
	return nil
}

// WriteTar writes the regular files under dir (as a pg_dump directory
// dump holds them) to w as a tar archive with paths relative to dir, in
// name order.
func WriteTar(w io.Writer, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		} else if !d.IsDir() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read dump directory: %w", err)
	}
	sort.Strings(files)
	tw := tar.NewWriter(w)
	for _, path := range files {
		if err := addFile(tw, dir, path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, dir, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", rel, err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("tar %s: %w", rel, err)
	}
	return nil
}

// ExtractTar unpacks an archive made by WriteTar into dir, which must
// exist. Only regular files with relative, clean names are accepted: a
// backup can never write outside dir.
func ExtractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return result.Errorf(result.ReasonIntegrityFailed, "read dump archive: %w", err)
		}
		name := filepath.FromSlash(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(name) || strings.Contains(hdr.Name, `\`) {
			return result.Errorf(result.ReasonIntegrityFailed, "dump archive entry %q is not a plain file inside the dump", hdr.Name)
		}
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return result.Errorf(result.ReasonStorageFailed, "unpack: %w", err)
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return result.Errorf(result.ReasonStorageFailed, "unpack: %w", err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
	}
}

// TempFile creates a scratch file in dir (the system's temporary directory
// when dir is "") and removes its name at once: the file takes space only
// while it is open, and a killed agent leaves nothing behind on the volume.
// The caller closes it.
func TempFile(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, result.Errorf(result.ReasonStorageFailed, "spool directory: %w", err)
	}
	return f, nil
}
