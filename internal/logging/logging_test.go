package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.V(1).Info("Hidden at info")
	log.Info("Backup started", "backupId", "20261129T000000Z")
	log.Error(errors.New("boom"), "Upload failed")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %s", len(lines), buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	if first["msg"] != "Backup started" || first["backupId"] != "20261129T000000Z" || first["level"] != "info" {
		t.Errorf("first line %v", first)
	}
	if second["error"] != "boom" || second["level"] != "error" {
		t.Errorf("second line %v", second)
	}
	if _, err := New(&buf, "loud"); err == nil {
		t.Error("bad level accepted")
	}
}
