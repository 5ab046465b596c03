package storage

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Version is one version of an object in a versioned bucket: the object
// itself (Latest), an older one, or a delete marker.
type Version struct {
	Key, VersionID string
	// Latest is the current version of the key (what a GET returns, or,
	// for a delete marker, what makes the key look deleted).
	Latest       bool
	DeleteMarker bool
	LastModified time.Time
	Size         int64
}

// Versioned is a store whose bucket may keep versions (S3 with
// versioning or Object Lock): a delete there leaves the data as a
// noncurrent version behind a delete marker.
type Versioned interface {
	// ListVersions calls fn for every version and delete marker of every
	// key under prefix, in key order.
	ListVersions(ctx context.Context, prefix string, fn func(Version) error) error
	// DeleteVersions deletes exactly these versions. Versions under Object
	// Lock are left, with an error matching ErrObjectLocked that names them
	// as KEY?versionId=ID.
	DeleteVersions(ctx context.Context, versions []Version) error
}

// ListVersions lists versions and delete markers under prefix, following
// ListObjectVersions' key and version markers across pages.
func (s *S3Store) ListVersions(ctx context.Context, prefix string, fn func(Version) error) error {
	in := &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: &prefix}
	if s.maxKeys > 0 {
		in.MaxKeys = &s.maxKeys
	}
	p := s3.NewListObjectVersionsPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.classify(opList, prefix, err)
		}
		var vs []Version
		for _, v := range page.Versions {
			vs = append(vs, Version{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), Latest: aws.ToBool(v.IsLatest),
				LastModified: aws.ToTime(v.LastModified), Size: aws.ToInt64(v.Size)})
		}
		for _, m := range page.DeleteMarkers {
			vs = append(vs, Version{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId), Latest: aws.ToBool(m.IsLatest),
				DeleteMarker: true, LastModified: aws.ToTime(m.LastModified)})
		}
		for _, v := range vs {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteVersions deletes the versions, 1000 at a time.
func (s *S3Store) DeleteVersions(ctx context.Context, versions []Version) error {
	ids := make([]types.ObjectIdentifier, len(versions))
	for i, v := range versions {
		ids[i] = types.ObjectIdentifier{Key: aws.String(v.Key), VersionId: aws.String(v.VersionID)}
	}
	return s.deleteIdentifiers(ctx, ids)
}
