// Package codec is the one place that knows how a dump becomes a stored
// object and back: compress, then encrypt (age) on the way in; decrypt,
// then decompress on the way out. Backup, restore and verification all go
// through it, so they cannot disagree on the order, and every decoding
// failure is classified as IntegrityFailed.
package codec
