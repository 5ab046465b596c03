package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestControllerAndTriggerUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"agent image required", []string{"controller"}, 2, "--agent-image is required"},
		{"verify image template not empty", []string{"controller", "--agent-image=a", "--verify-postgres-image-template= "}, 2,
			"--verify-postgres-image-template must not be empty"},
		{"trigger needs a name", []string{"trigger"}, 2, "accepts 1 arg(s), received 0"},
		{"trigger bad output", []string{"trigger", "x", "--kubeconfig-does-not-exist"}, 2, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("code %d stderr %q, want %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
