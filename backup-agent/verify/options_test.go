package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "checks.json")
	if err := os.WriteFile(file, []byte(`[{"name":"a","database":"app","sql":"SELECT true"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() Options {
		o := DefaultOptions()
		o.Destination.URL = "s3://bucket/pg"
		o.Target = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		return o
	}
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
		checks  int
	}{
		{"defaults", func(*Options) {}, "", 0},
		{"checks json", func(o *Options) { o.Checks = `[{"name":"a","database":"app","sql":"SELECT true"}]` }, "", 1},
		{"checks file", func(o *Options) { o.ChecksFile = file }, "", 1},
		{"both", func(o *Options) { o.ChecksFile = file; o.Checks = "[]" }, "contradict", 0},
		{"not json", func(o *Options) { o.Checks = "{" }, "not a JSON array", 0},
		{"unknown field", func(o *Options) { o.Checks = `[{"name":"a","database":"app","sql":"x","db":"y"}]` }, "unknown field", 0},
		{"missing sql", func(o *Options) { o.Checks = `[{"name":"a","database":"app"}]` }, "required", 0},
		{"duplicate", func(o *Options) {
			o.Checks = `[{"name":"a","database":"app","sql":"SELECT true"},{"name":"a","database":"app","sql":"SELECT true"}]`
		}, "used twice", 0},
		{"long sql", func(o *Options) {
			o.Checks = `[{"name":"a","database":"app","sql":"` + strings.Repeat("x", maxCheckSQL+1) + `"}]`
		}, "longer than", 0},
		{"no target", func(o *Options) { o.Target = "" }, "--target is required", 0},
		{"not a url", func(o *Options) { o.Target = "host=x" }, "postgres:// URL", 0},
		{"jobs", func(o *Options) { o.Jobs = 0 }, "--jobs", 0},
		{"destination", func(o *Options) { o.Destination.URL = "file:///x" }, "s3://", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.change(&o)
			s, err := o.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.checks) != tt.checks || s.maintenance != "postgres" {
					t.Fatalf("settings %+v", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ReasonOf(err) != result.ReasonConfigInvalid {
				t.Fatalf("error %v, want ConfigInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDatabaseURLEscapesNames(t *testing.T) {
	o := DefaultOptions()
	o.Destination.URL = "s3://bucket/pg"
	o.Target = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	s, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"orders": "postgres://postgres@127.0.0.1:5432/orders?sslmode=disable",
		"a/b ?#": "postgres://postgres@127.0.0.1:5432/a%2Fb%20%3F%23?sslmode=disable",
		"..":     "postgres://postgres@127.0.0.1:5432/..?sslmode=disable",
	} {
		if got := s.databaseURL(name); got != want {
			t.Errorf("databaseURL(%q) = %s, want %s", name, got, want)
		}
	}
}
