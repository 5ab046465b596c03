package version

import (
	"strings"
	"testing"
)

func TestGetUsesStampedValues(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })

	Version, Commit = "v1.2.3", "abc123"
	got := Get()
	if got.Version != "v1.2.3" || got.Commit != "abc123" {
		t.Fatalf("Get() = %+v, want stamped version and commit", got)
	}
	if !strings.HasPrefix(got.GoVersion, "go") {
		t.Errorf("GoVersion = %q, want a go version", got.GoVersion)
	}
	s := got.String()
	for _, want := range []string{"v1.2.3", "abc123", got.GoVersion} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, missing %q", s, want)
		}
	}
}

func TestGetNeverEmpty(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })

	Version, Commit = "", ""
	got := Get()
	if got.Version == "" || got.Commit == "" {
		t.Fatalf("Get() = %+v, want non-empty fallbacks", got)
	}
}
