package storage_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// Object Lock on versitygw, in both of the bucket layouts it allows: with
// versioning (as on AWS, where Object Lock implies it) and without. The
// commit protocol's writes succeed in both; a conditional put on a taken
// key is ErrExists in both (without versioning versitygw refuses the
// write as locked before it looks at If-None-Match); a delete makes a
// delete marker with versioning and is refused as ErrObjectLocked, not as
// bad credentials, without.
func TestS3StoreObjectLock(t *testing.T) {
	skipShort(t)
	for _, versioned := range []bool{true, false} {
		name := "without versioning"
		var opts []fixtures.S3Option
		if versioned {
			name = "with versioning"
			opts = append(opts, fixtures.WithS3Versioning())
		}
		t.Run(name, func(t *testing.T) {
			srv := fixtures.StartS3(t, opts...)
			bucket := srv.CreateLockedBucket(t, types.ObjectLockRetentionModeCompliance, 1)
			s := newS3Store(t, srv, bucket, storage.Config{PartSize: storage.MinPartSize})
			ctx := t.Context()
			if err := s.PutIfAbsent(ctx, "p/1/claim.json", []byte(`{}`), "application/json"); err != nil {
				t.Fatalf("PutIfAbsent: %v", err)
			}
			if err := s.PutIfAbsent(ctx, "p/1/claim.json", []byte(`{"other":1}`), "application/json"); !errors.Is(err, storage.ErrExists) {
				t.Fatalf("PutIfAbsent on a taken key: %v, want ErrExists", err)
			}
			small, large := randomData(t, 1000), randomData(t, 12<<20)
			if _, err := s.Upload(ctx, "p/1/db/small.dump", bytes.NewReader(small)); err != nil {
				t.Fatalf("small upload: %v", err)
			}
			if _, err := s.Upload(ctx, "p/1/db/large.dump", bytes.NewReader(large)); err != nil {
				t.Fatalf("multipart upload: %v", err)
			}
			err := s.Delete(ctx, "p/1/db/small.dump", "p/1/claim.json")
			var keys []string
			if lerr := s.List(ctx, "p/", func(o storage.Object) error { keys = append(keys, o.Key); return nil }); lerr != nil {
				t.Fatal(lerr)
			}
			if versioned {
				if err != nil || len(keys) != 1 {
					t.Fatalf("delete in a versioned bucket: %v, left %q; want delete markers", err, keys)
				}
				return
			}
			if !errors.Is(err, storage.ErrObjectLocked) || result.ReasonOf(err) != result.ReasonStorageFailed || len(keys) != 3 {
				t.Fatalf("delete of locked objects: %v (reason %s), left %q; want ErrObjectLocked and everything kept", err, result.ReasonOf(err), keys)
			}
			assertObject(t, srv, bucket, "p/1/db/small.dump", small)
		})
	}
}
