package storage_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
	"github.com/pgbackup/pgbackup/backup-agent/storage/storagetest"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// awsConfig returns an SDK configuration with static credentials, as tests
// use instead of the environment.
func awsConfig(accessKey, secretKey string) aws.Config {
	return aws.Config{
		Region:      fixtures.S3Region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	}
}

func newS3Store(t testing.TB, srv *fixtures.S3, bucket string, cfg storage.Config) *storage.S3Store {
	t.Helper()
	cfg.Bucket, cfg.Endpoint = bucket, srv.Endpoint
	s, err := storage.NewFromAWSConfig(awsConfig(srv.AccessKey, srv.SecretKey), cfg)
	if err != nil {
		t.Fatalf("NewFromAWSConfig: %v", err)
	}
	return s
}

func TestS3Store(t *testing.T) {
	srv := fixtures.StartS3(t)

	t.Run("Conformance", func(t *testing.T) {
		storagetest.RunSuite(t, func(t *testing.T) storage.Store {
			return newS3Store(t, srv, srv.CreateBucket(t), storage.Config{PartSize: storagetest.PartSize})
		})
	})
	t.Run("WrongCredentials", func(t *testing.T) { t.Parallel(); testWrongCredentials(t, srv) })
	t.Run("MissingBucket", func(t *testing.T) { t.Parallel(); testMissingBucket(t, srv) })
	t.Run("UploadsPagination", func(t *testing.T) { t.Parallel(); testUploadsPagination(t, srv) })
	t.Run("Checksums", func(t *testing.T) { t.Parallel(); testChecksums(t, srv) })
	t.Run("SpooledUpload", func(t *testing.T) { t.Parallel(); testSpooledUpload(t, srv) })
	t.Run("EnvironmentChain", func(t *testing.T) { testEnvironmentChain(t, srv) }) // t.Setenv: not parallel
	// Last and alone, so nothing else allocates meanwhile.
	t.Run("UploadMemory", func(t *testing.T) { testUploadMemory(t, srv) })
}

func assertStorageFailed(t *testing.T, what string, err error, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want %q", what, wantMsg)
	}
	if r := result.ReasonOf(err); r != result.ReasonStorageFailed {
		t.Errorf("%s: reason %s, want StorageFailed (%v)", what, r, err)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("%s: error %q does not say %q", what, err, wantMsg)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: error %q is more than one line", what, err)
	}
}

func testWrongCredentials(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	bucket := srv.CreateBucket(t)
	want := "access denied to bucket " + bucket + ": check the S3 credentials"
	tests := []struct {
		name, accessKey, secretKey string
	}{
		{"wrong secret", srv.AccessKey, srv.SecretKey + "x"},
		{"unknown access key", "nobody", srv.SecretKey},
	}
	for _, tt := range tests {
		s, err := storage.NewFromAWSConfig(awsConfig(tt.accessKey, tt.secretKey),
			storage.Config{Bucket: bucket, Endpoint: srv.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Check(ctx)
		assertStorageFailed(t, tt.name+": Check", err, want)
		t.Logf("%s: %v", tt.name, err)
		_, err = s.Upload(ctx, "k", strings.NewReader("data"))
		assertStorageFailed(t, tt.name+": Upload", err, want)
		err = s.List(ctx, "", func(storage.Object) error { return nil })
		assertStorageFailed(t, tt.name+": List", err, want)
		if err != nil && strings.Contains(err.Error(), srv.SecretKey) {
			t.Errorf("%s: the error shows the secret", tt.name)
		}
	}
}

func testMissingBucket(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	s := newS3Store(t, srv, "no-such-bucket-here", storage.Config{})
	want := "bucket no-such-bucket-here does not exist"
	err := s.Check(ctx)
	assertStorageFailed(t, "Check", err, want)
	t.Logf("missing bucket: %v", err)
	_, err = s.Upload(ctx, "k", strings.NewReader("data"))
	assertStorageFailed(t, "Upload", err, want)
	err = s.ListPrefixes(ctx, "", func(string) error { return nil })
	assertStorageFailed(t, "ListPrefixes", err, want)
	err = s.PutIfAbsent(ctx, "m", []byte("{}"), "application/json")
	assertStorageFailed(t, "PutIfAbsent", err, want)
}

func TestS3Unreachable(t *testing.T) {
	tests := []struct {
		name, endpoint, want string
	}{
		{"connection refused", "http://127.0.0.1:1", "S3 endpoint http://127.0.0.1:1 unreachable: "},
		{"unknown host", "http://s3.pgbackup.invalid", "S3 endpoint http://s3.pgbackup.invalid unreachable: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := storage.NewFromAWSConfig(awsConfig("key", "secret"), storage.Config{Bucket: "b", Endpoint: tt.endpoint})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			start := time.Now()
			err = s.Check(ctx)
			took := time.Since(start)
			assertStorageFailed(t, "Check", err, tt.want)
			if took > 30*time.Second {
				t.Errorf("Check took %s to give up, want under 30 s", took.Round(time.Second))
			}
			t.Logf("%s after %s", err, took.Round(time.Millisecond))
		})
	}
}

// testUploadsPagination lists more open uploads than fit in a page.
func testUploadsPagination(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	bucket := srv.CreateBucket(t)
	s := newS3Store(t, srv, bucket, storage.Config{})
	storage.SetListPageSize(s, 3)
	client := srv.Client()
	// Pages of 3: p/00 has two uploads, within the first page. (versitygw
	// cannot continue a listing inside one key's uploads, see Uploads.)
	var want []string
	for i := range 10 {
		key := fmt.Sprintf("p/%02d", max(i-1, 0))
		if _, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key}); err != nil {
			t.Fatal(err)
		}
		want = append(want, key)
	}
	other := "q/0"
	if _, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &other}); err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(ctx, "p/")
	if err != nil {
		t.Fatalf("Uploads: %v", err)
	}
	var got []string
	ids := map[string]bool{}
	for _, u := range ups {
		got = append(got, u.Key)
		ids[u.UploadID] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(ids) != len(want) {
		t.Fatalf("Uploads listed %v (%d distinct IDs), want %v", got, len(ids), want)
	}
	for _, u := range ups {
		if err := s.AbortUpload(ctx, u); err != nil {
			t.Fatalf("AbortUpload: %v", err)
		}
	}
	if ups, err = s.Uploads(ctx, ""); err != nil || len(ups) != 1 || ups[0].Key != other {
		t.Fatalf("Uploads after aborting = %+v, %v; want only %s", ups, err, other)
	}

	// Object listings page too (the suite covers S3's own page of 1000).
	for i := range 7 {
		if err := s.PutIfAbsent(ctx, fmt.Sprintf("d/%d/x", i), nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := s.ListPrefixes(ctx, "d/", func(string) error { n++; return nil }); err != nil || n != 7 {
		t.Errorf("ListPrefixes with pages of 3 = %d prefixes, %v; want 7", n, err)
	}
}

// checksumRecorder remembers the checksum headers of every PUT request,
// and whether they match its body, and checks the Content-MD5 of
// DeleteObjects.
type checksumRecorder struct {
	mu      sync.Mutex
	puts    map[string]putChecksums // path?query → what the PUT carried
	deletes []bool                  // whether each DeleteObjects had the right Content-MD5
}

type putChecksums struct {
	md5, sha256 string
	// md5OK and sha256OK: the header is the body's.
	md5OK, sha256OK bool
}

func (m *checksumRecorder) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut || (req.Method == http.MethodPost && req.URL.Query().Has("delete")) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		m5, s256 := md5.Sum(body), sha256.Sum256(body)
		got := putChecksums{md5: req.Header.Get("Content-MD5"), sha256: req.Header.Get("X-Amz-Checksum-Sha256")}
		got.md5OK = got.md5 == base64.StdEncoding.EncodeToString(m5[:])
		got.sha256OK = got.sha256 == base64.StdEncoding.EncodeToString(s256[:])
		m.mu.Lock()
		if req.Method == http.MethodPut {
			m.puts[req.URL.Path+"?"+req.URL.RawQuery] = got
		} else {
			m.deletes = append(m.deletes, got.md5OK)
		}
		m.mu.Unlock()
	}
	return http.DefaultClient.Do(req)
}

// testChecksums checks that every put and part carries the checksum the
// store is set to (Content-MD5, or x-amz-checksum-sha256, which S3 keeps
// with the object), with the body's right value, that batch deletes carry
// Content-MD5, and that the server enforces both (so they are worth
// sending).
func testChecksums(t *testing.T, srv *fixtures.S3) {
	for _, mode := range []string{storage.ChecksumMD5, storage.ChecksumAuto} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			bucket := srv.CreateBucket(t)
			rec := &checksumRecorder{puts: map[string]putChecksums{}}
			cfg := awsConfig(srv.AccessKey, srv.SecretKey)
			cfg.HTTPClient = rec
			s, err := storage.NewFromAWSConfig(cfg, storage.Config{Bucket: bucket, Endpoint: srv.Endpoint, PartSize: storage.MinPartSize,
				Objects: storage.ObjectSettings{Checksum: mode}})
			if err != nil {
				t.Fatal(err)
			}
			small, large := []byte("small"), randomData(t, int(2*storage.MinPartSize+1))
			if _, err := s.Upload(ctx, "small", bytes.NewReader(small)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Upload(ctx, "large", bytes.NewReader(large)); err != nil {
				t.Fatal(err)
			}
			if err := s.PutIfAbsent(ctx, "manifest", []byte("{}"), "application/json"); err != nil {
				t.Fatal(err)
			}
			var parts, puts int
			for req, got := range rec.puts {
				switch {
				case mode == storage.ChecksumMD5 && (!got.md5OK || got.sha256 != ""):
					t.Errorf("PUT %s: Content-MD5 %q (right: %v), x-amz-checksum-sha256 %q; want the right MD5 only", req, got.md5, got.md5OK, got.sha256)
				case mode != storage.ChecksumMD5 && !got.sha256OK:
					t.Errorf("PUT %s: x-amz-checksum-sha256 %q is not the body's", req, got.sha256)
				}
				if strings.Contains(req, "partNumber=") {
					parts++
				} else {
					puts++
				}
			}
			if parts != 3 || puts != 2 {
				t.Errorf("saw %d part uploads and %d puts, want 3 and 2", parts, puts)
			}
			if mode != storage.ChecksumMD5 {
				// S3 keeps the checksum: the whole object's for a single put,
				// a checksum of the parts' for a multipart upload.
				for key, data := range map[string][]byte{"small": small, "large": large} {
					head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
					if err != nil {
						t.Fatal(err)
					}
					got := aws.ToString(head.ChecksumSHA256)
					if sum := sha256.Sum256(data); key == "small" && got != base64.StdEncoding.EncodeToString(sum[:]) {
						t.Errorf("%s: stored checksum %q, want the object's SHA-256", key, got)
					}
					if key == "large" {
						var parts []string
						for off := 0; off < len(data); off += int(storage.MinPartSize) {
							sum := sha256.Sum256(data[off:min(off+int(storage.MinPartSize), len(data))])
							parts = append(parts, base64.StdEncoding.EncodeToString(sum[:]))
						}
						want, err := storage.CompositeSHA256(parts)
						if err != nil || got != want {
							t.Errorf("%s: stored checksum %q, want the composite of the parts' %q (%v)", key, got, want, err)
						}
					}
				}
			}
			if err := s.Delete(ctx, "small", "large", "manifest"); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rec.deletes) != "[true]" {
				t.Errorf("DeleteObjects requests with a right Content-MD5: %v, want [true]", rec.deletes)
			}
		})
	}

	ctx := t.Context()
	bucket := srv.CreateBucket(t)
	key := "tampered"
	_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: strings.NewReader("data"),
		ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg=="), // the MD5 of nothing
	})
	if err == nil {
		t.Error("the server accepted a wrong Content-MD5: sending it protects nothing")
	}
	_, err = srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: strings.NewReader("data"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), // the SHA-256 of nothing
	})
	if err == nil {
		t.Error("the server accepted a wrong x-amz-checksum-sha256: sending it protects nothing")
	}
}

// testEnvironmentChain builds the store the way the agent does, from the
// SDK's standard environment variables only.
func testEnvironmentChain(t *testing.T, srv *fixtures.S3) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	bucket := srv.CreateBucket(t)
	s, err := storage.New(t.Context(), storage.Config{Bucket: bucket})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := s.Upload(t.Context(), "x/y", strings.NewReader("hello")); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if keys := srv.ObjectKeys(t, bucket, ""); fmt.Sprint(keys) != "[x/y]" {
		t.Errorf("bucket holds %v, want [x/y]", keys)
	}
}

// isolateAWSEnv unsets the AWS variables for the test and points the SDK
// away from any shared config of the machine.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestNewAddressing(t *testing.T) {
	on, off := aws.Bool(true), aws.Bool(false)
	tests := []struct {
		name          string
		env           map[string]string
		cfg           storage.Config
		wantEndpoint  string
		wantPathStyle bool
		wantRegion    string
	}{
		{"aws", nil, storage.Config{}, "", false, storage.DefaultRegion},
		{"aws with region", map[string]string{"AWS_REGION": "eu-west-3"}, storage.Config{}, "", false, "eu-west-3"},
		{"config region wins", map[string]string{"AWS_REGION": "eu-west-3"}, storage.Config{Region: "us-west-2"}, "", false, "us-west-2"},
		{"endpoint", nil, storage.Config{Endpoint: "http://minio:9000"}, "http://minio:9000", true, storage.DefaultRegion},
		{"endpoint, virtual hosts", nil, storage.Config{Endpoint: "http://minio:9000", PathStyle: off}, "http://minio:9000", false, storage.DefaultRegion},
		{"aws, path style", nil, storage.Config{PathStyle: on}, "", true, storage.DefaultRegion},
		{"AWS_ENDPOINT_URL_S3", map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3env:1"}, storage.Config{}, "http://s3env:1", true, storage.DefaultRegion},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://env:2"}, storage.Config{}, "http://env:2", true, storage.DefaultRegion},
		{"AWS_ENDPOINT_URL, virtual hosts", map[string]string{"AWS_ENDPOINT_URL": "http://env:2"}, storage.Config{PathStyle: off}, "http://env:2", false, storage.DefaultRegion},
		{"config endpoint wins", map[string]string{"AWS_ENDPOINT_URL_S3": "http://s3env:1"}, storage.Config{Endpoint: "https://cfg"}, "https://cfg", true, storage.DefaultRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.cfg.Bucket = "b"
			s, err := storage.New(t.Context(), tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			o := storage.ClientOptions(s)
			if got := aws.ToString(o.BaseEndpoint); got != tt.wantEndpoint {
				t.Errorf("endpoint %q, want %q", got, tt.wantEndpoint)
			}
			if o.UsePathStyle != tt.wantPathStyle {
				t.Errorf("path style %v, want %v", o.UsePathStyle, tt.wantPathStyle)
			}
			if o.Region != tt.wantRegion {
				t.Errorf("region %q, want %q", o.Region, tt.wantRegion)
			}
			if o.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired ||
				o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
				t.Errorf("checksums %v/%v, want both when required", o.RequestChecksumCalculation, o.ResponseChecksumValidation)
			}
			if o.Retryer.MaxAttempts() != 5 {
				t.Errorf("retryer makes %d attempts, want 5", o.Retryer.MaxAttempts())
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := storage.New(t.Context(), storage.Config{Bucket: "b", PartSize: 1 << 20})
	if result.ReasonOf(err) != result.ReasonConfigInvalid {
		t.Errorf("New with a 1 MiB part size: %v, want ConfigInvalid", err)
	}
	_, err = storage.New(t.Context(), storage.Config{Bucket: "b", RequestTimeout: -time.Second})
	if result.ReasonOf(err) != result.ReasonConfigInvalid {
		t.Errorf("New with a negative request timeout: %v, want ConfigInvalid", err)
	}
}

// zeroReader yields n zero bytes without allocating.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	m := min(int64(len(p)), z.n)
	clear(p[:m])
	z.n -= m
	return int(m), nil
}

// testUploadMemory uploads 200 MiB with 8 MiB parts and concurrency 4:
// the upload must allocate and hold about 5 part buffers, nothing in
// proportion to the object.
func testUploadMemory(t *testing.T, srv *fixtures.S3) {
	const (
		size     = 200 << 20
		partSize = 8 << 20
		conc     = 8 // more than the budget holds: the budget wins
		budget   = storage.DefaultPartMemory
		slack    = 16 << 20
	)
	s := newS3Store(t, srv, srv.CreateBucket(t), storage.Config{PartSize: partSize, Concurrency: conc})
	// Warm up the client and the connections.
	if _, err := s.Upload(t.Context(), "warmup", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// The store's part buffers are reused from object to object: a second
	// object allocates almost nothing.
	for _, object := range []struct {
		key   string
		limit uint64
	}{{"big", uint64(budget + slack)}, {"again", slack}} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			var ms runtime.MemStats
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		})
		start := time.Now()
		obj, err := s.Upload(t.Context(), object.key, &zeroReader{n: size})
		took := time.Since(start)
		close(done)
		wg.Wait()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		if obj.Size != size {
			t.Fatalf("uploaded %d bytes, want %d", obj.Size, size)
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		grew := int64(peak.Load()) - int64(before.HeapInuse)
		t.Logf("%s: 200 MiB in %s (%.0f MB/s): allocated %d MiB, heap in use grew by at most %d MiB (budget %d MiB + %d MiB)",
			object.key, took.Round(time.Millisecond), float64(size)/took.Seconds()/1e6, allocated>>20, grew>>20, budget>>20, slack>>20)
		if allocated > object.limit {
			t.Errorf("%s: the upload allocated %d MiB, more than %d MiB", object.key, allocated>>20, object.limit>>20)
		}
		if grew > budget+slack {
			t.Errorf("%s: heap in use grew by %d MiB, more than the part budget of %d MiB and %d MiB of slack", object.key, grew>>20, budget>>20, slack>>20)
		}
	}
}

// testSpooledUpload uploads an object whose parts are too large for the
// memory budget, so they go through spool files, and reads it back: the
// SDK sends file-backed parts with their Content-MD5, and the spool
// directory is left empty.
func testSpooledUpload(t *testing.T, srv *fixtures.S3) {
	dir := t.TempDir()
	s := newS3Store(t, srv, srv.CreateBucket(t), storage.Config{PartSize: storage.MinPartSize, PartMemory: storage.MinPartSize, SpoolDir: dir})
	data := make([]byte, 3*storage.MinPartSize+12345)
	_, _ = rand.Read(data)
	for _, size := range []int{100, len(data)} {
		obj, err := s.Upload(t.Context(), "spooled", bytes.NewReader(data[:size]))
		if err != nil {
			t.Fatalf("Upload of %d bytes: %v", size, err)
		}
		if obj.Size != int64(size) {
			t.Errorf("uploaded %d bytes, want %d", obj.Size, size)
		}
		r, err := s.Get(t.Context(), "spooled")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		_ = r.Close()
		if err != nil || !bytes.Equal(got, data[:size]) {
			t.Fatalf("read back %d bytes (%v), want the %d uploaded", len(got), err, size)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%d files left in the spool directory", len(entries))
		}
	}
	if size := len(data); !strings.HasSuffix(mustStat(t, s, "spooled").ETag, `-4"`) {
		t.Errorf("the %d-byte object was not uploaded in 4 parts", size)
	}
}

func mustStat(t *testing.T, s storage.Store, key string) storage.Object {
	t.Helper()
	obj, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// BenchmarkS3Upload measures upload throughput to versitygw (MB/s).
func BenchmarkS3Upload(b *testing.B) {
	srv := fixtures.StartS3(b)
	bucket := srv.CreateBucket(b)
	const size = 256 << 20
	for _, bc := range []struct {
		partSize int64
		conc     int
	}{{8 << 20, 1}, {8 << 20, 4}, {16 << 20, 4}, {8 << 20, 8}} {
		b.Run(fmt.Sprintf("part=%dMiB/conc=%d", bc.partSize>>20, bc.conc), func(b *testing.B) {
			s := newS3Store(b, srv, bucket, storage.Config{PartSize: bc.partSize, Concurrency: bc.conc})
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Upload(b.Context(), "bench", &zeroReader{n: size}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// skipShort skips an integration test (Docker, the S3 test image) under
// go test -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Docker and the S3 test image (skipped with -short)")
	}
}

// proxiedStore returns an S3Store on a new bucket of srv that reaches srv
// through a fault proxy, and the proxy.
func proxiedStore(t *testing.T, srv *fixtures.S3, cfg storage.Config) (*storage.S3Store, *fixtures.S3Proxy, string) {
	t.Helper()
	bucket := srv.CreateBucket(t)
	p := fixtures.StartS3Proxy(t, srv.Endpoint)
	cfg.Bucket, cfg.Endpoint = bucket, p.URL
	s, err := storage.NewFromAWSConfig(awsConfig(srv.AccessKey, srv.SecretKey), cfg)
	if err != nil {
		t.Fatalf("NewFromAWSConfig: %v", err)
	}
	return s, p, bucket
}

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertObject checks, past the proxy, that key holds exactly data.
func assertObject(t *testing.T, srv *fixtures.S3, bucket, key string, data []byte) {
	t.Helper()
	out, err := srv.Client().GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer func() { _ = out.Body.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("%s holds %d bytes with sha256 %x, want %d bytes with sha256 %x", key, n, h.Sum(nil), len(data), want)
	}
}

// assertNoUploads checks that no multipart upload is left open.
func assertNoUploads(t *testing.T, s *storage.S3Store) {
	t.Helper()
	if ups, err := s.Uploads(t.Context(), ""); err != nil || len(ups) != 0 {
		t.Errorf("open multipart uploads: %+v (%v), want none", ups, err)
	}
}

// TestS3StoreFaults runs S3Store against versitygw through a proxy that
// loses answers, fails requests and hangs.
func TestS3StoreFaults(t *testing.T) {
	skipShort(t)
	srv := fixtures.StartS3(t)
	t.Run("LostCompleteAnswer", func(t *testing.T) { t.Parallel(); testLostCompleteAnswer(t, srv) })
	t.Run("LostCompleteAnswerUnderKMS", func(t *testing.T) { t.Parallel(); testLostCompleteAnswerUnderKMS(t, srv) })
	t.Run("CompleteOfVanishedUpload", func(t *testing.T) { t.Parallel(); testCompleteOfVanishedUpload(t, srv) })
	t.Run("LostConditionalPutAnswer", func(t *testing.T) { t.Parallel(); testLostConditionalPutAnswer(t, srv) })
	t.Run("SlowDownParts", func(t *testing.T) { t.Parallel(); testSlowDownParts(t, srv) })
	t.Run("HungRequest", func(t *testing.T) { t.Parallel(); testHungRequest(t, srv) })
}

// testLostCompleteAnswer: CompleteMultipartUpload completes on the server,
// its answer is lost, the SDK retries. versitygw answers the retry with
// success itself; S3 answers NoSuchUpload, which the proxy plays in the
// second case, where S3Store must recognise its object by size and ETag.
func testLostCompleteAnswer(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize})
	data := randomData(t, 2*int(storage.MinPartSize)+12345) // 3 parts

	tests := []struct {
		name, key    string
		noSuchUpload bool
		wantHeads    int // HeadObject requests of the upload
	}{
		{"retry answered by versitygw", "b1/db/orders.dump", false, 0},
		{"retry answered NoSuchUpload", "b2/db/orders.dump", true, 1},
	}
	for _, tt := range tests {
		p.LoseAnswer(fixtures.S3OpCompleteMultipartUpload, tt.key, 1)
		if tt.noSuchUpload {
			p.Fail(fixtures.S3OpCompleteMultipartUpload, tt.key, 1, http.StatusNotFound, "NoSuchUpload")
		}
		completes, heads := p.Count(fixtures.S3OpCompleteMultipartUpload), p.Count(fixtures.S3OpHeadObject)
		obj, err := s.Upload(ctx, tt.key, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: Upload: %v", tt.name, err)
		}
		if n := p.Count(fixtures.S3OpCompleteMultipartUpload) - completes; n != 2 {
			t.Errorf("%s: %d CompleteMultipartUpload requests, want 2 (the lost one and its retry)", tt.name, n)
		}
		if n := p.Count(fixtures.S3OpHeadObject) - heads; n != tt.wantHeads {
			t.Errorf("%s: %d HeadObject requests, want %d", tt.name, n, tt.wantHeads)
		}
		stat, err := s.Stat(ctx, tt.key)
		if err != nil {
			t.Fatalf("%s: Stat: %v", tt.name, err)
		}
		if obj.Size != int64(len(data)) || obj.ETag != stat.ETag || !strings.HasSuffix(stat.ETag, `-3"`) {
			t.Errorf("%s: Upload returned size %d ETag %s; the object has size %d ETag %s; want %d bytes in 3 parts",
				tt.name, obj.Size, obj.ETag, stat.Size, stat.ETag, len(data))
		}
		assertObject(t, srv, bucket, tt.key, data)
	}
	assertNoUploads(t, s)
}

// testLostCompleteAnswerUnderKMS is the NoSuchUpload case of
// testLostCompleteAnswer with an ETag that is not an MD5, as S3 gives
// objects under SSE-KMS (the proxy plays it: versitygw ignores KMS). With
// SHA-256 checksums the store recognises its object by the composite
// checksum S3 keeps; with Content-MD5 only it cannot, and fails rather
// than guess.
func testLostCompleteAnswerUnderKMS(t *testing.T, srv *fixtures.S3) {
	data := randomData(t, 2*int(storage.MinPartSize)+12345) // 3 parts
	for _, mode := range []string{storage.ChecksumSHA256, storage.ChecksumMD5} {
		s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize, Objects: storage.ObjectSettings{Checksum: mode}})
		key := "b/db/orders.dump"
		p.LoseAnswer(fixtures.S3OpCompleteMultipartUpload, key, 1)
		p.Fail(fixtures.S3OpCompleteMultipartUpload, key, 1, http.StatusNotFound, "NoSuchUpload")
		p.RewriteHeader(fixtures.S3OpHeadObject, key, -1, "ETag", `"0123456789abcdef0123456789abcdef-3"`)
		_, err := s.Upload(t.Context(), key, bytes.NewReader(data))
		if mode == storage.ChecksumMD5 {
			assertStorageFailed(t, "md5 only", err, "the object at the key is not this upload's")
			continue
		}
		if err != nil {
			t.Fatalf("sha256: Upload: %v, want the object recognised by its checksum", err)
		}
		assertObject(t, srv, bucket, key, data)
	}
}

// testCompleteOfVanishedUpload: NoSuchUpload when nothing completed the
// upload (it was aborted, say) must fail the upload, even when the key
// holds an object of an earlier run of the same size, which stays as it is.
func testCompleteOfVanishedUpload(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize})
	data := randomData(t, int(storage.MinPartSize)+100) // 2 parts

	p.Fail(fixtures.S3OpCompleteMultipartUpload, "gone", 1, http.StatusNotFound, "NoSuchUpload")
	_, err := s.Upload(ctx, "gone", bytes.NewReader(data))
	assertStorageFailed(t, "Upload to an empty key", err, "the upload vanished (NoSuchUpload) and no object was completed at the key")
	t.Logf("empty key: %v", err)

	earlier := randomData(t, len(data)) // same size and parts, other bytes
	if _, err := s.Upload(ctx, "stale", bytes.NewReader(earlier)); err != nil {
		t.Fatal(err)
	}
	p.Fail(fixtures.S3OpCompleteMultipartUpload, "stale", 1, http.StatusNotFound, "NoSuchUpload")
	_, err = s.Upload(ctx, "stale", bytes.NewReader(data))
	assertStorageFailed(t, "Upload over an earlier object", err, "the upload vanished (NoSuchUpload) and the object at the key is not this upload's")
	t.Logf("earlier object: %v", err)
	assertObject(t, srv, bucket, "stale", earlier)
	if keys := srv.ObjectKeys(t, bucket, ""); fmt.Sprint(keys) != "[stale]" {
		t.Errorf("bucket holds %v, want only the earlier object", keys)
	}
	assertNoUploads(t, s) // both uploads aborted
}

// testLostConditionalPutAnswer: PutIfAbsent creates the object, its answer
// is lost, and the SDK's retry meets the object: 412, so PutIfAbsent says
// ErrExists. That is what the caller must resolve by reading the object
// back (DESIGN section 2, "an ambiguous commit is resolved").
func testLostConditionalPutAnswer(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	s, p, bucket := proxiedStore(t, srv, storage.Config{})
	key, body := "20261201T000000Z/manifest.json", []byte(`{"schemaVersion":1}`)
	p.LoseAnswer(fixtures.S3OpPutObject, key, 1)
	err := s.PutIfAbsent(ctx, key, body, "application/json")
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("PutIfAbsent with a lost answer = %v, want ErrExists", err)
	}
	if n := p.Count(fixtures.S3OpPutObject); n != 2 {
		t.Errorf("%d PutObject requests, want 2 (the lost one and its retry)", n)
	}
	assertObject(t, srv, bucket, key, body)
}

// testSlowDownParts: S3 throttles two part uploads; the SDK's retries ride
// it out.
func testSlowDownParts(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	s, p, bucket := proxiedStore(t, srv, storage.Config{PartSize: storage.MinPartSize})
	data := randomData(t, 2*int(storage.MinPartSize)+1) // 3 parts
	p.Fail(fixtures.S3OpUploadPart, "", 2, http.StatusServiceUnavailable, "SlowDown")
	start := time.Now()
	obj, err := s.Upload(ctx, "throttled", bytes.NewReader(data))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Upload throttled twice: %v", err)
	}
	t.Logf("3 parts, 2 of the uploads throttled: %s", took.Round(time.Millisecond))
	if n := p.Count(fixtures.S3OpUploadPart); n != 5 {
		t.Errorf("%d UploadPart requests, want 5 (3 parts, 2 retries)", n)
	}
	if obj.Size != int64(len(data)) {
		t.Errorf("Upload returned size %d, want %d", obj.Size, len(data))
	}
	assertObject(t, srv, bucket, "throttled", data)
	assertNoUploads(t, s)
}

// testHungRequest: a server that takes a request and never answers costs
// a bounded time: RequestTimeout per attempt.
func testHungRequest(t *testing.T, srv *fixtures.S3) {
	const timeout = 500 * time.Millisecond
	s, p, _ := proxiedStore(t, srv, storage.Config{RequestTimeout: timeout})
	p.Hang(fixtures.S3OpPutObject, "", -1)
	// The test's own bound, far above the store's, which is 5 attempts of
	// 500 ms and the backoff between them (at most 0.25+0.5+1+2 s).
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	err := s.PutIfAbsent(ctx, "hung/manifest.json", []byte("{}"), "application/json")
	took := time.Since(start)
	assertStorageFailed(t, "PutIfAbsent to a hung endpoint", err, "accepted the request but did not answer within 500ms (after 5 attempts)")
	t.Logf("gave up after %s: %v", took.Round(time.Millisecond), err)
	if bound := 5*timeout + 8*time.Second; took < 5*timeout || took > bound { // slack for a busy machine
		t.Errorf("PutIfAbsent gave up after %s, want between %s and %s", took.Round(time.Millisecond), 5*timeout, bound)
	}
	if n := p.Count(fixtures.S3OpPutObject); n != 5 {
		t.Errorf("%d PutObject requests, want 5", n)
	}
}

// TestNewRequestTimeout checks the response-header timeout of the HTTP
// client New builds, and of a buildable client brought in the AWS config.
func TestNewRequestTimeout(t *testing.T) {
	tests := []struct {
		name   string
		client aws.HTTPClient
		cfg    time.Duration
		want   time.Duration
	}{
		{"default", nil, 0, storage.DefaultRequestTimeout},
		{"configured", nil, 5 * time.Second, 5 * time.Second},
		{"buildable client", awshttp.NewBuildableClient(), 7 * time.Second, 7 * time.Second},
	}
	for _, tt := range tests {
		cfg := awsConfig("key", "secret")
		cfg.HTTPClient = tt.client
		s, err := storage.NewFromAWSConfig(cfg, storage.Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", RequestTimeout: tt.cfg})
		if err != nil {
			t.Fatal(err)
		}
		hc, ok := storage.ClientOptions(s).HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("%s: the HTTP client is a %T", tt.name, storage.ClientOptions(s).HTTPClient)
		}
		if got := hc.GetTransport().ResponseHeaderTimeout; got != tt.want {
			t.Errorf("%s: response header timeout %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestS3StoreServerTime reads versitygw's clock, which is this machine's.
func TestS3StoreServerTime(t *testing.T) {
	skipShort(t)
	srv := fixtures.StartS3(t)
	s := newS3Store(t, srv, srv.CreateBucket(t), storage.Config{})
	got, err := s.ServerTime(t.Context())
	if err != nil {
		t.Fatalf("ServerTime: %v", err)
	}
	if d := time.Since(got); d > time.Minute || d < -time.Minute || got.Location() != time.UTC {
		t.Errorf("ServerTime = %s, %s from the local clock; want within a minute, in UTC", got, d)
	}
	t.Logf("server time %s, local %s", got, time.Now().UTC())
}
