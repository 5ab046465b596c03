package result

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"unclassified", base, 1},
		{"config", Errorf(ReasonConfigInvalid, "bad flag: %w", base), 2},
		{"connection", Wrap(ReasonConnectionFailed, base), 3},
		{"auth", Wrap(ReasonAuthFailed, base), 3},
		{"dump", Wrap(ReasonDumpFailed, base), 4},
		{"restore", Wrap(ReasonRestoreFailed, base), 4},
		{"storage", Wrap(ReasonStorageFailed, base), 5},
		{"integrity", Wrap(ReasonIntegrityFailed, base), 6},
		{"refused", Wrap(ReasonRefused, base), 7},
		{"interrupted", Wrap(ReasonInterrupted, base), 130},
		{"cancelled context", fmt.Errorf("upload: %w", context.Canceled), 130},
		{"wrapped twice keeps inner", fmt.Errorf("outer: %w", Wrap(ReasonInternal, Wrap(ReasonStorageFailed, base))), 5},
		{"internal", Wrap(ReasonInternal, base), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorKeepsChain(t *testing.T) {
	base := errors.New("boom")
	err := Errorf(ReasonStorageFailed, "put object: %w", base)
	if !errors.Is(err, base) {
		t.Fatal("classified error lost its cause")
	}
	if err.Error() != "put object: boom" {
		t.Fatalf("Error() = %q", err.Error())
	}
	if Wrap(ReasonDumpFailed, nil) != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
}
