// Package manifest defines the backup manifest and object layout of DESIGN
// section 2 (a contract). A backup exists only once its manifest.json is
// stored; the manifest is written last and lists every object with its size
// and the sha256 of its bytes as stored.
//
//	PREFIX/<backupID>/manifest.json
//	PREFIX/<backupID>/<db>.<ext>
//	PREFIX/<backupID>/globals.sql.<ext>
//
// backupID is the UTC start time, YYYYMMDDTHHMMSSZ, with a suffix -N when
// that id is taken.
package manifest
