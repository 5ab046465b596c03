package verify

import (
	"context"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
)

func record1(id, res string, at time.Time) manifest.Verification {
	v := manifest.Verification{SchemaVersion: manifest.VerificationSchemaVersion, BackupID: id, Result: res, CheckedAt: at,
		RestoreSeconds: map[string]float64{"app": 1}, AgentVersion: "test"}
	if res == manifest.VerificationFailed {
		v.Reason = "VerificationFailed"
	}
	return v
}

// The verification record is written once. An unclear answer (lost, a
// timeout, a retry answered 412) is resolved by reading the record back:
// its own bytes mean it was written; another run's record is left as it
// is and reported as not written by this run.
func TestRecordIsWrittenOnceAndResolvesLostAnswers(t *testing.T) {
	const id = "20261202T040000Z"
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	ctx := context.Background()
	tests := []struct {
		name   string
		before *manifest.Verification
		fault  *storagetest.Fault
		want   bool
		result string
	}{
		{"first write", nil, nil, true, manifest.VerificationSucceeded},
		{"answer lost", nil, &storagetest.Fault{Op: storagetest.OpPutIfAbsent, Times: 1, Mode: storagetest.LoseAnswer}, true, manifest.VerificationSucceeded},
		{"another run's record", ptr(record1(id, manifest.VerificationFailed, at.Add(-time.Hour))), nil, false, manifest.VerificationFailed},
		{"put failed before it reached the store", nil, &storagetest.Fault{Op: storagetest.OpPutIfAbsent, Times: 1}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := &storage.MemStore{}
			if tt.before != nil {
				b, _ := tt.before.Marshal()
				if err := mem.PutIfAbsent(ctx, manifest.VerificationKey("pg", id), b, "application/json"); err != nil {
					t.Fatal(err)
				}
			}
			f := storagetest.NewFaulty(mem)
			if tt.fault != nil {
				f.Inject(*tt.fault)
			}
			rp := repo.Repo{Store: f, Prefix: "pg"}
			got, err := record(ctx, rp, record1(id, manifest.VerificationSucceeded, at))
			if got != tt.want {
				t.Fatalf("record = %v (%v), want %v", got, err, tt.want)
			}
			if tt.result == "" {
				if err == nil {
					t.Fatal("a failed write reported no error")
				}
				return
			}
			stored, rerr := repo.Repo{Store: mem, Prefix: "pg"}.Verification(ctx, id)
			if rerr != nil || stored == nil || stored.Result != tt.result {
				t.Fatalf("stored %+v (%v), want result %s", stored, rerr, tt.result)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
