package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/internal/version"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"version", []string{"version"}, 0, "pgbackup ", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `pgbackup: error: unknown command "frobnicate"`},
		{"unknown flag", []string{"version", "--nope"}, 2, "", "pgbackup: error: unknown flag: --nope"},
		{"extra argument", []string{"version", "extra"}, 2, "", "pgbackup: error: unknown command"},
		{"bad output", []string{"version", "-o", "yaml"}, 2, "", `unknown output format "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want empty", stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if n := strings.Count(strings.TrimSuffix(stderr.String(), "\n"), "\n"); n > 0 {
				t.Errorf("stderr has %d extra lines, want one line: %q", n, stderr.String())
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version", "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	var got version.Info
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v: %q", err, stdout.String())
	}
	if got != version.Get() {
		t.Fatalf("got %+v, want %+v", got, version.Get())
	}
}

// The subcommands that report a result take --termination-log and
// --log-level from the environment too (PGBACKUP_TERMINATION_LOG, as the
// CronJobs set it): both are read after the environment is applied.
func TestResultSettingsComeFromTheEnvironment(t *testing.T) {
	for _, sub := range []string{"backup", "verify"} {
		t.Run(sub, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "result.json")
			t.Setenv("PGBACKUP_TERMINATION_LOG", path)
			t.Setenv("PGBACKUP_LOG_LEVEL", "loud")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{sub, "--destination", "s3://bucket/prefix"}, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no result at PGBACKUP_TERMINATION_LOG: %v", err)
			}
			var res result.Result
			if err := json.Unmarshal(b, &res); err != nil || res.Reason != result.ReasonConfigInvalid || !strings.Contains(res.Message, `log level "loud"`) {
				t.Fatalf("result %s (%v), want ConfigInvalid about PGBACKUP_LOG_LEVEL", b, err)
			}
		})
	}
}
