package result

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarshalFitsTerminationLog(t *testing.T) {
	many := make([]string, 400)
	for i := range many {
		many[i] = strings.Repeat("d", 20)
	}
	tests := []struct {
		name string
		r    Result
	}{
		{"small", Result{Result: Succeeded, BackupID: "20261129T000000Z", Bytes: 42, Databases: []string{"app"}}},
		{"long message", Result{Result: Failed, Reason: ReasonDumpFailed, Message: strings.Repeat("pg_dump: error: ünïcode ", 500)}},
		{"many databases", Result{Result: Succeeded, Databases: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxResultBytes {
				t.Fatalf("%d bytes, want at most %d", len(b), MaxResultBytes)
			}
			if strings.Count(string(b), "\n") != 1 || !strings.HasSuffix(string(b), "\n") {
				t.Fatalf("not one line: %q", b)
			}
			var back Result
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if back.Result != tt.r.Result || back.Reason != tt.r.Reason {
				t.Fatalf("round trip lost the outcome: %+v", back)
			}
		})
	}
}

func TestFail(t *testing.T) {
	var r Result
	r.Fail(Errorf(ReasonStorageFailed, "bucket %q does not exist", "b"))
	b, _ := r.Marshal()
	want := `{"result":"failed","reason":"StorageFailed","message":"bucket \"b\" does not exist","bytes":0,"durationSeconds":0}` + "\n"
	if string(b) != want {
		t.Fatalf("got %s want %s", b, want)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	r := Result{Result: Succeeded, BackupID: "20261129T000000Z"}

	explicit := filepath.Join(dir, "result.json")
	if err := r.WriteFile(explicit); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(explicit); !strings.Contains(string(b), `"backupId":"20261129T000000Z"`) {
		t.Fatalf("file holds %q", b)
	}
	if err := r.WriteFile(filepath.Join(dir, "missing-dir", "x")); err == nil {
		t.Fatal("an explicit unwritable path must be an error")
	}
	// The default path is optional: absent outside Kubernetes.
	if _, err := os.Stat(DefaultTerminationLog); errors.Is(err, os.ErrNotExist) {
		if err := r.WriteFile(""); err != nil {
			t.Fatalf("default path absent: %v", err)
		}
	}
}
