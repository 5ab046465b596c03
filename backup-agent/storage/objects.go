package storage

import (
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// The server-side encryption modes of ObjectSettings.SSE.
const (
	// SSES3 is encryption with keys S3 manages (x-amz-server-side-encryption: AES256).
	SSES3 = "AES256"
	// SSEKMS is encryption with a KMS key (aws:kms), ObjectSettings.KMSKeyID or the account's default.
	SSEKMS = "aws:kms"
)

// ObjectSettings are asked of the server for every object the store
// writes: data, claims, manifests and verification records alike, so that
// a bucket policy that refuses unencrypted writes refuses none of them.
// Reads need nothing: the server decrypts what it encrypted. The zero
// value leaves everything to the bucket's defaults.
type ObjectSettings struct {
	// SSE is the server-side encryption: SSES3, SSEKMS, or "" for the
	// bucket's default encryption.
	SSE string
	// KMSKeyID is the KMS key (id, alias or ARN) with SSEKMS; "" is the
	// account's default key for S3.
	KMSKeyID string
	// StorageClass is the objects' storage class (STANDARD_IA,
	// INTELLIGENT_TIERING, GLACIER_IR, or a class of an S3-compatible
	// store); "" is the bucket's default, STANDARD on AWS.
	StorageClass string
	// Checksum is how the server is asked to verify what it stores:
	// ChecksumSHA256 (x-amz-checksum-sha256 on every object and part,
	// stored with the object), ChecksumMD5 (Content-MD5 only, verified but
	// not stored), or ChecksumAuto ("" too): SHA-256, falling back to MD5
	// for the rest of the run when the server refuses it.
	Checksum string
}

// The values of ObjectSettings.Checksum.
const (
	ChecksumAuto   = "auto"
	ChecksumSHA256 = "sha256"
	ChecksumMD5    = "md5"
)

var storageClassName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Validate checks the settings; its errors are ConfigInvalid and name the
// flags.
func (o ObjectSettings) Validate() error {
	switch o.SSE {
	case "", SSES3, SSEKMS:
	default:
		return result.Errorf(result.ReasonConfigInvalid, "--s3-sse %q: use %s (keys managed by S3) or %s", o.SSE, SSES3, SSEKMS)
	}
	if o.KMSKeyID != "" && o.SSE != SSEKMS {
		return result.Errorf(result.ReasonConfigInvalid, "--s3-sse-kms-key-id needs --s3-sse %s", SSEKMS)
	}
	switch o.Checksum {
	case "", ChecksumAuto, ChecksumSHA256, ChecksumMD5:
	default:
		return result.Errorf(result.ReasonConfigInvalid, "--s3-checksum %q: use auto, sha256 or md5", o.Checksum)
	}
	switch {
	case o.StorageClass == "":
	case o.StorageClass == string(types.StorageClassGlacier) || o.StorageClass == string(types.StorageClassDeepArchive):
		return result.Errorf(result.ReasonConfigInvalid,
			"--s3-storage-class %s: objects in that class cannot be read without a restore request, and every run reads manifests and every restore reads data at once; use GLACIER_IR (instant retrieval) or STANDARD_IA", o.StorageClass)
	case !storageClassName.MatchString(o.StorageClass):
		return result.Errorf(result.ReasonConfigInvalid, "--s3-storage-class %q: a storage class is written in capitals, such as STANDARD_IA", o.StorageClass)
	}
	return nil
}

// The settings go into each request that creates an object.

func (o ObjectSettings) put(in *s3.PutObjectInput) {
	in.ServerSideEncryption, in.SSEKMSKeyId, in.StorageClass = o.sse(), o.kmsKey(), types.StorageClass(o.StorageClass)
}

func (o ObjectSettings) create(in *s3.CreateMultipartUploadInput) {
	in.ServerSideEncryption, in.SSEKMSKeyId, in.StorageClass = o.sse(), o.kmsKey(), types.StorageClass(o.StorageClass)
}

func (o ObjectSettings) sse() types.ServerSideEncryption { return types.ServerSideEncryption(o.SSE) }

func (o ObjectSettings) kmsKey() *string {
	if o.KMSKeyID == "" {
		return nil
	}
	return aws.String(o.KMSKeyID)
}
