// Package crypt encrypts backups for age recipients (filippo.io/age) and
// decrypts them with an age identity. The cluster holds only public
// recipients: the private identity is needed at restore time alone, so a
// stolen bucket or a compromised cluster does not expose the data.
//
// age authenticates every 64 KiB chunk and marks the last one, so a
// modified or truncated ciphertext fails to decrypt instead of yielding a
// shorter plaintext.
package crypt
