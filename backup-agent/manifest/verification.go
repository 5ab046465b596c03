package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// VerificationSchemaVersion is the verification record schema this build
// writes and reads.
const VerificationSchemaVersion = 1

// The verdicts of a verification record.
const (
	VerificationSucceeded = "succeeded"
	VerificationFailed    = "failed"
)

// Verification is the record of a restore verification, stored once as
// PREFIX/<id>/verification.json after the backup's manifest (contract).
// Only verdicts about the backup itself are recorded: succeeded, or failed
// because what was restored differs from what the manifest recorded (or
// the data could not be read back intact). A failure of the environment
// (the scratch server, S3, an interruption) is reported by the run but
// never recorded, so that a later run can still verify the backup.
type Verification struct {
	SchemaVersion int    `json:"schemaVersion"`
	BackupID      string `json:"backupId"`
	// Result is succeeded or failed.
	Result string `json:"result"`
	// Reason and Message say why a verification failed.
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
	// RestoreSeconds is the measured restore time of each database; the
	// key "" is the globals.
	RestoreSeconds map[string]float64 `json:"restoreSeconds"`
	// Tables counts the tables whose row count was compared, and those
	// that differed (Mismatches lists the first of them).
	Tables TableCheck `json:"tables"`
	// Indexes is the amcheck summary.
	Indexes IndexCheck `json:"indexes"`
	// Checks are the user's SQL checks.
	Checks        []CheckResult `json:"checks"`
	AgentVersion  string        `json:"agentVersion"`
	ServerVersion string        `json:"serverVersion"`
}

// TableCheck is the row-count comparison of a verification.
type TableCheck struct {
	Checked    int             `json:"checked"`
	Mismatched int             `json:"mismatched"`
	Mismatches []TableMismatch `json:"mismatches,omitempty"`
	// NotRecorded names the databases whose manifest has no row counts
	// (schema version 1, or counting failed at backup time).
	NotRecorded []string `json:"notRecorded,omitempty"`
}

// TableMismatch is one table whose restored row count differs from the
// manifest's; Restored is -1 when the table is missing.
type TableMismatch struct {
	Database string `json:"database"`
	Schema   string `json:"schema"`
	Name     string `json:"name"`
	Recorded int64  `json:"recorded"`
	Restored int64  `json:"restored"`
}

// IndexCheck is the amcheck (bt_index_check) summary of a verification.
type IndexCheck struct {
	// Available is false when the scratch server has no amcheck.
	Available bool `json:"available"`
	Checked   int  `json:"checked"`
	Failed    int  `json:"failed"`
	// Failures names the first failing indexes and why.
	Failures []string `json:"failures,omitempty"`
}

// CheckResult is the outcome of one user SQL check.
type CheckResult struct {
	Name     string `json:"name"`
	Database string `json:"database"`
	OK       bool   `json:"ok"`
	Message  string `json:"message,omitempty"`
}

// VerificationKey is the key of backup id's verification record.
func VerificationKey(prefix, id string) string { return Dir(prefix, id) + VerificationFileName }

// Succeeded reports whether the record says the backup was verified.
func (v *Verification) Succeeded() bool { return v != nil && v.Result == VerificationSucceeded }

// Validate checks a verification record read from storage.
func (v *Verification) Validate() error {
	var errs []error
	if v.SchemaVersion != VerificationSchemaVersion {
		errs = append(errs, fmt.Errorf("schemaVersion %d is not supported (this build reads %d)", v.SchemaVersion, VerificationSchemaVersion))
	}
	if _, _, err := ParseID(v.BackupID); err != nil {
		errs = append(errs, err)
	}
	if v.Result != VerificationSucceeded && v.Result != VerificationFailed {
		errs = append(errs, fmt.Errorf("result %q is neither %q nor %q", v.Result, VerificationSucceeded, VerificationFailed))
	}
	if v.Result == VerificationSucceeded && (v.Tables.Mismatched > 0 || v.Indexes.Failed > 0) {
		errs = append(errs, errors.New("says succeeded but lists mismatched tables or failed indexes"))
	}
	for _, c := range v.Checks {
		if v.Result == VerificationSucceeded && !c.OK {
			errs = append(errs, fmt.Errorf("says succeeded but check %q failed", c.Name))
		}
	}
	return errors.Join(errs...)
}

// Marshal encodes the record as indented JSON.
func (v *Verification) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode verification: %w", err)
	}
	return append(b, '\n'), nil
}

// UnmarshalVerification decodes and validates a stored verification record.
func UnmarshalVerification(data []byte) (*Verification, error) {
	var v Verification
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode verification: %w", err)
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("invalid verification of %s: %w", v.BackupID, err)
	}
	return &v, nil
}
