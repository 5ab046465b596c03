package storage

import (
	"testing"

	"github.com/spf13/pflag"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestDestinationFlags(t *testing.T) {
	tests := []struct {
		args      []string
		wantStyle string // "" nil, else "true"/"false"
	}{
		{[]string{"--destination", "s3://b-1/p"}, ""},
		{[]string{"--destination", "s3://b-1/p", "--s3-path-style"}, "true"},
		{[]string{"--destination", "s3://b-1/p", "--s3-path-style=false"}, "false"},
	}
	for _, tt := range tests {
		var d Destination
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		d.AddFlags(fs, "where")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		got := ""
		if d.PathStyle != nil {
			got = map[bool]string{true: "true", false: "false"}[*d.PathStyle]
		}
		if got != tt.wantStyle {
			t.Errorf("%v: path style %q, want %q", tt.args, got, tt.wantStyle)
		}
		if b, p, err := d.Parse(); err != nil || b != "b-1" || p != "p" {
			t.Errorf("%v: Parse = %q %q %v", tt.args, b, p, err)
		}
	}
	if _, _, err := (Destination{}).Parse(); result.ExitCode(err) != result.ExitConfig {
		t.Errorf("empty destination: %v", err)
	}
}
