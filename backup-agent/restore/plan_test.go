package restore

import (
	"context"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pgbackup/pgbackup/backup-agent/crypt"
	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/pgdump"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

func testManifest(format manifest.Format, dbs ...string) *manifest.Manifest {
	m := &manifest.Manifest{ID: "20261129T030000Z", Format: format, Compression: "zstd:3", PgDumpVersion: "17.2"}
	for _, db := range dbs {
		m.Databases = append(m.Databases, manifest.Object{Name: db, Key: "pg/20261129T030000Z/db/" + db + ".dump.zst"})
	}
	return m
}

func TestBuildPlan(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := parseTarget("postgres://u@h/restored")
	if err != nil {
		t.Fatal(err)
	}
	encrypted := func(typ string) func(*manifest.Manifest) {
		return func(m *manifest.Manifest) {
			m.Encryption = &manifest.Encryption{Type: typ, Recipients: []string{"age1x"}}
		}
	}
	tests := []struct {
		name       string
		format     manifest.Format
		dbs        []string
		edit       func(*manifest.Manifest)
		opts       func(*Options)
		identities crypt.Identities
		// wantDB and wantDownload for a plan; wantErr and wantCode for a refusal.
		wantDB       string
		wantDownload bool
		wantAtomic   bool
		wantErr      string
		wantCode     int
	}{
		{name: "one database, streamed in one transaction", format: manifest.FormatCustom, dbs: []string{"app"}, wantDB: "app", wantAtomic: true},
		{name: "--database picks one of several", format: manifest.FormatCustom, dbs: []string{"app", "orders"}, opts: func(o *Options) { o.Database = "orders" }, wantDB: "orders", wantAtomic: true},
		{name: "several databases need --database", format: manifest.FormatCustom, dbs: []string{"app", "orders"}, wantErr: "choose one with --database", wantCode: result.ExitConfig},
		{name: "unknown --database", format: manifest.FormatCustom, dbs: []string{"app"}, opts: func(o *Options) { o.Database = "nope" }, wantErr: `no database "nope"; it holds app`, wantCode: result.ExitConfig},
		{name: "--jobs downloads first and is not one transaction", format: manifest.FormatCustom, dbs: []string{"app"}, opts: func(o *Options) { o.Jobs = 4 }, wantDB: "app", wantDownload: true},
		{name: "directory format downloads, still one transaction", format: manifest.FormatDirectory, dbs: []string{"app"}, wantDB: "app", wantDownload: true, wantAtomic: true},
		{name: "plain downloads and is never atomic", format: manifest.FormatPlain, dbs: []string{"app"}, wantDB: "app", wantDownload: true},
		{name: "plain refuses --clean", format: manifest.FormatPlain, dbs: []string{"app"}, opts: func(o *Options) { o.Clean = true }, wantErr: "--clean needs a custom-format backup", wantCode: result.ExitConfig},
		{name: "plain refuses --jobs", format: manifest.FormatPlain, dbs: []string{"app"}, opts: func(o *Options) { o.Jobs = 2 }, wantErr: "--jobs needs a custom-format backup", wantCode: result.ExitConfig},
		{name: "unknown format", format: "tar", dbs: []string{"app"}, wantErr: "format tar", wantCode: result.ExitConfig},
		{name: "bad compression", format: manifest.FormatCustom, dbs: []string{"app"}, edit: func(m *manifest.Manifest) { m.Compression = "lz4" }, wantErr: "manifest compression", wantCode: result.ExitIntegrity},
		{name: "encrypted without --identity", format: manifest.FormatCustom, dbs: []string{"app"}, edit: encrypted(crypt.Type), wantErr: "give the matching identity file with --identity", wantCode: result.ExitIntegrity},
		{name: "encrypted with --identity", format: manifest.FormatCustom, dbs: []string{"app"}, edit: encrypted(crypt.Type), identities: crypt.Identities{id}, wantDB: "app", wantAtomic: true},
		{name: "unknown encryption", format: manifest.FormatCustom, dbs: []string{"app"}, edit: encrypted("gpg"), identities: crypt.Identities{id}, wantErr: `encrypted with "gpg"`, wantCode: result.ExitIntegrity},
		{name: "--globals without globals", format: manifest.FormatCustom, dbs: []string{"app"}, edit: func(m *manifest.Manifest) { m.GlobalsSkipped = "permission denied" }, opts: func(o *Options) { o.Globals = true }, wantErr: "they were skipped: permission denied", wantCode: result.ExitConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest(tt.format, tt.dbs...)
			if tt.edit != nil {
				tt.edit(m)
			}
			opts := DefaultOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			p, err := buildPlan(m, opts, settings{target: tg, identities: tt.identities}, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ExitCode(err) != tt.wantCode {
					t.Fatalf("err %v (exit %d), want exit %d with %q", err, result.ExitCode(err), tt.wantCode, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.obj.Name != tt.wantDB || p.download != tt.wantDownload || p.atomic() != tt.wantAtomic || p.decoding.Encrypted != (tt.identities != nil) {
				t.Errorf("plan: database %q download %v atomic %v encrypted %v; want %q %v %v", p.obj.Name, p.download, p.atomic(), p.decoding.Encrypted, tt.wantDB, tt.wantDownload, tt.wantAtomic)
			}
		})
	}
}

// TestFailureSaysWhatItLeaves: the error of a failed restore says exactly
// what the target holds, and a plain restore never claims a rollback.
func TestFailureSaysWhatItLeaves(t *testing.T) {
	tg, err := parseTarget("postgres://u@h/restored")
	if err != nil {
		t.Fatal(err)
	}
	p := func(format manifest.Format, jobs int, single bool) plan {
		return plan{m: testManifest(format, "app"), target: tg, jobs: jobs, singleTransaction: single}
	}
	withGlobals := p(manifest.FormatCustom, 1, true)
	withGlobals.globals = true
	tests := []struct {
		name    string
		p       plan
		st      stage
		want    []string
		notWant string
	}{
		{"refused before anything", p(manifest.FormatCustom, 1, true), notStarted, nil, "restored"},
		{"download failed", p(manifest.FormatPlain, 1, true), prepared, []string{"nothing was restored", "restored is untouched"}, "globals"},
		{"globals failed", withGlobals, globalsStarted, []string{"nothing was restored", "roles and tablespaces already applied", "stay"}, ""},
		{"custom in one transaction", p(manifest.FormatCustom, 1, true), toolStarted, []string{"rolled back", "restored is as it was"}, "globals"},
		{"custom in one transaction after globals", withGlobals, toolStarted, []string{"rolled back", "restored is as it was", "globals stay"}, "part"},
		{"directory in one transaction", p(manifest.FormatDirectory, 1, true), toolStarted, []string{"rolled back"}, "part"},
		{"plain", p(manifest.FormatPlain, 1, true), toolStarted, []string{"restored may hold part of the backup", "not atomic", "BEGIN/COMMIT around large objects", "--create"}, "rolled back"},
		{"--jobs", p(manifest.FormatCustom, 4, true), toolStarted, []string{"may hold part of the backup", "--jobs 4"}, "rolled back"},
		{"--single-transaction=false", p(manifest.FormatCustom, 1, false), toolStarted, []string{"may hold part of the backup", "--single-transaction=false"}, "rolled back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.leftBehind(tt.st)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if tt.want == nil && got != "" {
				t.Errorf("got %q, want nothing added", got)
			}
			if tt.notWant != "" && strings.Contains(got, tt.notWant) {
				t.Errorf("%q should not say %q", got, tt.notWant)
			}
		})
	}
}

func TestToolArgs(t *testing.T) {
	const conn = "postgres://u@h/restored"
	tests := []struct {
		name  string
		p     plan
		input string
		want  string
	}{
		{"custom streamed", plan{m: testManifest(manifest.FormatCustom), jobs: 1, singleTransaction: true}, "-", "--exit-on-error --no-password -d " + conn + " --single-transaction"},
		{"custom --clean --jobs", plan{m: testManifest(manifest.FormatCustom), jobs: 4, singleTransaction: true, clean: true}, "/s/dump", "--exit-on-error --no-password -d " + conn + " --clean --if-exists --jobs 4 /s/dump"},
		{"plain", plan{m: testManifest(manifest.FormatPlain), jobs: 1, singleTransaction: true}, "/s/dump", "-X -q --no-password -v ON_ERROR_STOP=1 -d " + conn + " --single-transaction -f /s/dump"},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.p.toolArgs(conn, tt.input), " "); got != tt.want {
			t.Errorf("%s: %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestCheckToolVersion(t *testing.T) {
	tests := []struct {
		tool    string
		format  manifest.Format
		refused bool
	}{
		{"17.0", manifest.FormatCustom, false},
		{"18.1", manifest.FormatDirectory, false},
		{"16.9", manifest.FormatCustom, true},
		{"15.18", manifest.FormatDirectory, true},
		{"15.18", manifest.FormatPlain, false}, // psql is not checked
	}
	for _, tt := range tests {
		v, err := pgdump.ParseVersion("pg_restore (PostgreSQL) " + tt.tool)
		if err != nil {
			t.Fatal(err)
		}
		err = checkToolVersion(v, testManifest(tt.format, "app"))
		if tt.refused != (err != nil) {
			t.Errorf("pg_restore %s, %s backup of pg_dump 17.2: %v", tt.tool, tt.format, err)
		}
	}
}

// TestOlderPgRestoreIsRefusedBeforeTouchingTarget: pg_restore 15 and a
// backup of pg_dump 17 are refused up front (exit 2, naming both), before
// any connection to the target (which is unreachable here: reaching it
// would fail with exit 3).
func TestOlderPgRestoreIsRefusedBeforeTouchingTarget(t *testing.T) {
	fakeTools(t, "15.18")
	store := &storage.MemStore{}
	putBackup(t, store, "20261129T030000Z", manifest.FormatCustom, []byte("PGDMP fake archive"))
	opts := testOptions("postgres://u@" + unreachable + "/restored?sslmode=disable")
	opts.Create = true
	var log capturedLog
	began := time.Now()
	err := Run(context.Background(), log.logger(), opts, Deps{Store: store}, nil)
	if result.ExitCode(err) != result.ExitConfig || !strings.Contains(err.Error(), "pg_restore 15.18") || !strings.Contains(err.Error(), "pg_dump 17.2") {
		t.Fatalf("Run: %v (exit %d), want exit 2 naming pg_restore 15.18 and pg_dump 17.2", err, result.ExitCode(err))
	}
	if strings.Contains(log.String(), "Connection to PostgreSQL failed") || time.Since(began) > 5*time.Second {
		t.Errorf("the target was contacted before the refusal:\n%s", log.String())
	}
}

func TestDropStatement(t *testing.T) {
	if got := dropStatement(`my "db"`, 17); got != `DROP DATABASE IF EXISTS "my ""db""" WITH (FORCE)` {
		t.Errorf("PostgreSQL 17: %s", got)
	}
	if got := dropStatement("db", 13); !strings.HasSuffix(got, " WITH (FORCE)") {
		t.Errorf("PostgreSQL 13: %s", got)
	}
	if got := dropStatement("db", 12); got != `DROP DATABASE IF EXISTS "db"` {
		t.Errorf("PostgreSQL 12 has no FORCE: %s", got)
	}
}

func TestWithoutTemplate(t *testing.T) {
	got := withoutTemplate([]string{"public.orders", "public.site_defaults", "shop.items"}, []string{"public.site_defaults", "public.other"})
	if strings.Join(got, ",") != "public.orders,shop.items" {
		t.Errorf("got %v", got)
	}
	if got := withoutTemplate([]string{"public.site_defaults"}, []string{"public.site_defaults"}); len(got) != 0 {
		t.Errorf("a relation copied from template1 counts: %v", got)
	}
}

// A dry run of a narrowed dump says what it was narrowed by; a whole
// dump's plan says nothing of it.
func TestWritePlanSaysWhenNarrowed(t *testing.T) {
	tg, err := parseTarget("postgres://u@h/restored")
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{ID: "20261207T030000Z", Format: manifest.FormatCustom, Compression: "zstd:1"}
	for _, tc := range []struct {
		opts []string
		want string
	}{
		{opts: []string{"--strict-names", "--exclude-table-data=public.events"}, want: "  narrowed:    dumped with --strict-names --exclude-table-data=public.events\n"},
		{opts: nil, want: ""},
	} {
		var b strings.Builder
		p := plan{m: m, obj: manifest.Object{Name: "app", Key: "k", PgDumpOptions: tc.opts}, target: tg}
		if err := writePlan(&b, p, found{}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "narrowed:"); got != (tc.want != "") || (tc.want != "" && !strings.Contains(b.String(), tc.want)) {
			t.Errorf("plan for %q:\n%s", tc.opts, b.String())
		}
	}
}
