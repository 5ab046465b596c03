package repo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
)

func put(t *testing.T, s storage.Store, key, body string) {
	t.Helper()
	if _, err := s.Upload(context.Background(), key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func putManifest(t *testing.T, s storage.Store, id string) {
	const prefix = "pg"
	t.Helper()
	started, _, err := manifest.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	m := manifest.Manifest{
		SchemaVersion: 1, ID: id, Status: manifest.StatusComplete, StartedAt: started, Format: manifest.FormatCustom, Compression: "zstd:3",
		Databases: []manifest.Object{{Name: "app", Key: manifest.DatabaseKey(prefix, id, "app", manifest.FormatCustom, ".zst"), Size: 3, SHA256: strings.Repeat("0", 64)}},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, m.Databases[0].Key, "abc")
	put(t, s, manifest.Key(prefix, id), string(b))
}

// history: three complete backups, one incomplete (newest), one with a
// corrupt manifest, and keys that are not backups at all.
func history(t *testing.T) Repo {
	s := &storage.MemStore{}
	for _, id := range []string{"20261101T000000Z", "20261102T000000Z", "20261102T000000Z-1"} {
		putManifest(t, s, id)
	}
	put(t, s, "pg/20261103T000000Z/app.dump.zst", "partial") // failed run
	put(t, s, "pg/20261102T120000Z/manifest.json", "{broken")
	put(t, s, "pg/notes.txt", "not a backup")
	put(t, s, "pg/random-dir/file", "not a backup")
	put(t, s, "pg-other/20261105T000000Z/manifest.json", "another prefix")
	return Repo{Store: s, Prefix: "pg"}
}

func TestScan(t *testing.T) {
	entries, err := history(t).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		mark := ""
		if e.Complete {
			mark = "+"
		}
		got = append(got, e.ID+mark)
	}
	want := "20261101T000000Z+ 20261102T000000Z+ 20261102T000000Z-1+ 20261102T120000Z+ 20261103T000000Z"
	if strings.Join(got, " ") != want {
		t.Fatalf("Scan = %v\nwant   %s", got, want)
	}
}

func TestComplete(t *testing.T) {
	var skipped []string
	ms, err := history(t).Complete(context.Background(), func(id string, err error) { skipped = append(skipped, id) })
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, " ") != "20261102T000000Z-1 20261102T000000Z 20261101T000000Z" {
		t.Fatalf("Complete = %v, want newest first without the broken and incomplete ones", ids)
	}
	if strings.Join(skipped, " ") != "20261102T120000Z" {
		t.Fatalf("skipped %v, want the corrupt manifest reported", skipped)
	}
}

func TestResolve(t *testing.T) {
	r := history(t)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		sel  Selector
		want string
		code int
	}{
		{"latest skips incomplete and corrupt", Selector{ID: "latest"}, "20261102T000000Z-1", 0},
		{"empty means latest", Selector{}, "20261102T000000Z-1", 0},
		{"by id", Selector{ID: "20261101T000000Z"}, "20261101T000000Z", 0},
		{"at between", Selector{At: at("2026-11-01T12:00:00Z")}, "20261101T000000Z", 0},
		{"at exact", Selector{At: at("2026-11-02T00:00:00Z")}, "20261102T000000Z-1", 0},
		{"at before all", Selector{At: at("2026-10-01T00:00:00Z")}, "", result.ExitIntegrity},
		{"incomplete id", Selector{ID: "20261103T000000Z"}, "", result.ExitIntegrity},
		{"corrupt manifest", Selector{ID: "20261102T120000Z"}, "", result.ExitIntegrity},
		{"unknown id", Selector{ID: "20261201T000000Z"}, "", result.ExitIntegrity},
		{"malformed id", Selector{ID: "yesterday"}, "", result.ExitConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Resolve(context.Background(), tt.sel)
			if got := result.ExitCode(err); got != tt.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tt.code)
			}
			if tt.code == 0 && m.ID != tt.want {
				t.Fatalf("Resolve = %s, want %s", m.ID, tt.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	ms, err := history(t).List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var table, js bytes.Buffer
	if err := WriteTable(&table, ms); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "20261102T000000Z-1") || !strings.Contains(lines[1], "zstd:3") {
		t.Fatalf("table:\n%s", table.String())
	}
	if err := WriteJSON(&js, nil); err != nil || strings.TrimSpace(js.String()) != "[]" {
		t.Fatalf("empty JSON = %q, %v", js.String(), err)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// A transient failure to read the newest manifest (throttling after the
// store's retries, a timeout) must fail the resolution: restoring an older
// backup silently is worse than failing. Only a damaged manifest is passed
// over, and the caller is told.
func TestResolveFailsOnTransientErrors(t *testing.T) {
	mem := &storage.MemStore{}
	putManifest(t, mem, "20261101T000000Z")
	putManifest(t, mem, "20261102T000000Z")
	s := storagetest.NewFaulty(mem)
	s.Inject(storagetest.Fault{Op: storagetest.OpGet, KeyContains: "20261102T000000Z/manifest.json", Times: -1})
	r := Repo{Store: s, Prefix: "pg"}
	var skipped []string
	m, err := r.Resolve(context.Background(), Selector{ID: "latest", OnSkip: func(id string, _ error) { skipped = append(skipped, id) }})
	if err == nil || result.ReasonOf(err) != result.ReasonStorageFailed || !strings.Contains(err.Error(), "20261102T000000Z") {
		t.Fatalf("Resolve = %v, %v; want StorageFailed naming the newest backup", m, err)
	}
	if len(skipped) != 0 {
		t.Fatalf("skipped %v on a transient error", skipped)
	}

	put(t, mem, "pg/20261103T000000Z/manifest.json", "{damaged")
	s2 := Repo{Store: mem, Prefix: "pg"}
	m, err = s2.Resolve(context.Background(), Selector{ID: "latest", OnSkip: func(id string, _ error) { skipped = append(skipped, id) }})
	if err != nil || m.ID != "20261102T000000Z" || strings.Join(skipped, ",") != "20261103T000000Z" {
		t.Fatalf("Resolve = %v, %v, skipped %v; want the newest readable backup and the damaged one reported", m, err, skipped)
	}
}

func putVerification(t *testing.T, s storage.Store, prefix, id, res string) {
	t.Helper()
	v := manifest.Verification{
		SchemaVersion: manifest.VerificationSchemaVersion, BackupID: id, Result: res,
		CheckedAt: time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), RestoreSeconds: map[string]float64{"app": 2},
	}
	if res == manifest.VerificationFailed {
		v.Reason, v.Message = "VerificationFailed", "table public.t: 9 rows restored, 10 recorded"
		v.Tables = manifest.TableCheck{Checked: 1, Mismatched: 1}
	}
	b, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, manifest.VerificationKey(prefix, id), string(b))
}

// latest-verified picks the newest backup whose verification succeeded:
// never an unverified newer one, never one whose verification failed, and
// it says which newer verified-looking backups it passed over and why.
func TestResolveLatestVerified(t *testing.T) {
	mem := &storage.MemStore{}
	for _, id := range []string{"20261101T000000Z", "20261102T000000Z", "20261103T000000Z", "20261104T000000Z", "20261105T000000Z"} {
		putManifest(t, mem, id)
	}
	putVerification(t, mem, "pg", "20261101T000000Z", manifest.VerificationSucceeded)
	putVerification(t, mem, "pg", "20261102T000000Z", manifest.VerificationSucceeded)
	putVerification(t, mem, "pg", "20261103T000000Z", manifest.VerificationFailed)
	put(t, mem, manifest.VerificationKey("pg", "20261104T000000Z"), "{garbage")
	// 20261105T000000Z: never verified.
	r := Repo{Store: mem, Prefix: "pg"}
	var skipped []string
	m, err := r.Resolve(context.Background(), Selector{ID: LatestVerified, OnSkip: func(id string, _ error) { skipped = append(skipped, id) }})
	if err != nil || m.ID != "20261102T000000Z" {
		t.Fatalf("Resolve(latest-verified) = %v, %v; want 20261102T000000Z", m, err)
	}
	if got := strings.Join(skipped, ","); got != "20261104T000000Z,20261103T000000Z" {
		t.Errorf("skipped %q, want the damaged and the failed record", got)
	}
	m, err = r.Resolve(context.Background(), Selector{ID: LatestVerified, At: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil || m.ID != "20261101T000000Z" {
		t.Fatalf("Resolve(latest-verified, at) = %v, %v", m, err)
	}

	empty := &storage.MemStore{}
	putManifest(t, empty, "20261101T000000Z")
	_, err = Repo{Store: empty, Prefix: "pg"}.Resolve(context.Background(), Selector{ID: LatestVerified})
	if result.ExitCode(err) != result.ExitIntegrity || !strings.Contains(err.Error(), "successful verification") {
		t.Fatalf("no verified backup: %v", err)
	}

	// A transient failure to read a record fails; it never falls back.
	f := storagetest.NewFaulty(mem)
	f.Inject(storagetest.Fault{Op: storagetest.OpGet, KeyContains: "20261102T000000Z/verification.json", Times: -1})
	if _, err := (Repo{Store: f, Prefix: "pg"}).Resolve(context.Background(), Selector{ID: LatestVerified}); result.ReasonOf(err) != result.ReasonStorageFailed {
		t.Fatalf("transient record read: %v, want StorageFailed", err)
	}

	bs, err := r.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := WriteTable(&table, bs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"20261105T000000Z": " -", "20261104T000000Z": "unreadable", "20261103T000000Z": "FAILED (VerificationFailed)", "20261102T000000Z": "yes 2026-11-10 (2s)"}
	for id, col := range want {
		if !strings.Contains(table.String(), id) || !lineOf(table.String(), id, col) {
			t.Errorf("list row of %s lacks %q:\n%s", id, col, table.String())
		}
	}
}

func lineOf(table, id, want string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, id+" ") {
			return strings.HasSuffix(strings.TrimRight(l, " "), want)
		}
	}
	return false
}
