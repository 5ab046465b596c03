package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// sdkError wraps err the way the SDK does: an operation error around the
// last attempt's error.
func sdkError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: err}
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: "msg"} }

func statusErr(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      errors.New("unknown"),
	}}
}

func dialErr(err error) error {
	return &retry.MaxAttemptsError{Attempt: 5, Err: &url.Error{
		Op: "Head", URL: "http://127.0.0.1:1/bucket",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: err},
	}}
}

func TestClassifyError(t *testing.T) {
	tests := []struct {
		name       string
		op         string
		err        error
		wantReason result.Reason
		wantMsg    string // the whole message when wantExact
		wantExact  bool
	}{
		{"no such bucket", opList, sdkError("ListObjectsV2", apiErr("NoSuchBucket")), result.ReasonStorageFailed,
			"bucket b does not exist", true},
		{"head bucket 404", opHeadBucket, sdkError("HeadBucket", &types.NotFound{}), result.ReasonStorageFailed,
			"bucket b does not exist", true},
		{"head object 404 is not about the bucket", opStat, sdkError("HeadObject", &types.NotFound{}), result.ReasonStorageFailed,
			"s3 stat s3://b/k: ", false},
		{"access denied", opPut, sdkError("PutObject", apiErr("AccessDenied")), result.ReasonStorageFailed,
			"access denied to bucket b: check the S3 credentials (AccessDenied)", true},
		{"invalid key", opList, sdkError("ListObjectsV2", apiErr("InvalidAccessKeyId")), result.ReasonStorageFailed,
			"access denied to bucket b: check the S3 credentials (InvalidAccessKeyId)", true},
		{"signature", opGet, sdkError("GetObject", apiErr("SignatureDoesNotMatch")), result.ReasonStorageFailed,
			"access denied to bucket b: check the S3 credentials (SignatureDoesNotMatch)", true},
		{"head 403", opHeadBucket, sdkError("HeadBucket", apiErr("Forbidden")), result.ReasonStorageFailed,
			"access denied to bucket b: check the S3 credentials (Forbidden)", true},
		{"bare 403", opGet, sdkError("GetObject", statusErr(http.StatusForbidden)), result.ReasonStorageFailed,
			"access denied to bucket b: check the S3 credentials (HTTP 403)", true},
		{"connection refused", opHeadBucket, sdkError("HeadBucket", dialErr(syscall.ECONNREFUSED)), result.ReasonStorageFailed,
			"S3 endpoint http://127.0.0.1:1 unreachable: dial tcp: connection refused (after 5 attempts)", true},
		{"dial timeout", opHeadBucket, sdkError("HeadBucket", dialErr(os.ErrDeadlineExceeded)), result.ReasonStorageFailed,
			"S3 endpoint http://127.0.0.1:1 unreachable: dial tcp: i/o timeout (after 5 attempts)", true},
		{"dns", opHeadBucket, sdkError("HeadBucket", &url.Error{Op: "Head", URL: "https://user:pw@s3.nowhere.invalid/b",
			Err: &net.DNSError{Err: "no such host", Name: "s3.nowhere.invalid", IsNotFound: true}}), result.ReasonStorageFailed,
			"S3 endpoint https://s3.nowhere.invalid unreachable: lookup s3.nowhere.invalid: no such host", true},
		{"untrusted certificate", opHeadBucket, sdkError("HeadBucket", &url.Error{Op: "Head", URL: "https://s3.example:9000/b",
			Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}), result.ReasonStorageFailed,
			"S3 endpoint https://s3.example:9000: its TLS certificate is not trusted: x509: certificate signed by unknown authority (give its CA with destination.s3.caBundleRef, or AWS_CA_BUNDLE)", true},
		{"server error", opPut, sdkError("PutObject", apiErr("InternalError")), result.ReasonStorageFailed,
			"s3 put s3://b/k: operation error S3: PutObject, api error InternalError: msg", true},
		{"cancelled stays unclassified", opPut, sdkError("PutObject", context.Canceled), result.ReasonInterrupted,
			"s3 put s3://b/k: ", false},
		{"caller's deadline is not the endpoint", opPut, sdkError("PutObject", &url.Error{Op: "Put", URL: "http://x/b/k", Err: context.DeadlineExceeded}),
			result.ReasonStorageFailed, "s3 put s3://b/k: ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k"
			if tt.op == opHeadBucket || tt.op == opList {
				key = ""
			}
			err := classifyError(tt.op, "b", key, "http://configured:9000", tt.err)
			if got := result.ReasonOf(err); got != tt.wantReason {
				t.Errorf("reason %s, want %s", got, tt.wantReason)
			}
			if tt.wantExact && err.Error() != tt.wantMsg {
				t.Errorf("message\n  %q\nwant\n  %q", err, tt.wantMsg)
			}
			if !tt.wantExact && !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("message %q does not start with %q", err, tt.wantMsg)
			}
			if !errors.Is(err, tt.err) {
				t.Error("the SDK's error is no longer in the chain")
			}
			if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q has a password or more than one line", err)
			}
		})
	}
	if classifyError(opPut, "b", "k", "", nil) != nil {
		t.Error("classifyError(nil) != nil")
	}
}

func TestClassifyErrorFallsBackToConfiguredEndpoint(t *testing.T) {
	err := classifyError(opHeadBucket, "b", "", "http://configured:9000", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if want := "S3 endpoint http://configured:9000 unreachable: dial tcp: connection refused"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	err = classifyError(opHeadBucket, "b", "", "", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if !strings.Contains(err.Error(), "(default AWS endpoint) unreachable") {
		t.Errorf("message %q does not say the default endpoint", err)
	}
}
