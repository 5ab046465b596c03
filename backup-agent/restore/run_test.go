package restore

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// TestLatestSaysWhichDamagedBackupsItSkipped: when the newest backups'
// manifests are damaged, --backup latest and --at restore an older one,
// and the plan and the log name each skipped id and why.
func TestLatestSaysWhichDamagedBackupsItSkipped(t *testing.T) {
	fakeTools(t, "17.2")
	ctx := context.Background()
	store := &storage.MemStore{}
	good := putBackup(t, store, "20261128T030000Z", manifest.FormatCustom, []byte("PGDMP fake archive"))
	damaged := []string{"20261129T030000Z", "20261129T030000Z-1"}
	if err := store.PutIfAbsent(ctx, manifest.Key("team/pg", damaged[0]), []byte("{not json"), ""); err != nil {
		t.Fatal(err)
	}
	foreign := putBackup(t, store, damaged[1], manifest.FormatCustom, []byte("PGDMP"))
	// A manifest of another backup copied over this one's: it names the
	// wrong id.
	b, _ := foreign.Marshal()
	b = bytes.Replace(b, []byte(damaged[1]), []byte("20261129T040000Z"), 1)
	if err := store.Delete(ctx, manifest.Key("team/pg", damaged[1])); err != nil {
		t.Fatal(err)
	}
	if err := store.PutIfAbsent(ctx, manifest.Key("team/pg", damaged[1]), b, ""); err != nil {
		t.Fatal(err)
	}

	for _, sel := range []struct{ name, backup, at string }{
		{"latest", "latest", ""},
		{"--at", "", "2026-11-30T00:00:00Z"},
	} {
		t.Run(sel.name, func(t *testing.T) {
			var log capturedLog
			var out bytes.Buffer
			opts := testOptions("postgres://u@" + unreachable + "/restored?sslmode=disable")
			opts.Backup, opts.At, opts.DryRun = sel.backup, sel.at, true
			if err := Run(ctx, log.logger(), opts, Deps{Store: store}, &out); err != nil {
				t.Fatal(err)
			}
			plan := out.String()
			if !strings.Contains(plan, "backup:      "+good.ID) {
				t.Fatalf("the plan does not restore %s:\n%s", good.ID, plan)
			}
			for _, id := range damaged {
				if !strings.Contains(plan, "skipped:     "+id+" (manifest ") {
					t.Errorf("the plan does not say it skipped %s and why:\n%s", id, plan)
				}
				if !strings.Contains(log.String(), id) || !strings.Contains(log.String(), "damaged") {
					t.Errorf("the log does not warn about %s:\n%s", id, log.String())
				}
			}
		})
	}
}

// TestDryRunReportsToolAndFailureMode: the plan says which tool runs,
// whether its version passes, and what a failure would leave.
func TestDryRunReportsToolAndFailureMode(t *testing.T) {
	fakeTools(t, "16.4")
	store := &storage.MemStore{}
	putBackup(t, store, "20261129T030000Z", manifest.FormatCustom, []byte("PGDMP fake archive"))
	var out bytes.Buffer
	opts := testOptions("postgres://u@" + unreachable + "/restored?sslmode=disable")
	opts.DryRun = true
	if err := Run(context.Background(), (&capturedLog{}).logger(), opts, Deps{Store: store}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pg_restore 16.4 is older than pg_dump 17.2", "would be refused (exit 2)", "on failure:  the restore ran in one transaction and was rolled back"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, out.String())
		}
	}
}
