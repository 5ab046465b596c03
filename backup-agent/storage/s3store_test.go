package storage_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	t.Run("ContentMD5", func(t *testing.T) { t.Parallel(); testContentMD5(t, srv) })
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

// md5Recorder remembers the Content-MD5 header of every PUT request, and
// checks those of DeleteObjects.
type md5Recorder struct {
	mu      sync.Mutex
	puts    map[string]string // path?query → Content-MD5
	deletes []bool            // whether each DeleteObjects had the right Content-MD5
}

func (m *md5Recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut {
		m.mu.Lock()
		m.puts[req.URL.Path+"?"+req.URL.RawQuery] = req.Header.Get("Content-MD5")
		m.mu.Unlock()
	}
	if req.Method == http.MethodPost && req.URL.Query().Has("delete") {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		sum := md5.Sum(body)
		m.mu.Lock()
		m.deletes = append(m.deletes, req.Header.Get("Content-MD5") == base64.StdEncoding.EncodeToString(sum[:]))
		m.mu.Unlock()
	}
	return http.DefaultClient.Do(req)
}

// testContentMD5 checks that every put, part and batch delete carries
// Content-MD5, and that the server enforces it (so it is worth sending).
func testContentMD5(t *testing.T, srv *fixtures.S3) {
	ctx := t.Context()
	bucket := srv.CreateBucket(t)
	rec := &md5Recorder{puts: map[string]string{}}
	cfg := awsConfig(srv.AccessKey, srv.SecretKey)
	cfg.HTTPClient = rec
	s, err := storage.NewFromAWSConfig(cfg, storage.Config{Bucket: bucket, Endpoint: srv.Endpoint, PartSize: storage.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, "small", strings.NewReader("small")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, "large", bytes.NewReader(make([]byte, 2*storage.MinPartSize+1))); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "manifest", []byte("{}"), "application/json"); err != nil {
		t.Fatal(err)
	}
	var parts, puts int
	for req, sum := range rec.puts {
		if sum == "" {
			t.Errorf("PUT %s has no Content-MD5", req)
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
	if err := s.Delete(ctx, "small", "large", "manifest"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rec.deletes) != "[true]" {
		t.Errorf("DeleteObjects requests with a right Content-MD5: %v, want [true]", rec.deletes)
	}

	key := "tampered"
	_, err = srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: strings.NewReader("data"),
		ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg=="), // the MD5 of nothing
	})
	if err == nil {
		t.Error("the server accepted a wrong Content-MD5: sending it protects nothing")
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
		conc     = 4
		buffers  = (conc + 1) * partSize
		slack    = 16 << 20
	)
	s := newS3Store(t, srv, srv.CreateBucket(t), storage.Config{PartSize: partSize, Concurrency: conc})
	// Warm up the client and the connections.
	if _, err := s.Upload(t.Context(), "warmup", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}

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
	obj, err := s.Upload(t.Context(), "big", &zeroReader{n: size})
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
	t.Logf("200 MiB in %s (%.0f MB/s): allocated %d MiB, heap in use grew by at most %d MiB (budget %d MiB + %d MiB)",
		took.Round(time.Millisecond), float64(size)/took.Seconds()/1e6, allocated>>20, grew>>20, buffers>>20, slack>>20)
	if allocated > buffers+slack {
		t.Errorf("the upload allocated %d MiB, more than %d part buffers of 8 MiB and %d MiB of slack", allocated>>20, conc+1, slack>>20)
	}
	if grew > buffers+slack {
		t.Errorf("heap in use grew by %d MiB, more than %d part buffers of 8 MiB and %d MiB of slack", grew>>20, conc+1, slack>>20)
	}
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
