package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// MaxResultBytes bounds the result line: Kubernetes keeps at most 4096
// bytes of a container's termination message.
const MaxResultBytes = 4096

// DefaultTerminationLog is where Kubernetes reads a container's termination
// message from.
const DefaultTerminationLog = "/dev/termination-log"

// Outcome is the result field: succeeded or failed.
type Outcome string

// The outcomes.
const (
	Succeeded Outcome = "succeeded"
	Failed    Outcome = "failed"
)

// Result is what a run reports on exit (contract): one compact JSON line in
// the termination log, read by the controller from the pod's status.
type Result struct {
	Result          Outcome  `json:"result"`
	BackupID        string   `json:"backupId,omitempty"`
	Reason          Reason   `json:"reason,omitempty"`
	Message         string   `json:"message,omitempty"`
	Bytes           int64    `json:"bytes"`
	DurationSeconds float64  `json:"durationSeconds"`
	Databases       []string `json:"databases,omitempty"`
	// Warnings are non-fatal problems the run recorded (for example globals
	// skipped for lack of permission).
	Warnings []string `json:"warnings,omitempty"`
	// ServerVersionNum is the dumped (backup) or scratch (verify) server's
	// server_version_num, so the controller can pick a scratch server of
	// the same major for verification.
	ServerVersionNum int `json:"serverVersionNum,omitempty"`
	// Verification is set by verify runs only.
	Verification *Verification `json:"verification,omitempty"`
}

// Verification is the summary of a verify run in its result line; the
// full record is the backup's verification.json.
type Verification struct {
	// RestoreSeconds is the wall time of restoring every database (and
	// globals) into the scratch server.
	RestoreSeconds float64 `json:"restoreSeconds"`
	// TablesChecked and TablesMismatched count the tables whose row count
	// was compared with the manifest, and those that differed or were
	// missing.
	TablesChecked    int `json:"tablesChecked"`
	TablesMismatched int `json:"tablesMismatched"`
	// ChecksFailed counts failed user checks and amcheck findings.
	ChecksFailed int `json:"checksFailed"`
	// Recorded says verification.json was written by this run (false when
	// the backup already had one: it is written once).
	Recorded bool `json:"recorded"`
}

// Fail fills the failure fields from err.
func (r *Result) Fail(err error) {
	r.Result = Failed
	r.Reason = ReasonOf(err)
	r.Message = err.Error()
}

// Marshal encodes the result as one line of at most MaxResultBytes,
// shortening the message (then warnings and databases) if it must.
func (r Result) Marshal() ([]byte, error) {
	for {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode result: %w", err)
		}
		if len(b)+1 <= MaxResultBytes {
			return append(b, '\n'), nil
		}
		over := len(b) + 1 - MaxResultBytes
		switch {
		case len(r.Message) > 64:
			r.Message = truncate(r.Message, max(64, len(r.Message)-over-16))
		case len(r.Warnings) > 0:
			r.Warnings = r.Warnings[:len(r.Warnings)-1]
		case len(r.Databases) > 0:
			r.Databases = r.Databases[:len(r.Databases)-1]
		default:
			return nil, errors.New("encode result: does not fit in the termination log")
		}
	}
}

// truncate cuts s to at most n bytes on a rune boundary and marks the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ") + "…"
}

// WriteFile writes the result line to path. An empty path means the
// Kubernetes default, used only when it exists and is writable (outside a
// pod it usually is not, and then nothing is written).
func (r Result) WriteFile(path string) error {
	explicit := path != ""
	if !explicit {
		path = DefaultTerminationLog
	}
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_TRUNC
	if explicit {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if !explicit && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			return nil
		}
		return fmt.Errorf("write result to %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("write result to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write result to %s: %w", path, err)
	}
	return nil
}
