package storage

import (
	"strings"
	"testing"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		in      string
		bucket  string
		prefix  string
		wantErr string
	}{
		{in: "s3://backups", bucket: "backups"},
		{in: "s3://backups/", bucket: "backups"},
		{in: "s3://backups/prod", bucket: "backups", prefix: "prod"},
		{in: "s3://backups/prod/", bucket: "backups", prefix: "prod"},
		{in: "s3://backups//prod/db1//", bucket: "backups", prefix: "prod/db1"},
		{in: "s3://backups/prod//db1", wantErr: "empty path segment"},
		{in: "s3://backups/prod/db1", bucket: "backups", prefix: "prod/db1"},
		{in: "s3://my.bucket-1/a-b_c/D", bucket: "my.bucket-1", prefix: "a-b_c/D"},
		{in: "s3://backups///", bucket: "backups"},
		{in: "", wantErr: "empty"},
		{in: "backups/prod", wantErr: "not an s3:// URL"},
		{in: "S3://backups", wantErr: "not an s3:// URL"},
		{in: "gs://backups", wantErr: "not an s3:// URL"},
		{in: "s3:/backups", wantErr: "not an s3:// URL"},
		{in: "s3://", wantErr: "no bucket"},
		{in: "s3:///prefix", wantErr: "no bucket"},
		{in: "s3://ab", wantErr: "3 to 63 characters"},
		{in: "s3://" + strings.Repeat("a", 64), wantErr: "3 to 63 characters"},
		{in: "s3://Backups", wantErr: "lowercase letters"},
		{in: "s3://back_ups", wantErr: "lowercase letters"},
		{in: "s3://user:secret@backups", wantErr: "lowercase letters"},
		{in: "s3://-backups", wantErr: "start and end"},
		{in: "s3://backups-", wantErr: "start and end"},
		{in: "s3://backups/prod?versionId=1", wantErr: "query strings"},
		{in: "s3://backups/prod#x", wantErr: "query strings"},
		{in: "s3://backups/a/../b", wantErr: `".." is not allowed`},
		{in: "s3://backups/./b", wantErr: `"." is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			bucket, prefix, err := ParseDestination(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseDestination(%q) = %q, %q; want an error", tt.in, bucket, prefix)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if r := result.ReasonOf(err); r != result.ReasonConfigInvalid {
					t.Errorf("reason %s, want ConfigInvalid", r)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDestination(%q): %v", tt.in, err)
			}
			if bucket != tt.bucket || prefix != tt.prefix {
				t.Errorf("ParseDestination(%q) = %q, %q; want %q, %q", tt.in, bucket, prefix, tt.bucket, tt.prefix)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"minimal", Config{Bucket: "b"}, ""},
		{"full", Config{Bucket: "b", Region: "eu-west-1", Endpoint: "https://minio.example:9000", PartSize: MinPartSize, Concurrency: 8}, ""},
		{"largest part", Config{Bucket: "b", PartSize: MaxPartSize}, ""},
		{"no bucket", Config{}, "bucket is not set"},
		{"part too small", Config{Bucket: "b", PartSize: MinPartSize - 1}, "part size"},
		{"part too large", Config{Bucket: "b", PartSize: MaxPartSize + 1}, "part size"},
		{"negative concurrency", Config{Bucket: "b", Concurrency: -1}, "concurrency"},
		{"endpoint without scheme", Config{Bucket: "b", Endpoint: "minio:9000"}, "http:// or https://"},
		{"endpoint with another scheme", Config{Bucket: "b", Endpoint: "ftp://minio"}, "http:// or https://"},
		{"endpoint without host", Config{Bucket: "b", Endpoint: "http://"}, "with a host"},
		{"unparsable endpoint", Config{Bucket: "b", Endpoint: "http://a b:%zz"}, "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if r := result.ReasonOf(err); r != result.ReasonConfigInvalid {
				t.Errorf("reason %s, want ConfigInvalid", r)
			}
		})
	}
}

func TestConfigValidateHidesEndpointPassword(t *testing.T) {
	err := Config{Bucket: "b", Endpoint: "ftp://user:hunter2@minio"}.validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("validate = %v: want an error without the password", err)
	}
}
