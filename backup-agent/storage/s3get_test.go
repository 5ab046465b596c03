package storage_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// TestS3GetResumes proves that a download survives a cut or stalled
// connection by resuming where it stopped, that it gives up on one that
// never gets far, and that it never mixes two versions of an object.
func TestS3GetResumes(t *testing.T) {
	skipShort(t)
	srv := fixtures.StartS3(t)
	const mib = 1 << 20

	// put stores data at key through a store that reaches srv directly.
	put := func(t *testing.T, s *storage.S3Store, key string, data []byte) {
		t.Helper()
		if _, err := s.Upload(t.Context(), key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(t *testing.T, s *storage.S3Store, key string) ([]byte, error) {
		t.Helper()
		r, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer func() { _ = r.Close() }()
		return io.ReadAll(r)
	}

	tests := []struct {
		name     string
		size     int
		cfg      storage.Config
		fault    func(p *fixtures.S3Proxy, key string)
		wantGets int    // GetObject requests the proxy sees
		wantErr  string // "" for a whole download
	}{
		{
			name:     "cut once",
			size:     20 * mib,
			fault:    func(p *fixtures.S3Proxy, key string) { p.TruncateBody(fixtures.S3OpGetObject, key, 1, 3*mib) },
			wantGets: 2,
		},
		{
			name: "cut again and again, each time after progress",
			size: 40 * mib,
			// 9 MiB per request: every resume gets past resumeProgress, so
			// the count of cuts in a row starts anew each time.
			fault:    func(p *fixtures.S3Proxy, key string) { p.TruncateBody(fixtures.S3OpGetObject, key, 7, 9*mib) },
			wantGets: 5,
		},
		{
			name:     "cut every time before any progress",
			size:     4 * mib,
			fault:    func(p *fixtures.S3Proxy, key string) { p.TruncateBody(fixtures.S3OpGetObject, key, -1, 64<<10) },
			wantGets: 6, // the first and 5 resumes
			wantErr:  "the download was cut 5 times in a row at byte",
		},
		{
			name:     "stalls midway",
			size:     8 * mib,
			cfg:      storage.Config{RequestTimeout: time.Second},
			fault:    func(p *fixtures.S3Proxy, key string) { p.StallBody(fixtures.S3OpGetObject, key, 1, 2*mib) },
			wantGets: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, p, bucket := proxiedStore(t, srv, tt.cfg)
			data := randomData(t, tt.size)
			key := "b/db/" + strings.ReplaceAll(tt.name, " ", "-") + ".dump"
			put(t, s, key, data)
			tt.fault(p, key)
			gets := p.Count(fixtures.S3OpGetObject)
			got, err := readAll(t, s, key)
			if n := p.Count(fixtures.S3OpGetObject) - gets; n != tt.wantGets {
				t.Errorf("%d GetObject requests, want %d", n, tt.wantGets)
			}
			if tt.wantErr != "" {
				assertStorageFailed(t, "Get", err, tt.wantErr)
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, not the %d stored (or not in order)", len(got), len(data))
			}
			assertObject(t, srv, bucket, key, data)
		})
	}

	// The object is replaced between the cut and the resume: the resume
	// must not append the new object's bytes to the old one's.
	t.Run("object replaced before the resume", func(t *testing.T) {
		t.Parallel()
		s, p, bucket := proxiedStore(t, srv, storage.Config{})
		key := "b/db/replaced.dump"
		put(t, s, key, randomData(t, 8*mib))
		p.TruncateBody(fixtures.S3OpGetObject, key, 1, 2*mib)
		r, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.Close() }()
		if _, err := io.ReadFull(r, make([]byte, mib)); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(randomData(t, 8*mib))}); err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, r)
		if result.ReasonOf(err) != result.ReasonIntegrityFailed || !strings.Contains(err.Error(), "was replaced while it was being read") {
			t.Fatalf("reading on after the object was replaced: %v; want IntegrityFailed saying it was replaced", err)
		}
		t.Logf("error: %v", err)
	})

	// Close from another goroutine while a Read waits on a stalled body
	// (a read-ahead goroutine whose consumer gave up): the Read ends at
	// once with an error, Close returns, and nothing is resumed.
	t.Run("closed while a read waits", func(t *testing.T) {
		t.Parallel()
		s, p, _ := proxiedStore(t, srv, storage.Config{RequestTimeout: time.Minute})
		key := "b/db/closed.dump"
		put(t, s, key, randomData(t, 8*mib))
		p.StallBody(fixtures.S3OpGetObject, key, 1, mib)
		r, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, r)
			done <- err
		}()
		time.Sleep(500 * time.Millisecond) // the copy is waiting on the stalled body
		closed := make(chan struct{})
		go func() { _ = r.Close(); close(closed) }()
		for _, ch := range []<-chan struct{}{closed, errDone(t, done)} {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Fatal("Close or the waiting Read did not return within 10 s of Close")
			}
		}
		if n := p.Count(fixtures.S3OpGetObject); n != 1 {
			t.Fatalf("%d GetObject requests, want 1: a closed download is never resumed", n)
		}
		if _, err := r.Read(make([]byte, 1)); err == nil {
			t.Fatal("Read after Close succeeded")
		}
	})

	// The caller's context ending is not a cut: no resume.
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		s, p, _ := proxiedStore(t, srv, storage.Config{})
		key := "b/db/cancelled.dump"
		put(t, s, key, randomData(t, 8*mib))
		p.StallBody(fixtures.S3OpGetObject, key, 1, mib)
		ctx, cancel := context.WithCancel(t.Context())
		r, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.Close() }()
		time.AfterFunc(500*time.Millisecond, cancel)
		_, err = io.Copy(io.Discard, r)
		if err == nil || p.Count(fixtures.S3OpGetObject) != 1 {
			t.Fatalf("read after cancel: %v with %d GetObject requests; want an error and no resume", err, p.Count(fixtures.S3OpGetObject))
		}
	})
}

// errDone closes the returned channel once done delivers, and checks that
// it delivered an error.
func errDone(t *testing.T, done <-chan error) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		if err := <-done; err == nil {
			t.Errorf("a download closed midway read to its end without an error")
		}
		close(ch)
	}()
	return ch
}
