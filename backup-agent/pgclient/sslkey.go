package pgclient

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// SSLKeyEnv is libpq's variable naming the client certificate's key.
const SSLKeyEnv = "PGSSLKEY"

// UsableSSLKey makes the client key PGSSLKEY names one libpq accepts.
// libpq refuses a key that others may read: one root owns must be mode
// 0640 or less, any other 0600 or less. A Secret volume's files
// are root's, mode 0644 unless the pod says otherwise, so a key mounted
// there would fail every pg_dump with "private key file has group or world
// access". Such a key is copied, once, into a file of dir only this
// process may read, and PGSSLKEY is pointed at the copy for pgx and every
// program the agent starts. remove deletes the copy; it is a no-op when
// nothing was copied. A key that cannot be read is ConfigInvalid, named
// by its path, never its content.
func UsableSSLKey(dir string) (remove func(), err error) {
	remove = func() {}
	path := os.Getenv(SSLKeyEnv)
	if path == "" {
		return remove, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return remove, result.Errorf(result.ReasonConfigInvalid, "%s %s: %w", SSLKeyEnv, path, err)
	}
	if libpqAccepts(st) {
		return remove, nil
	}
	key, err := os.ReadFile(path) // #nosec G304 -- the user's own setting
	if err != nil {
		return remove, result.Errorf(result.ReasonConfigInvalid, "%s %s: %w", SSLKeyEnv, path, err)
	}
	f, err := os.CreateTemp(dir, "pgbackup-sslkey-*")
	if err != nil {
		return remove, result.Errorf(result.ReasonConfigInvalid, "copy the client key %s to a private file: %w", path, err)
	}
	copyPath := f.Name()
	remove = func() { _ = os.Remove(copyPath) }
	_, werr := f.Write(key)
	cerr := f.Close()
	if err := firstErr(werr, cerr, os.Chmod(copyPath, 0o600)); err != nil {
		remove()
		return func() {}, result.Errorf(result.ReasonConfigInvalid, "copy the client key %s to a private file: %w", path, err)
	}
	if err := os.Setenv(SSLKeyEnv, filepath.Clean(copyPath)); err != nil {
		remove()
		return func() {}, fmt.Errorf("set %s: %w", SSLKeyEnv, err)
	}
	return remove, nil
}

// libpqAccepts applies libpq's rule for a key file: a regular file, mode
// 0640 or less when root owns it (so a group can share it), 0600 or less
// for any other owner.
func libpqAccepts(st fs.FileInfo) bool {
	if !st.Mode().IsRegular() {
		return false
	}
	perm := st.Mode().Perm()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid == 0 {
		return perm&0o037 == 0
	}
	return perm&0o077 == 0
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// tlsFiles are the variables naming certificate files the agent reads,
// with the PostgresBackup field each comes from.
var tlsFiles = []struct{ env, field string }{
	{"PGSSLROOTCERT", "postgres.sslRootCertRef"},
	{"PGSSLCERT", "postgres.sslClientCertSecretRef (tls.crt)"},
	{SSLKeyEnv, "postgres.sslClientCertSecretRef (tls.key)"},
	{"AWS_CA_BUNDLE", "destination.s3.caBundleRef"},
}

// CheckTLSFiles fails, as ConfigInvalid, when a variable names a
// certificate file that is not there: in the pod the file comes from an
// optional volume, which is empty when its Secret or ConfigMap, or the
// key, is missing. Only the given variables are checked (the verify pod
// reads AWS_CA_BUNDLE only). PGSSLROOTCERT=system (libpq 16+: the system's
// CAs) names no file.
func CheckTLSFiles(variables ...string) error {
	for _, f := range tlsFiles {
		if !slices.Contains(variables, f.env) {
			continue
		}
		path := os.Getenv(f.env)
		if path == "" || (f.env == "PGSSLROOTCERT" && path == "system") {
			continue
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			return result.Errorf(result.ReasonConfigInvalid, "%s %s: no such file; on Kubernetes it comes from %s: check that the Secret or ConfigMap exists in the namespace and has that key", f.env, path, f.field)
		}
	}
	return nil
}
