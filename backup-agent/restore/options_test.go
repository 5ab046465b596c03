package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// TestAtWithoutUTCOffsetIsRefused: --at must say which instant it means;
// a wall-clock time without an offset would be read in some zone the user
// did not choose and pick another backup.
func TestAtWithoutUTCOffsetIsRefused(t *testing.T) {
	tests := []struct {
		at      string
		want    time.Time
		wantErr string
	}{
		{at: "2026-11-28T23:00:00Z", want: time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)},
		{at: "2026-11-28T23:00:00.5Z", want: time.Date(2026, 11, 28, 23, 0, 0, 5e8, time.UTC)},
		{at: "2026-11-29T00:00:00+01:00", want: time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)},
		{at: "20261128T230000Z", want: time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)},
		{at: "2026-11-28T23:00:00", wantErr: "no UTC offset"},
		{at: "2026-11-28T23:00", wantErr: "no UTC offset"},
		{at: "2026-11-28", wantErr: "no UTC offset"},
		{at: "yesterday", wantErr: "is not a time"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			opts := testOptions("postgres://u@h/db")
			opts.At = tt.at
			set, err := opts.validate()
			if tt.wantErr == "" {
				if err != nil || !set.at.Equal(tt.want) {
					t.Fatalf("--at %s: %v, %v; want %v", tt.at, set.at, err, tt.want)
				}
				return
			}
			if err == nil || result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("--at %s: %v; want one line, exit 2, with %q", tt.at, err, tt.wantErr)
			}
		})
	}
}

// TestRunRefusesAtWithoutOffset: the refusal comes before anything is
// read from the store.
func TestRunRefusesAtWithoutOffset(t *testing.T) {
	opts := testOptions("postgres://u@h/db")
	opts.At = "2026-11-28T23:00:00"
	err := Run(context.Background(), (&capturedLog{}).logger(), opts, Deps{Store: &storage.MemStore{}}, nil)
	if result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), "2026-11-28T23:00:00Z") {
		t.Fatalf("Run: %v (exit %d), want exit 2 suggesting the Z form", err, result.ExitCode(err))
	}
}
