package manifest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the manifest schema this build writes. Version 2 adds
// the row counts of every table (Object.Tables); readers accept every
// version from 1 to SchemaVersion.
const SchemaVersion = 2

// MinSchemaVersion is the oldest manifest schema this build reads.
const MinSchemaVersion = 1

// FileName is the manifest's object name inside a backup.
const FileName = "manifest.json"

// StatusComplete is the only status a stored manifest has: a manifest is
// written after every object of the backup is stored, never before.
const StatusComplete = "complete"

// idLayout is the time layout of a backup id.
const idLayout = "20060102T150405Z"

// Format is a pg_dump output format.
type Format string

// The pg_dump formats.
const (
	FormatCustom    Format = "custom"
	FormatDirectory Format = "directory"
	FormatPlain     Format = "plain"
)

// Ext is the object extension before compression: dump, tar or sql.
func (f Format) Ext() string {
	switch f {
	case FormatCustom:
		return "dump"
	case FormatDirectory:
		return "tar"
	default:
		return "sql"
	}
}

// Manifest describes one complete backup (contract).
type Manifest struct {
	SchemaVersion int         `json:"schemaVersion"`
	ID            string      `json:"id"`
	Status        string      `json:"status"`
	StartedAt     time.Time   `json:"startedAt"`
	FinishedAt    time.Time   `json:"finishedAt"`
	AgentVersion  string      `json:"agentVersion"`
	Server        Server      `json:"server"`
	PgDumpVersion string      `json:"pgDumpVersion"`
	Format        Format      `json:"format"`
	Compression   string      `json:"compression"`
	Encryption    *Encryption `json:"encryption"`
	Globals       *Object     `json:"globals"`
	// GlobalsSkipped says why globals were not dumped (empty when they
	// were, or were not asked for).
	GlobalsSkipped string `json:"globalsSkipped,omitempty"`
	// ExcludedDatabases are the server's databases the run left out on
	// purpose (--exclude-databases).
	ExcludedDatabases []string `json:"excludedDatabases,omitempty"`
	Databases         []Object `json:"databases"`
}

// Server is the PostgreSQL server that was dumped.
type Server struct {
	Version    string `json:"version"`
	VersionNum int    `json:"versionNum"`
	// Standby is set when the backup was read from a hot standby.
	Standby bool `json:"standby,omitempty"`
}

// Encryption says how the objects are encrypted.
type Encryption struct {
	Type       string   `json:"type"`
	Recipients []string `json:"recipients"`
}

// Object is one stored object of a backup. Name is the database name
// (empty for globals); SHA256 is the hex digest of the bytes as stored.
type Object struct {
	Name   string `json:"name,omitempty"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Tables are the row counts of every table whose data the dump holds,
	// counted from the dump stream itself (schema version 2, databases
	// only). Nil when they were not counted; TablesSkipped then says why.
	Tables []Table `json:"tables,omitzero"`
	// TablesSkipped says why a database's row counts are missing.
	TablesSkipped string `json:"tablesSkipped,omitempty"`
	// PgDumpOptions are the options that narrowed this database's dump
	// (its filters and extra options, see package selection); empty for
	// a whole database. A restore of it restores only what they left in.
	PgDumpOptions []string `json:"pgDumpOptions,omitempty"`
}

// Table is the number of rows of one table's data in a dump.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// TotalSize is the sum of the stored sizes of every object.
func (m *Manifest) TotalSize() int64 {
	var n int64
	if m.Globals != nil {
		n += m.Globals.Size
	}
	for _, d := range m.Databases {
		n += d.Size
	}
	return n
}

// Database returns the object of database name.
func (m *Manifest) Database(name string) (Object, bool) {
	for _, d := range m.Databases {
		if d.Name == name {
			return d, true
		}
	}
	return Object{}, false
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks that a manifest read from storage is one this build
// understands and that it describes a complete backup.
func (m *Manifest) Validate() error {
	var errs []error
	if m.SchemaVersion < MinSchemaVersion || m.SchemaVersion > SchemaVersion {
		errs = append(errs, fmt.Errorf("schemaVersion %d is not supported (this build reads %d to %d)", m.SchemaVersion, MinSchemaVersion, SchemaVersion))
	}
	if _, _, err := ParseID(m.ID); err != nil {
		errs = append(errs, err)
	}
	if m.Status != StatusComplete {
		errs = append(errs, fmt.Errorf("status %q is not %q", m.Status, StatusComplete))
	}
	if len(m.Databases) == 0 && m.Globals == nil {
		errs = append(errs, errors.New("lists no objects"))
	}
	check := func(o Object, what string) {
		if o.Key == "" || o.Size < 0 || !sha256Hex.MatchString(o.SHA256) {
			errs = append(errs, fmt.Errorf("%s: key, size or sha256 missing or malformed", what))
		}
	}
	for _, d := range m.Databases {
		if d.Name == "" {
			errs = append(errs, errors.New("a database object has no name"))
		}
		check(d, "database "+d.Name)
		for _, t := range d.Tables {
			if t.Name == "" || t.Rows < 0 {
				errs = append(errs, fmt.Errorf("database %s: a table has no name or a negative row count", d.Name))
				break
			}
		}
	}
	if m.Globals != nil {
		check(*m.Globals, "globals")
	}
	return errors.Join(errs...)
}

// Marshal encodes the manifest as indented JSON.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes and validates a stored manifest.
func Unmarshal(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("invalid manifest %s: %w", m.ID, err)
	}
	return &m, nil
}

// NewID returns the backup id for a start time; n > 0 adds the suffix -n
// used when the plain id is taken.
func NewID(start time.Time, n int) string {
	id := start.UTC().Format(idLayout)
	if n > 0 {
		id += "-" + strconv.Itoa(n)
	}
	return id
}

// ParseID returns the start time and suffix of a backup id.
func ParseID(id string) (time.Time, int, error) {
	base, suffix, hasSuffix := strings.Cut(id, "-")
	t, err := time.Parse(idLayout, base)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("backup id %q is not YYYYMMDDTHHMMSSZ[-N]", id)
	}
	n := 0
	if hasSuffix {
		n, err = strconv.Atoi(suffix)
		if err != nil || n < 1 {
			return time.Time{}, 0, fmt.Errorf("backup id %q has a bad suffix", id)
		}
	}
	return t, n, nil
}

// CompareIDs orders backup ids by start time, then by suffix as a number,
// so that "-10" sorts after "-9". Every reader orders ids with it. An id
// that does not parse sorts as the zero time.
func CompareIDs(a, b string) int {
	ta, na, _ := ParseID(a)
	tb, nb, _ := ParseID(b)
	if c := ta.Compare(tb); c != 0 {
		return c
	}
	if na != nb {
		return cmp.Compare(na, nb)
	}
	return strings.Compare(a, b)
}

// Dir is the key prefix of a backup, ending in "/".
func Dir(prefix, id string) string {
	if prefix == "" {
		return id + "/"
	}
	return prefix + "/" + id + "/"
}

// Key is the manifest's key.
func Key(prefix, id string) string { return Dir(prefix, id) + FileName }

// ClaimFileName is the object a run creates, with If-None-Match, to make a
// backup id its own before it stores anything under it.
const ClaimFileName = "claim.json"

// ClaimKey is the key of backup id's claim.
func ClaimKey(prefix, id string) string { return Dir(prefix, id) + ClaimFileName }

// VerificationFileName is the verification result, written once after the
// manifest.
const VerificationFileName = "verification.json"

// databaseDir is the key space of database objects inside a backup,
// disjoint from globals, the manifest and the claim (layout revision 2).
const databaseDir = "db/"

// DatabaseKey is the key of database db's object:
// PREFIX/ID/db/<EncodeName(db)>.<ext><suffix>.
func DatabaseKey(prefix, id, db string, format Format, suffix string) string {
	return Dir(prefix, id) + databaseDir + EncodeName(db) + "." + format.Ext() + suffix
}

// GlobalsKey is the key of the roles and tablespaces dump.
func GlobalsKey(prefix, id, suffix string) string {
	return Dir(prefix, id) + "globals.sql" + suffix
}

// EncodeName turns any PostgreSQL database name into a string that is
// safe as one object key segment and as one file name on any file system:
// bytes other than a-z, 0-9, "_" and "-" become %XX (upper-case hex).
// Dots are escaped too, so "." and ".." cannot name a directory, and
// upper-case letters are, so names differing only in case stay distinct
// on case-insensitive file systems. The encoding is injective.
func EncodeName(name string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// DecodeName inverts EncodeName.
func DecodeName(enc string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(enc) {
			return "", fmt.Errorf("encoded name %q: truncated escape", enc)
		}
		v, err := strconv.ParseUint(enc[i+1:i+3], 16, 8)
		if err != nil || enc[i+1:i+3] != strings.ToUpper(enc[i+1:i+3]) {
			return "", fmt.Errorf("encoded name %q: bad escape %q", enc, enc[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// CheckKeys checks that every object of the manifest lies inside its own
// backup directory under prefix, is not one of the backup's reserved
// objects (manifest, claim, verification), has no empty, "." or ".."
// segment, and that no two objects share a key. A manifest failing it is
// refused by readers and never written by the agent: a key outside the
// directory could point a restore, or a deletion, at another backup.
func (m *Manifest) CheckKeys(prefix string) error {
	dir := Dir(prefix, m.ID)
	reserved := map[string]bool{dir + FileName: true, dir + ClaimFileName: true, dir + VerificationFileName: true}
	seen := map[string]bool{}
	var errs []error
	check := func(o Object, what string) {
		rest, ok := strings.CutPrefix(o.Key, dir)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: key %q lies outside the backup's directory %s", what, o.Key, dir))
			return
		case reserved[o.Key]:
			errs = append(errs, fmt.Errorf("%s: key %q is reserved", what, o.Key))
			return
		case seen[o.Key]:
			errs = append(errs, fmt.Errorf("%s: key %q is used twice", what, o.Key))
			return
		}
		for _, seg := range strings.Split(rest, "/") {
			if seg == "" || seg == "." || seg == ".." {
				errs = append(errs, fmt.Errorf("%s: key %q has an empty, \".\" or \"..\" segment", what, o.Key))
				return
			}
		}
		seen[o.Key] = true
	}
	if m.Globals != nil {
		check(*m.Globals, "globals")
	}
	for _, d := range m.Databases {
		check(d, "database "+d.Name)
		for _, t := range d.Tables {
			if t.Name == "" || t.Rows < 0 {
				errs = append(errs, fmt.Errorf("database %s: a table has no name or a negative row count", d.Name))
				break
			}
		}
	}
	return errors.Join(errs...)
}
