package storage_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

func TestObjectSettingsValidate(t *testing.T) {
	tests := []struct {
		o       storage.ObjectSettings
		wantErr string
	}{
		{storage.ObjectSettings{}, ""},
		{storage.ObjectSettings{SSE: "AES256", StorageClass: "STANDARD_IA"}, ""},
		{storage.ObjectSettings{SSE: "aws:kms", KMSKeyID: "arn:aws:kms:eu-west-1:111122223333:key/abcd", StorageClass: "GLACIER_IR"}, ""},
		{storage.ObjectSettings{SSE: "aws:kms"}, ""},
		{storage.ObjectSettings{SSE: "aes256"}, `--s3-sse "aes256": use AES256`},
		{storage.ObjectSettings{SSE: "aws:kms:dsse"}, "--s3-sse"},
		{storage.ObjectSettings{KMSKeyID: "alias/backups"}, "--s3-sse-kms-key-id needs --s3-sse aws:kms"},
		{storage.ObjectSettings{SSE: "AES256", KMSKeyID: "alias/backups"}, "--s3-sse-kms-key-id needs --s3-sse aws:kms"},
		{storage.ObjectSettings{StorageClass: "GLACIER"}, "cannot be read without a restore request"},
		{storage.ObjectSettings{StorageClass: "DEEP_ARCHIVE"}, "cannot be read without a restore request"},
		{storage.ObjectSettings{StorageClass: "standard_ia"}, "written in capitals"},
		{storage.ObjectSettings{StorageClass: "STANDARD IA"}, "written in capitals"},
		{storage.ObjectSettings{Checksum: "sha256"}, ""},
		{storage.ObjectSettings{Checksum: "md5"}, ""},
		{storage.ObjectSettings{Checksum: "auto"}, ""},
		{storage.ObjectSettings{Checksum: "crc32"}, `--s3-checksum "crc32": use auto, sha256 or md5`},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || result.ReasonOf(err) != result.ReasonConfigInvalid {
			t.Errorf("%+v: %v, want ConfigInvalid with %q", tt.o, err, tt.wantErr)
		}
	}
	// The destination refuses them like a bad URL, before anything is sent.
	d := storage.Destination{URL: "s3://b/p", Objects: storage.ObjectSettings{StorageClass: "GLACIER"}}
	if _, _, err := d.Parse(); result.ReasonOf(err) != result.ReasonConfigInvalid {
		t.Errorf("Destination.Parse with GLACIER: %v", err)
	}
}

// TestS3StoreObjectSettings: every request that creates an object (a
// PutObject, small or conditional, and a CreateMultipartUpload) carries
// the server-side encryption and the storage class, the parts do not
// (S3 refuses them there), and the server stores and serves the objects.
func TestS3StoreObjectSettings(t *testing.T) {
	skipShort(t)
	srv := fixtures.StartS3(t)
	s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize,
		Objects: storage.ObjectSettings{SSE: storage.SSES3, StorageClass: "STANDARD"}})
	small, large := randomData(t, 1000), randomData(t, 12<<20)
	if err := s.PutIfAbsent(t.Context(), "p/1/manifest.json", []byte(`{}`), "application/json"); err != nil {
		t.Fatalf("PutIfAbsent: %v", err)
	}
	if _, err := s.Upload(t.Context(), "p/1/db/small.dump", bytes.NewReader(small)); err != nil {
		t.Fatalf("small upload: %v", err)
	}
	if _, err := s.Upload(t.Context(), "p/1/db/large.dump", bytes.NewReader(large)); err != nil {
		t.Fatalf("multipart upload: %v", err)
	}
	creates := append(p.Requests(fixtures.S3OpPutObject), p.Requests(fixtures.S3OpCreateMultipartUpload)...)
	if len(creates) != 3 || p.Count(fixtures.S3OpCreateMultipartUpload) != 1 {
		t.Fatalf("%d object-creating requests (%d multipart), want 3 (1)", len(creates), p.Count(fixtures.S3OpCreateMultipartUpload))
	}
	for _, r := range creates {
		if r.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" || r.Header.Get("X-Amz-Storage-Class") != "STANDARD" {
			t.Errorf("%s was written with SSE %q and class %q, want AES256 and STANDARD", r.Key,
				r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Storage-Class"))
		}
	}
	for _, r := range p.Requests(fixtures.S3OpUploadPart) {
		if r.Header.Get("X-Amz-Server-Side-Encryption") != "" || r.Header.Get("X-Amz-Storage-Class") != "" {
			t.Errorf("a part of %s carries object settings: %v", r.Key, r.Header)
		}
	}
	assertObject(t, srv, bucket, "p/1/db/small.dump", small)
	assertObject(t, srv, bucket, "p/1/db/large.dump", large)

	// Without settings, no such header is sent: the bucket's defaults apply.
	plain, p2, _ := proxiedStore(t, srv, storage.Config{})
	if _, err := plain.Upload(t.Context(), "p/2/db/small.dump", bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	for _, r := range p2.Requests(fixtures.S3OpPutObject) {
		if r.Header.Get("X-Amz-Server-Side-Encryption") != "" || r.Header.Get("X-Amz-Storage-Class") != "" {
			t.Errorf("a store without settings sent %v", r.Header)
		}
	}
}

// A server that refuses x-amz-checksum-sha256 (400 InvalidArgument, as
// stores that predate the checksums answer) gets the request again with
// Content-MD5 under --s3-checksum auto, and Content-MD5 from then on;
// --s3-checksum sha256 insists and fails.
func TestS3ChecksumFallback(t *testing.T) {
	skipShort(t)
	srv := fixtures.StartS3(t)
	t.Run("auto falls back", func(t *testing.T) {
		s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize})
		p.Fail(fixtures.S3OpPutObject, "claim", 1, 400, "InvalidArgument")
		if err := s.PutIfAbsent(t.Context(), "p/1/claim.json", []byte(`{}`), "application/json"); err != nil {
			t.Fatalf("PutIfAbsent: %v, want it retried with Content-MD5", err)
		}
		large := randomData(t, 12<<20)
		if _, err := s.Upload(t.Context(), "p/1/db/large.dump", bytes.NewReader(large)); err != nil {
			t.Fatal(err)
		}
		puts := p.Requests(fixtures.S3OpPutObject)
		if len(puts) != 2 || puts[0].Header.Get("X-Amz-Checksum-Sha256") == "" || puts[1].Header.Get("Content-MD5") == "" || puts[1].Header.Get("X-Amz-Checksum-Sha256") != "" {
			t.Fatalf("the refused put and its retry: %+v", puts)
		}
		for _, r := range append(p.Requests(fixtures.S3OpUploadPart), p.Requests(fixtures.S3OpCreateMultipartUpload)...) {
			if r.Header.Get("X-Amz-Checksum-Sha256") != "" || r.Header.Get("X-Amz-Checksum-Algorithm") != "" {
				t.Errorf("%s still asks for SHA-256 after the fallback: %v", r.Key, r.Header)
			}
		}
		for _, r := range p.Requests(fixtures.S3OpUploadPart) {
			if r.Header.Get("Content-MD5") == "" {
				t.Errorf("a part of %s has no Content-MD5 after the fallback", r.Key)
			}
		}
		assertObject(t, srv, bucket, "p/1/db/large.dump", large)
	})
	t.Run("sha256 insists", func(t *testing.T) {
		s, p, _ := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize, Objects: storage.ObjectSettings{Checksum: storage.ChecksumSHA256}})
		p.Fail(fixtures.S3OpPutObject, "claim", 1, 400, "InvalidArgument")
		err := s.PutIfAbsent(t.Context(), "p/1/claim.json", []byte(`{}`), "application/json")
		if result.ReasonOf(err) != result.ReasonStorageFailed || p.Count(fixtures.S3OpPutObject) != 1 {
			t.Fatalf("PutIfAbsent: %v after %d puts; want StorageFailed, no retry", err, p.Count(fixtures.S3OpPutObject))
		}
	})
}
