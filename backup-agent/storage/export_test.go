package storage

import "github.com/aws/aws-sdk-go-v2/service/s3"

// SetListPageSize lowers the page size of s's listings, so tests exercise
// pagination with few objects.
func SetListPageSize(s *S3Store, n int32) { s.maxKeys = n }

// ClientOptions returns the options s's S3 client was built with.
func ClientOptions(s *S3Store) s3.Options { return s.client.Options() }
