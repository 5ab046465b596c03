package manifest

import (
	"strings"
	"testing"
	"time"
)

func TestIDs(t *testing.T) {
	start := time.Date(2026, 11, 29, 1, 2, 3, 999, time.FixedZone("CET", 3600))
	tests := []struct {
		n    int
		want string
	}{
		{0, "20261129T000203Z"},
		{1, "20261129T000203Z-1"},
		{12, "20261129T000203Z-12"},
	}
	for _, tt := range tests {
		id := NewID(start, tt.n)
		if id != tt.want {
			t.Errorf("NewID(_, %d) = %q, want %q", tt.n, id, tt.want)
		}
		got, n, err := ParseID(id)
		if err != nil || !got.Equal(start.Truncate(time.Second)) || n != tt.n {
			t.Errorf("ParseID(%q) = %v, %d, %v", id, got, n, err)
		}
	}
	for _, bad := range []string{"", "2026-11-29", "20261129T000203", "20261129T000203Z-0", "20261129T000203Z-x", "x20261129T000203Z"} {
		if _, _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"manifest", Key("team/pg", "20261129T000000Z"), "team/pg/20261129T000000Z/manifest.json"},
		{"no prefix", Key("", "20261129T000000Z"), "20261129T000000Z/manifest.json"},
		{"custom zstd", DatabaseKey("p", "I", "orders", FormatCustom, ".zst"), "p/I/orders.dump.zst"},
		{"plain gzip age", DatabaseKey("p", "I", "orders", FormatPlain, ".gz.age"), "p/I/orders.sql.gz.age"},
		{"directory", DatabaseKey("p", "I", "orders", FormatDirectory, ""), "p/I/orders.tar"},
		{"escaped name", DatabaseKey("p", "I", "a/b c", FormatCustom, ""), "p/I/a%2Fb%20c.dump"},
		{"globals", GlobalsKey("p", "I", ".zst"), "p/I/globals.sql.zst"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func validManifest() *Manifest {
	return &Manifest{
		SchemaVersion: 1, ID: "20261129T000000Z", Status: StatusComplete,
		Format: FormatCustom, Compression: "zstd:3",
		Databases: []Object{{Name: "orders", Key: "p/20261129T000000Z/orders.dump.zst", Size: 10, SHA256: strings.Repeat("a", 64)}},
	}
}

func TestRoundTripAndValidate(t *testing.T) {
	m := validManifest()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"schemaVersion": 1`, `"status": "complete"`, `"encryption": null`, `"globals": null`, `"sha256": "aaaa`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("manifest JSON lacks %s:\n%s", field, data)
		}
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.TotalSize() != 10 {
		t.Errorf("TotalSize = %d", back.TotalSize())
	}
	if o, ok := back.Database("orders"); !ok || o.Size != 10 {
		t.Errorf("Database(orders) = %+v, %v", o, ok)
	}

	breakers := map[string]func(*Manifest){
		"schema":     func(m *Manifest) { m.SchemaVersion = 2 },
		"status":     func(m *Manifest) { m.Status = "running" },
		"id":         func(m *Manifest) { m.ID = "yesterday" },
		"no objects": func(m *Manifest) { m.Databases = nil },
		"sha":        func(m *Manifest) { m.Databases[0].SHA256 = "abc" },
		"no name":    func(m *Manifest) { m.Databases[0].Name = "" },
		"globals":    func(m *Manifest) { m.Globals = &Object{Key: "k", SHA256: "x"} },
	}
	for name, breakIt := range breakers {
		m := validManifest()
		breakIt(m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: Validate accepted a broken manifest", name)
		}
	}
	if _, err := Unmarshal([]byte("{not json")); err == nil {
		t.Error("Unmarshal accepted bad JSON")
	}
}
