package crypt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// Type is the manifest's encryption type.
const Type = "age"

// Ext is appended to the name of an encrypted object.
const Ext = ".age"

// Recipients are the public keys a backup is encrypted for.
type Recipients struct {
	keys []string
	recs []age.Recipient
}

// ParseRecipients reads X25519 recipients ("age1...") given directly and
// from a recipients file (one per line, # comments), deduplicated. Errors
// are ConfigInvalid and name the offending entry.
func ParseRecipients(direct []string, file string) (Recipients, error) {
	all := slices.Clone(direct)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return Recipients{}, result.Errorf(result.ReasonConfigInvalid, "age recipients file: %w", err)
		}
		defer func() { _ = f.Close() }()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				all = append(all, line)
			}
		}
		if err := sc.Err(); err != nil {
			return Recipients{}, result.Errorf(result.ReasonConfigInvalid, "age recipients file %s: %w", file, err)
		}
	}
	var rs Recipients
	for _, k := range all {
		k = strings.TrimSpace(k)
		if k == "" || slices.Contains(rs.keys, k) {
			continue
		}
		r, err := age.ParseX25519Recipient(k)
		if err != nil {
			return Recipients{}, result.Errorf(result.ReasonConfigInvalid, "age recipient %q is not an X25519 public key (age1...): %w", k, err)
		}
		rs.keys = append(rs.keys, k)
		rs.recs = append(rs.recs, r)
	}
	return rs, nil
}

// Enabled reports whether there is any recipient.
func (rs Recipients) Enabled() bool { return len(rs.recs) > 0 }

// Keys are the recipients as given, for the manifest.
func (rs Recipients) Keys() []string { return slices.Clone(rs.keys) }

// NewWriter encrypts to w; Close writes the final chunk (without it the
// ciphertext is truncated) and does not close w.
func (rs Recipients) NewWriter(w io.Writer) (io.WriteCloser, error) {
	enc, err := age.Encrypt(w, rs.recs...)
	if err != nil {
		return nil, fmt.Errorf("age encrypt: %w", err)
	}
	return enc, nil
}

// Identities are private keys that can decrypt backups.
type Identities []age.Identity

// LoadIdentities reads an age identity file (AGE-SECRET-KEY-1... lines).
// The error never includes the file's content.
func LoadIdentities(path string) (Identities, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		// In a verify pod the file comes from an optional Secret volume,
		// which is empty when the Secret or its key is missing.
		return nil, result.Errorf(result.ReasonConfigInvalid,
			"age identity file %s does not exist (in a verify pod it comes from verify.ageIdentitySecretRef: check that the Secret exists and has that key)", path)
	}
	if err != nil {
		return nil, result.Errorf(result.ReasonConfigInvalid, "age identity file: %w", err)
	}
	defer func() { _ = f.Close() }()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, result.Errorf(result.ReasonConfigInvalid, "age identity file %s holds no valid age identity", path)
	}
	return ids, nil
}

// NewReader decrypts r. A wrong identity fails here; a modified or
// truncated ciphertext fails while reading. Both are IntegrityFailed.
func (ids Identities) NewReader(r io.Reader, what string) (io.Reader, error) {
	if len(ids) == 0 {
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s is encrypted with age: give the identity file with --identity", what)
	}
	dec, err := age.Decrypt(r, ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, result.Errorf(result.ReasonIntegrityFailed, "%s: none of the identities given with --identity can decrypt it (it was encrypted for other recipients)", what)
		}
		return nil, result.Errorf(result.ReasonIntegrityFailed, "%s: cannot decrypt: %w", what, err)
	}
	return &failingAsIntegrity{r: dec, what: what}, nil
}

// failingAsIntegrity classifies decryption errors met while streaming.
type failingAsIntegrity struct {
	r    io.Reader
	what string
}

func (f *failingAsIntegrity) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && result.ReasonOf(err) == result.ReasonInternal {
		err = result.Errorf(result.ReasonIntegrityFailed, "%s: ciphertext is damaged or truncated: %w", f.what, err)
	}
	return n, err
}
