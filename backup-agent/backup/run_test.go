package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/pgbackup/pgbackup/backup-agent/compress"
	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgclient"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// fakePgDump installs a pg_dump that reports version 17.2 and prints a
// dump of $PGDATABASE. FAKE_FAIL_DB makes it fail half-way through that
// database; FAKE_SLEEP makes it stall after its first output.
func fakePgDump(t *testing.T, version string) {
	t.Helper()
	dir := t.TempDir()
	// Like pg_dump: custom format starts with PGDMP, plain ends with its
	// "dump complete" comment, directory format writes --file's toc.dat.
	// FAKE_EMPTY: exits 0 having written nothing; FAKE_SHORT: exits 0
	// without the end of the dump; FAKE_DELAY: sleeps before any output.
	script := `#!/bin/sh
if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) ` + version + `"; exit 0; fi
if [ -n "$FAKE_DELAY" ]; then sleep "$FAKE_DELAY"; fi
if [ -n "$FAKE_EMPTY" ]; then exit 0; fi
file=""; prev=""
for a in "$@"; do if [ "$prev" = "--file" ]; then file="$a"; fi; prev="$a"; done
if [ -n "$file" ]; then mkdir -p "$file" && echo "toc of $PGDATABASE" > "$file/toc.dat" && echo "data" > "$file/3001.dat"; exit 0; fi
case " $* " in *" --format=custom "*) printf 'PGDMP' ;; esac
echo "-- dump of $PGDATABASE with $*"
i=0
while [ $i -lt 2000 ]; do echo "INSERT INTO t VALUES ($i, '$PGDATABASE');"; i=$((i+1)); done
if [ "$PGDATABASE" = "$FAKE_FAIL_DB" ]; then echo "pg_dump: error: Dumping the contents of table t failed: server closed the connection" >&2; exit 1; fi
if [ -n "$FAKE_SLEEP" ]; then exec sleep "$FAKE_SLEEP"; fi
if [ -n "$FAKE_SHORT" ]; then exit 0; fi
echo "-- end of $PGDATABASE"
printf -- '--\n-- PostgreSQL database dump complete\n--\n\n'
`
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// pg_dumpall --globals-only: refused like a non-superuser's when
	// FAKE_DUMPALL_DENIED is set and --no-role-passwords is not given.
	dumpall := `#!/bin/sh
if [ "$1" = "--version" ]; then echo "pg_dumpall (PostgreSQL) ` + version + `"; exit 0; fi
case " $* " in *" --no-role-passwords "*) nopw=1 ;; esac
if [ -n "$FAKE_DUMPALL_DENIED" ] && [ -z "$nopw" ]; then echo "pg_dumpall: error: query failed: ERROR:  permission denied for table pg_authid" >&2; exit 1; fi
echo "-- globals with $*"
echo "CREATE ROLE app;"
printf -- '--\n-- PostgreSQL database cluster dump complete\n--\n\n'
`
	if err := os.WriteFile(filepath.Join(dir, "pg_dumpall"), []byte(dumpall), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(pgdump.BinDirEnv, dir)
}

type fakeCatalog struct {
	server pgclient.ServerVersion
	dbs    []pgclient.Database
	super  bool
	err    error
}

func (f fakeCatalog) Superuser(context.Context) (bool, error) { return f.super, nil }

func (f fakeCatalog) Server(context.Context) (pgclient.ServerVersion, error) { return f.server, nil }
func (f fakeCatalog) Databases(context.Context) ([]pgclient.Database, error) {
	return f.dbs, nil
}
func (f fakeCatalog) Close(context.Context) error { return nil }

func deps(store storage.Store, cat fakeCatalog) Deps {
	return Deps{
		Store: store,
		OpenCatalog: func(context.Context, logr.Logger, int) (Catalog, error) {
			if cat.err != nil {
				return nil, cat.err
			}
			return cat, nil
		},
		Now: func() time.Time { return time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC) },
	}
}

var pg17 = fakeCatalog{
	server: pgclient.ServerVersion{Version: "17.2", Num: 170002},
	dbs:    []pgclient.Database{{Name: "app", Size: 1 << 20}, {Name: "orders", Size: 1 << 20}, {Name: "postgres", Size: 1 << 10}},
}

func options(dbs ...string) Options {
	o := DefaultOptions()
	o.Destination.URL = "s3://bucket/team/pg"
	o.Databases = dbs
	return o
}

// dumpTrailer is how the fake pg_dump's output ends.
const dumpTrailer = "--\n-- PostgreSQL database dump complete\n--\n\n"

func newStore() *storage.MemStore { return &storage.MemStore{PartSize: 64 << 10, Concurrency: 2} }

func keys(t *testing.T, s storage.Store) []string {
	t.Helper()
	var out []string
	if err := s.List(context.Background(), "", func(o storage.Object) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func noOpenUploads(t *testing.T, s storage.Store) {
	t.Helper()
	ups, err := s.Uploads(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 0 {
		t.Fatalf("open multipart uploads left: %+v", ups)
	}
}

func readAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunSuccess(t *testing.T) {
	for _, tt := range []struct {
		format, compression, ext string
	}{
		{"custom", "zstd:3", ".dump.zst"},
		{"plain", "gzip:1", ".sql.gz"},
		{"custom", "none", ".dump"},
	} {
		t.Run(tt.format+"-"+tt.compression, func(t *testing.T) {
			fakePgDump(t, "17.2")
			store := newStore()
			opts := options("orders", "app")
			opts.Format, opts.Compression = tt.format, tt.compression
			res, err := Run(context.Background(), testr.New(t), opts, deps(store, pg17))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			id := "20261129T030000Z"
			if res.Result != result.Succeeded || res.BackupID != id || strings.Join(res.Databases, ",") != "orders,app" {
				t.Fatalf("result %+v", res)
			}
			m, err := manifest.Unmarshal(readAll(t, store, "team/pg/"+id+"/manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != manifest.Format(tt.format) || m.Compression != tt.compression || m.PgDumpVersion != "17.2" || m.Server.VersionNum != 170002 {
				t.Errorf("manifest %+v", m)
			}
			spec, _ := compress.Parse(tt.compression)
			var total int64
			for _, db := range []string{"orders", "app"} {
				obj, ok := m.Database(db)
				if !ok || obj.Key != "team/pg/"+id+"/db/"+db+tt.ext {
					t.Fatalf("manifest entry for %s: %+v", db, obj)
				}
				stored := readAll(t, store, obj.Key)
				sum := sha256.Sum256(stored)
				if obj.SHA256 != hex.EncodeToString(sum[:]) || obj.Size != int64(len(stored)) {
					t.Errorf("%s: manifest sha256/size do not match the stored bytes", db)
				}
				total += obj.Size
				zr, err := spec.NewReader(bytes.NewReader(stored))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				text := strings.TrimPrefix(string(plain), "PGDMP")
				if !strings.HasPrefix(text, "-- dump of "+db+" with --no-password --lock-wait-timeout=300000ms --format="+tt.format) || !strings.HasSuffix(text, "-- end of "+db+"\n"+dumpTrailer) {
					t.Errorf("%s: stored dump is not pg_dump's whole output: %.80q ... %q", db, text, text[len(text)-20:])
				}
				if tt.format == "custom" && !strings.Contains(text, "--compress=0") {
					t.Errorf("custom format must run pg_dump with --compress=0: %.80q", text)
				}
			}
			if res.Bytes != total {
				t.Errorf("result bytes %d, want %d", res.Bytes, total)
			}
			noOpenUploads(t, store)
		})
	}
}

// standby is cat as a hot standby with the given settings.
func standby(cat fakeCatalog, feedback bool, delay string) fakeCatalog {
	cat.server.Standby, cat.server.HotStandbyFeedback, cat.server.MaxStandbyStreamingDelay = true, feedback, delay
	return cat
}

// A backup read from a standby says so in its manifest, and warns when
// recovery may cancel its long COPYs.
func TestRunFromAStandby(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cat      fakeCatalog
		wantWarn bool
	}{
		{"without hot_standby_feedback", standby(pg17, false, "30s"), true},
		{"with hot_standby_feedback", standby(pg17, true, "30s"), false},
		{"recovery waits for queries", standby(pg17, false, "-1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePgDump(t, "17.2")
			store := newStore()
			res, err := Run(context.Background(), testr.New(t), options("app"), deps(store, tc.cat))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			warned := slices.ContainsFunc(res.Warnings, func(w string) bool {
				return strings.Contains(w, "without hot_standby_feedback") && strings.Contains(w, "max_standby_streaming_delay (30s)")
			})
			if warned != tc.wantWarn {
				t.Errorf("warnings %q: want the hot_standby_feedback warning: %v", res.Warnings, tc.wantWarn)
			}
			m, err := manifest.Unmarshal(readAll(t, store, "team/pg/"+res.BackupID+"/manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !m.Server.Standby {
				t.Errorf("manifest server %+v: want standby", m.Server)
			}
		})
	}
}

func TestRunDumpFailsMidStream(t *testing.T) {
	fakePgDump(t, "17.2")
	t.Setenv("FAKE_FAIL_DB", "orders")
	store := newStore()
	res, err := Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
	if result.ExitCode(err) != result.ExitDumpRestore || res.Reason != result.ReasonDumpFailed {
		t.Fatalf("err %v, result %+v: want DumpFailed", err, res)
	}
	if !strings.Contains(res.Message, "server closed the connection") || !strings.Contains(res.Message, "database orders") {
		t.Errorf("message %q should carry pg_dump's error and the database", res.Message)
	}
	if k := keys(t, store); len(k) != 0 {
		t.Fatalf("a failed run left objects: %v", k)
	}
	noOpenUploads(t, store)
}

func TestRunRefusals(t *testing.T) {
	tests := []struct {
		name    string
		version string
		cat     fakeCatalog
		opts    Options
		code    int
		message string
	}{
		{"old pg_dump", "15.18", pg17, options(), 4, "pg_dump 15.18 is older than the server (PostgreSQL 17.2)"},
		{"missing databases", "17.2", pg17, options("app", "nope", "gone"), 2, `["nope" "gone"]`},
		{"auth", "17.2", fakeCatalog{err: result.Errorf(result.ReasonAuthFailed, "authentication refused")}, options(), 3, "authentication refused"},
		{"extra option newer than pg_dump", "17.2", pg17, func() Options { o := options(); o.PgDumpExtraArgs = []string{"--no-policies"}; return o }(), 2, "--no-policies needs pg_dump 18 or newer, and this server is dumped with pg_dump 17"},
		{"everything excluded", "17.2", pg17, func() Options { o := options(); o.ExcludeDatabases = []string{"app", "orders", "postgres"}; return o }(), 2, "--exclude-databases leaves none"},
		{"serializable-deferrable on a standby", "17.2", standby(pg17, false, "30s"), func() Options { o := options(); o.PgDumpExtraArgs = []string{"--serializable-deferrable"}; return o }(), 2, "cannot run on a standby"},
		{"bad options", "17.2", pg17, Options{Destination: storage.Destination{URL: "s3://b"}, Format: "tar", Compression: "zstd:99"}, 2, `--format "tar"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakePgDump(t, tt.version)
			store := newStore()
			res, err := Run(context.Background(), testr.New(t), tt.opts, deps(store, tt.cat))
			if got := result.ExitCode(err); got != tt.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tt.code)
			}
			if !strings.Contains(res.Message, tt.message) || res.Result != result.Failed {
				t.Errorf("result %+v, want message containing %q", res, tt.message)
			}
			if k := keys(t, store); len(k) != 0 {
				t.Fatalf("a refused run stored objects: %v", k)
			}
		})
	}
}

func TestRunIDTaken(t *testing.T) {
	fakePgDump(t, "17.2")
	store := newStore()
	// A leftover of a failed run under the same second takes the id.
	if _, err := store.Upload(context.Background(), "team/pg/20261129T030000Z/app.dump.zst", strings.NewReader("junk")); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), testr.New(t), options("app"), deps(store, pg17))
	if err != nil {
		t.Fatal(err)
	}
	if res.BackupID != "20261129T030000Z-1" {
		t.Fatalf("backup id %q, want the -1 suffix", res.BackupID)
	}
	if _, err := store.Stat(context.Background(), "team/pg/20261129T030000Z-1/manifest.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stat(context.Background(), "team/pg/20261129T030000Z/claim.json"); err == nil {
		t.Fatal("the run left its claim in a directory that was not its own")
	}
}

func TestRunInterrupted(t *testing.T) {
	fakePgDump(t, "17.2")
	t.Setenv("FAKE_SLEEP", "30")
	store := newStore()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	began := time.Now()
	res, err := Run(ctx, testr.New(t), options("app"), deps(store, pg17))
	if result.ExitCode(err) != result.ExitInterrupted || res.Reason != result.ReasonInterrupted {
		t.Fatalf("err %v, result %+v: want Interrupted", err, res)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("interrupt took %v", d)
	}
	if k := keys(t, store); len(k) != 0 {
		t.Fatalf("an interrupted run left objects: %v", k)
	}
	noOpenUploads(t, store)
}

func TestRunStorageCheckFirst(t *testing.T) {
	fakePgDump(t, "17.2")
	store := &failingStore{MemStore: newStore(), checkErr: result.Errorf(result.ReasonStorageFailed, "bucket \"bucket\" does not exist")}
	_, err := Run(context.Background(), testr.New(t), options("app"), deps(store, pg17))
	if result.ExitCode(err) != result.ExitStorage {
		t.Fatalf("err %v, want StorageFailed", err)
	}
}

// A manifest PUT that fails may still have landed (or land late): the run
// fails, but deletes none of the data such a manifest would point at;
// retention sweeps it after a day if no manifest appears.
func TestRunManifestFailureKeepsDataForTheSweep(t *testing.T) {
	fakePgDump(t, "17.2")
	store := &failingStore{MemStore: newStore(), putErr: result.Errorf(result.ReasonStorageFailed, "access denied"), putOnly: "manifest.json"}
	res, err := Run(context.Background(), testr.New(t), options("app", "orders"), deps(store, pg17))
	if result.ExitCode(err) != result.ExitStorage {
		t.Fatalf("err %v, want StorageFailed", err)
	}
	want := "team/pg/" + res.BackupID + "/claim.json team/pg/" + res.BackupID + "/db/app.dump.zst team/pg/" + res.BackupID + "/db/orders.dump.zst"
	if k := strings.Join(keys(t, store), " "); k != want {
		t.Fatalf("objects after a failed manifest write:\n got %s\nwant %s", k, want)
	}
}

type failingStore struct {
	*storage.MemStore
	checkErr, putErr error
	// putOnly restricts putErr to keys ending in it.
	putOnly string
}

func (f *failingStore) Check(ctx context.Context) error {
	if f.checkErr != nil {
		return f.checkErr
	}
	return f.MemStore.Check(ctx)
}

func (f *failingStore) PutIfAbsent(ctx context.Context, key string, body []byte, ct string) error {
	if f.putErr != nil && strings.HasSuffix(key, f.putOnly) {
		return f.putErr
	}
	return f.MemStore.PutIfAbsent(ctx, key, body, ct)
}

func TestRunAppliesRetentionOnlyAfterSuccess(t *testing.T) {
	fakePgDump(t, "17.2")
	store := newStore()
	clock := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	d := deps(store, pg17)
	d.Now = func() time.Time { return clock }
	store.Now = d.Now
	opts := options("app")
	opts.Retention.KeepLast = 2
	for range 3 {
		if _, err := Run(context.Background(), testr.New(t), opts, d); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Hour)
	}
	completeIDs := func() []string {
		var ids []string
		for _, k := range keys(t, store) {
			if strings.HasSuffix(k, "/manifest.json") {
				ids = append(ids, strings.Split(k, "/")[2])
			}
		}
		return ids
	}
	if got := strings.Join(completeIDs(), " "); got != "20261129T040000Z 20261129T050000Z" {
		t.Fatalf("after three runs with keep-last 2: %s", got)
	}

	// A failed run deletes nothing, however strict the policy.
	t.Setenv("FAKE_FAIL_DB", "app")
	opts.Retention.KeepLast = 1
	if _, err := Run(context.Background(), testr.New(t), opts, d); err == nil {
		t.Fatal("want a failure")
	}
	if got := strings.Join(completeIDs(), " "); got != "20261129T040000Z 20261129T050000Z" {
		t.Fatalf("a failed run changed the backups: %s", got)
	}
}

func TestRunEncrypted(t *testing.T) {
	fakePgDump(t, "17.2")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newStore()
	opts := options("app")
	opts.AgeRecipients = []string{id.Recipient().String()}
	res, err := Run(context.Background(), testr.New(t), opts, deps(store, pg17))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Unmarshal(readAll(t, store, "team/pg/"+res.BackupID+"/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Encryption == nil || m.Encryption.Type != "age" || len(m.Encryption.Recipients) != 1 || m.Encryption.Recipients[0] != id.Recipient().String() {
		t.Fatalf("manifest encryption %+v", m.Encryption)
	}
	obj := m.Databases[0]
	if !strings.HasSuffix(obj.Key, "/app.dump.zst.age") {
		t.Fatalf("key %s, want .dump.zst.age", obj.Key)
	}
	stored := readAll(t, store, obj.Key)
	if bytes.Contains(stored, []byte("INSERT INTO")) {
		t.Fatal("the stored object holds plaintext")
	}
	ids, err := crypt.LoadIdentities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := ids.NewReader(bytes.NewReader(stored), obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := compress.Default.NewReader(dec)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !strings.HasSuffix(string(plain), "-- end of app\n"+dumpTrailer) {
		t.Fatalf("decrypted dump: %v, %.60q", err, plain)
	}
}

func TestRunGlobals(t *testing.T) {
	superPG := pg17
	superPG.super = true
	tests := []struct {
		name        string
		cat         fakeCatalog
		mode        string
		noPasswords bool
		denied      bool
		wantCode    int
		wantGlobals string // substring of the stored globals; "" = none stored
		wantSkipped string // substring of the skip reason
	}{
		{name: "auto, superuser", cat: superPG, mode: "auto", wantGlobals: "CREATE ROLE app"},
		{name: "auto, not superuser: skipped with a reason", cat: pg17, mode: "auto", wantSkipped: "not a superuser"},
		{name: "auto, not superuser, no role passwords", cat: pg17, mode: "auto", noPasswords: true, denied: true, wantGlobals: "--no-role-passwords"},
		{name: "auto, refused anyway: skipped", cat: superPG, mode: "auto", denied: true, wantSkipped: "permission denied"},
		{name: "true, refused: the run fails", cat: pg17, mode: "true", denied: true, wantCode: 4},
		{name: "false", cat: superPG, mode: "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakePgDump(t, "17.2")
			if tt.denied {
				t.Setenv("FAKE_DUMPALL_DENIED", "1")
			}
			store := newStore()
			opts := options("app")
			opts.Globals, opts.NoRolePasswords = tt.mode, tt.noPasswords
			res, err := Run(context.Background(), testr.New(t), opts, deps(store, tt.cat))
			if got := result.ExitCode(err); got != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d", got, err, tt.wantCode)
			}
			if tt.wantCode != 0 {
				if k := keys(t, store); len(k) != 0 {
					t.Fatalf("failed run left %v", k)
				}
				return
			}
			m, err := manifest.Unmarshal(readAll(t, store, "team/pg/"+res.BackupID+"/manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantGlobals != "":
				if m.Globals == nil || !strings.HasSuffix(m.Globals.Key, "/globals.sql.zst") {
					t.Fatalf("globals %+v", m.Globals)
				}
				zr, _ := compress.Default.NewReader(bytes.NewReader(readAll(t, store, m.Globals.Key)))
				b, _ := io.ReadAll(zr)
				if !strings.Contains(string(b), tt.wantGlobals) {
					t.Fatalf("globals dump %q lacks %q", b, tt.wantGlobals)
				}
			case m.Globals != nil:
				t.Fatalf("globals stored: %+v", m.Globals)
			}
			if !strings.Contains(m.GlobalsSkipped, tt.wantSkipped) || (tt.wantSkipped == "") != (m.GlobalsSkipped == "") {
				t.Fatalf("globalsSkipped %q, want %q", m.GlobalsSkipped, tt.wantSkipped)
			}
			if tt.wantSkipped != "" && (len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], tt.wantSkipped)) {
				t.Fatalf("result warnings %v: a skip must be reported", res.Warnings)
			}
		})
	}
}

func TestRunKeepLocal(t *testing.T) {
	fakePgDump(t, "17.2")
	store := newStore()
	spoolDir := t.TempDir()
	clock := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	d := deps(store, pg17)
	d.Now = func() time.Time { return clock }
	opts := options("app", "orders")
	opts.SpoolDir, opts.KeepLocal = spoolDir, 2
	var ids []string
	for range 3 {
		res, err := Run(context.Background(), testr.New(t), opts, d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.BackupID)
		clock = clock.Add(time.Hour)
	}
	local := func() []string {
		entries, _ := os.ReadDir(filepath.Join(spoolDir, "local"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	if got := strings.Join(local(), " "); got != ids[1]+" "+ids[2] {
		t.Fatalf("local copies %q, want the two newest %v", got, ids[1:])
	}
	// The local copies are the stored objects, byte for byte.
	m, err := manifest.Unmarshal(readAll(t, store, "team/pg/"+ids[2]+"/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range m.Databases {
		b, err := os.ReadFile(filepath.Join(spoolDir, "local", ids[2], "db", filepath.Base(obj.Key)))
		if err != nil || !bytes.Equal(b, readAll(t, store, obj.Key)) {
			t.Fatalf("local copy of %s: %v", obj.Key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(spoolDir, "local", ids[2], "manifest.json")); err != nil {
		t.Fatal("a complete local copy has its manifest")
	}

	// A failed run leaves no local copy behind.
	t.Setenv("FAKE_FAIL_DB", "orders")
	res, err := Run(context.Background(), testr.New(t), opts, d)
	if err == nil {
		t.Fatal("want a failure")
	}
	if slices.Contains(local(), res.BackupID) {
		t.Fatalf("the failed run %s left a local copy", res.BackupID)
	}
}
