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
		{"custom zstd", DatabaseKey("p", "I", "orders", FormatCustom, ".zst"), "p/I/db/orders.dump.zst"},
		{"plain gzip age", DatabaseKey("p", "I", "orders", FormatPlain, ".gz.age"), "p/I/db/orders.sql.gz.age"},
		{"directory", DatabaseKey("p", "I", "orders", FormatDirectory, ""), "p/I/db/orders.tar"},
		{"escaped name", DatabaseKey("p", "I", "a/b c", FormatCustom, ""), "p/I/db/a%2Fb%20c.dump"},
		{"dot dot", DatabaseKey("p", "I", "..", FormatDirectory, ""), "p/I/db/%2E%2E.tar"},
		{"a database named globals", DatabaseKey("p", "I", "globals", FormatPlain, ".zst"), "p/I/db/globals.sql.zst"},
		{"globals", GlobalsKey("p", "I", ".zst"), "p/I/globals.sql.zst"},
		{"claim", ClaimKey("p", "I"), "p/I/claim.json"},
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
		"schema new": func(m *Manifest) { m.SchemaVersion = SchemaVersion + 1 },
		"schema 0":   func(m *Manifest) { m.SchemaVersion = 0 },
		"rows":       func(m *Manifest) { m.Databases[0].Tables = []Table{{Schema: "public", Name: "t", Rows: -1}} },
		"table name": func(m *Manifest) { m.Databases[0].Tables = []Table{{Schema: "public", Rows: 1}} },
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

// encodedChars are the only characters EncodeName writes.
const encodedChars = "abcdefghijklmnopqrstuvwxyz0123456789_-%ABCDEF"

// Any PostgreSQL database name becomes one safe key segment and file
// name, distinct from every other name, even on a case-insensitive file
// system.
func TestEncodeNameIsSafeAndInjective(t *testing.T) {
	names := []string{"orders", "Orders", "ORDERS", ".", "..", "...", "globals", "manifest.json", "a/b", "a%2Fb", "a b",
		"db/../x", "ünïcødé", "日本", "-", "_", "%", "%25", "a.dump", "", "x\x00y", "\\", "CON", "nul"}
	seen := map[string]string{}
	folded := map[string]string{}
	for _, n := range names {
		enc := EncodeName(n)
		if i := strings.IndexFunc(enc, func(c rune) bool { return !strings.ContainsRune(encodedChars, c) }); i >= 0 {
			t.Errorf("EncodeName(%q) = %q holds %q", n, enc, enc[i])
		}
		if enc == "." || enc == ".." || strings.Contains(enc, "/") {
			t.Errorf("EncodeName(%q) = %q is not a safe segment", n, enc)
		}
		if prev, ok := seen[enc]; ok {
			t.Errorf("EncodeName(%q) = EncodeName(%q) = %q", n, prev, enc)
		}
		seen[enc] = n
		if prev, ok := folded[strings.ToLower(enc)]; ok {
			t.Errorf("%q and %q collide on a case-insensitive file system", n, prev)
		}
		folded[strings.ToLower(enc)] = n
		back, err := DecodeName(enc)
		if err != nil || back != n {
			t.Errorf("DecodeName(EncodeName(%q)) = %q, %v", n, back, err)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz", "%2e"} {
		if _, err := DecodeName(bad); err == nil {
			t.Errorf("DecodeName(%q) succeeded", bad)
		}
	}
}

// Ids with suffixes order by number: "-10" is newer than "-9".
func TestCompareIDs(t *testing.T) {
	ordered := []string{"20261129T000000Z", "20261129T000000Z-1", "20261129T000000Z-2", "20261129T000000Z-9", "20261129T000000Z-10", "20261129T000000Z-11", "20261129T000001Z"}
	for i := range ordered {
		for j := range ordered {
			got := CompareIDs(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("CompareIDs(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestCheckKeys(t *testing.T) {
	const id = "20261129T000000Z"
	obj := func(name, key string) Object {
		return Object{Name: name, Key: key, Size: 1, SHA256: strings.Repeat("a", 64)}
	}
	tests := []struct {
		name string
		m    Manifest
		bad  string
	}{
		{"revision 2", Manifest{ID: id, Globals: &Object{Key: "p/" + id + "/globals.sql"}, Databases: []Object{obj("a", "p/"+id+"/db/a.dump")}}, ""},
		{"revision 1", Manifest{ID: id, Globals: &Object{Key: "p/" + id + "/globals.sql"}, Databases: []Object{obj("a", "p/"+id+"/a.dump")}}, ""},
		{"outside its directory", Manifest{ID: id, Databases: []Object{obj("a", "p/20261128T000000Z/db/a.dump")}}, "outside"},
		{"another prefix", Manifest{ID: id, Databases: []Object{obj("a", "q/"+id+"/db/a.dump")}}, "outside"},
		{"dot dot", Manifest{ID: id, Databases: []Object{obj("a", "p/"+id+"/db/../../x")}}, "segment"},
		{"the manifest itself", Manifest{ID: id, Databases: []Object{obj("a", "p/"+id+"/manifest.json")}}, "reserved"},
		{"globals and a database share a key", Manifest{ID: id, Globals: &Object{Key: "p/" + id + "/globals.sql"}, Databases: []Object{obj("globals", "p/"+id+"/globals.sql")}}, "twice"},
		{"two databases share a key", Manifest{ID: id, Databases: []Object{obj("a", "p/"+id+"/db/a.dump"), obj("b", "p/"+id+"/db/a.dump")}}, "twice"},
	}
	for _, tt := range tests {
		err := tt.m.CheckKeys("p")
		if (tt.bad == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.bad)) {
			t.Errorf("%s: CheckKeys = %v, want %q", tt.name, err, tt.bad)
		}
	}
}
