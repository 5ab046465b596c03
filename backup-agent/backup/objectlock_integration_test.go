package backup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// lockEnv is PostgreSQL and a versitygw that keeps object versions.
func lockEnv(t *testing.T) *env {
	t.Helper()
	nw := fixtures.NewNetwork(t)
	st := &fixtures.Stack{Network: nw}
	st.PG = fixtures.StartPostgres(t, 17, fixtures.WithPostgresNetwork(nw, "pg"), fixtures.WithInitSQL(seedSQL))
	st.S3 = fixtures.StartS3(t, fixtures.WithS3Network(nw, "s3"), fixtures.WithS3Versioning())
	return &env{st}
}

// versionsOf counts the versions and delete markers of the keys under
// prefix.
func (e *env) versionsOf(t *testing.T, prefix string) (versions, markers int) {
	t.Helper()
	out, err := e.S3.Client().ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(e.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions), len(out.DeleteMarkers)
}

func (e *env) prune(t *testing.T, args ...string) fixtures.AgentRun {
	t.Helper()
	return fixtures.RunAgent(t, fixtures.Agent{
		Args: append([]string{"prune", "--destination", "s3://" + e.Bucket + "/pg"}, args...),
		Env:  e.agentEnv(), Network: e.Network,
	})
}

// Object Lock and versioned buckets. Backups succeed into a bucket with
// a default retention; retention meets the lock as a warning, keeps the
// locked backup whole, and never fails the run; in a versioned bucket a
// deleted backup stays as noncurrent versions until prune
// --noncurrent-versions removes them, which it does not for locked ones
// and never brings a deleted backup back.
func TestBackupIntoLockedAndVersionedBuckets(t *testing.T) {
	e := lockEnv(t)
	succeeded := func(t *testing.T, r fixtures.AgentRun) {
		t.Helper()
		if r.ExitCode != 0 || r.Result == nil || r.Result.Result != result.Succeeded {
			t.Fatalf("backup failed: exit %d result %+v\n%s", r.ExitCode, r.Result, r.Output)
		}
	}
	lockWarning := func(r fixtures.AgentRun) bool {
		return slices.ContainsFunc(r.Result.Warnings, func(w string) bool { return strings.Contains(w, "under S3 Object Lock") })
	}
	twoBackups := func(t *testing.T) (first string) {
		t.Helper()
		r := e.backup(t, nil, "--databases", "app")
		succeeded(t, r)
		time.Sleep(1100 * time.Millisecond) // a later id
		r2 := e.backup(t, nil, "--databases", "app", "--keep-last", "1")
		succeeded(t, r2)
		return r.Result.BackupID
	}

	t.Run("locked, without versioning: retention keeps the locked backup, with a warning", func(t *testing.T) {
		// A server that keeps no versions: there versitygw's locked bucket
		// refuses deletes outright (AWS has no such bucket: Object Lock
		// implies versioning there).
		plain := newEnv(t, 17, seedSQL)
		plain.Bucket = plain.S3.CreateLockedBucket(t, types.ObjectLockRetentionModeCompliance, 1)
		r := plain.backup(t, nil, "--databases", "app")
		succeeded(t, r)
		time.Sleep(1100 * time.Millisecond)
		r2 := plain.backup(t, nil, "--databases", "app", "--keep-last", "1")
		succeeded(t, r2)
		if !lockWarning(r2) {
			t.Errorf("no Object Lock warning: %q", r2.Result.Warnings)
		}
		if m := plain.manifests(t); len(m) != 2 {
			t.Errorf("manifests %q: want both backups, the locked one whole", m)
		}
	})

	t.Run("locked and versioned: deletes hide, prune keeps locked versions and resurrects nothing", func(t *testing.T) {
		e.Bucket = e.S3.CreateLockedBucket(t, types.ObjectLockRetentionModeCompliance, 1)
		e.S3.EnableVersioning(t, e.Bucket)
		first := twoBackups(t)
		if m := e.manifests(t); len(m) != 1 {
			t.Fatalf("manifests %q: want the first backup hidden by delete markers", m)
		}
		p := e.prune(t, "--noncurrent-versions")
		if p.ExitCode != 0 || !strings.Contains(p.Output, "locked  pg/"+first+"/") {
			t.Fatalf("prune exit %d, want 0 listing the locked versions:\n%s", p.ExitCode, p.Output)
		}
		if v, _ := e.versionsOf(t, "pg/"+first+"/"); v == 0 {
			t.Error("prune deleted locked versions")
		}
		if m := e.manifests(t); len(m) != 1 {
			t.Errorf("manifests %q after prune: a deleted backup came back", m)
		}
	})

	t.Run("versioned, not locked: prune removes every version of deleted backups", func(t *testing.T) {
		e.Bucket = e.S3.CreateBucket(t)
		e.S3.EnableVersioning(t, e.Bucket)
		first := twoBackups(t)
		if v, m := e.versionsOf(t, "pg/"+first+"/"); v == 0 || m == 0 {
			t.Fatalf("the deleted backup has %d versions and %d delete markers; want both", v, m)
		}
		dry := e.prune(t, "--noncurrent-versions", "--dry-run")
		if dry.ExitCode != 0 || !strings.Contains(dry.Output, "would delete") {
			t.Fatalf("dry run exit %d:\n%s", dry.ExitCode, dry.Output)
		}
		if v, _ := e.versionsOf(t, "pg/"+first+"/"); v == 0 {
			t.Fatal("a dry run deleted versions")
		}
		p := e.prune(t, "--noncurrent-versions")
		if p.ExitCode != 0 {
			t.Fatalf("prune exit %d:\n%s", p.ExitCode, p.Output)
		}
		if v, m := e.versionsOf(t, "pg/"+first+"/"); v != 0 || m != 0 {
			t.Errorf("after prune the deleted backup has %d versions and %d delete markers, want none", v, m)
		}
		if m := e.manifests(t); len(m) != 1 {
			t.Errorf("manifests %q: the kept backup must stay", m)
		}
	})
}
