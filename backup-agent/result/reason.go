package result

import (
	"context"
	"errors"
	"fmt"
)

// Reason is the machine-readable cause of a failure (contract).
type Reason string

// The reasons of DESIGN section 2. Their exit codes are fixed by [Reason.ExitCode].
const (
	ReasonInternal         Reason = "Internal"
	ReasonConfigInvalid    Reason = "ConfigInvalid"
	ReasonConnectionFailed Reason = "ConnectionFailed"
	ReasonAuthFailed       Reason = "AuthFailed"
	ReasonDumpFailed       Reason = "DumpFailed"
	ReasonRestoreFailed    Reason = "RestoreFailed"
	ReasonStorageFailed    Reason = "StorageFailed"
	ReasonIntegrityFailed  Reason = "IntegrityFailed"
	ReasonRefused          Reason = "Refused"
	ReasonInterrupted      Reason = "Interrupted"
	// ReasonVerificationFailed: a restored backup does not hold what its
	// manifest recorded (a table's row count differs, a table is missing,
	// an index fails amcheck) or a user's check failed. Exit code 6, like
	// every other proof that stored data is not what it should be.
	ReasonVerificationFailed Reason = "VerificationFailed"
)

// Exit codes (contract).
const (
	ExitOK          = 0
	ExitInternal    = 1
	ExitConfig      = 2
	ExitConnection  = 3
	ExitDumpRestore = 4
	ExitStorage     = 5
	ExitIntegrity   = 6
	ExitRefused     = 7
	ExitInterrupted = 130
)

// ExitCode returns the process exit code documented for the reason.
func (r Reason) ExitCode() int {
	switch r {
	case ReasonConfigInvalid:
		return ExitConfig
	case ReasonConnectionFailed, ReasonAuthFailed:
		return ExitConnection
	case ReasonDumpFailed, ReasonRestoreFailed:
		return ExitDumpRestore
	case ReasonStorageFailed:
		return ExitStorage
	case ReasonIntegrityFailed, ReasonVerificationFailed:
		return ExitIntegrity
	case ReasonRefused:
		return ExitRefused
	case ReasonInterrupted:
		return ExitInterrupted
	default:
		return ExitInternal
	}
}

// Error is an error classified with a [Reason].
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf formats an error (with %w as usual) and classifies it.
func Errorf(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Wrap classifies err; it returns nil for a nil err. An error that is already
// classified keeps its innermost reason: the place that saw the failure knows
// its cause best.
func Wrap(reason Reason, err error) error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) {
		return err
	}
	return &Error{Reason: reason, Err: err}
}

// ReasonOf returns the reason err was classified with. A cancelled context
// (the process got SIGINT or SIGTERM) is Interrupted; anything unclassified
// is Internal.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var re *Error
	if errors.As(err, &re) {
		return re.Reason
	}
	if errors.Is(err, context.Canceled) {
		return ReasonInterrupted
	}
	return ReasonInternal
}

// ExitCode maps any error to the documented exit code: 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	return ReasonOf(err).ExitCode()
}
