package storage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// storageError is a store failure described by one short line. The SDK's
// own message (operation, status, request ID, retries) is long; it stays
// reachable through Unwrap for errors.Is/As and for debugging.
type storageError struct {
	msg string
	err error
}

func (e *storageError) Error() string { return e.msg }
func (e *storageError) Unwrap() error { return e.err }

// accessCodes are the S3 error codes that mean the credentials do not let
// us in. "Forbidden" is what the SDK reports for a 403 without a body (HEAD
// requests).
var accessCodes = map[string]bool{
	"AccessDenied":          true,
	"Forbidden":             true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"TokenRefreshRequired":  true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	// versitygw answers an unknown access key with 404 and this code.
	"XAdminUserNotFound": true,
}

// classifyError turns an error of an S3 request on bucket (about key, which
// may be empty) into one ReasonStorageFailed line. Cancellations are only
// given context so they still report as Interrupted. endpoint names the
// server when the error does not (the SDK's default endpoint otherwise).
func classifyError(op, bucket, key, endpoint string, err error) error {
	if err == nil {
		return nil
	}
	where := "s3://" + bucket
	if key != "" {
		where += "/" + key
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("s3 %s %s: %w", op, where, err)
	}
	if isLockRefusal(err) {
		return result.Wrap(result.ReasonStorageFailed, &LockedError{Bucket: bucket, Keys: []string{key}})
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case code == "NoSuchBucket", code == "NotFound" && op == opHeadBucket:
			return classified(err, "bucket %s does not exist", bucket)
		case accessCodes[code]:
			return classified(err, "access denied to bucket %s: check the S3 credentials (%s)", bucket, code)
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() == http.StatusForbidden {
		return classified(err, "access denied to bucket %s: check the S3 credentials (HTTP 403)", bucket)
	}
	if cause := untrustedCause(err); cause != "" {
		if ep := endpointOf(err); ep != "" {
			endpoint = ep
		}
		return classified(err, "S3 endpoint %s: its TLS certificate is not trusted: %s (give its CA with destination.s3.caBundleRef, or AWS_CA_BUNDLE)", endpoint, cause)
	}
	if cause := unreachableCause(err); cause != "" {
		if ep := endpointOf(err); ep != "" {
			endpoint = ep
		}
		if endpoint == "" {
			endpoint = "(default AWS endpoint)"
		}
		msg := fmt.Sprintf("S3 endpoint %s unreachable: %s", endpoint, cause)
		var maxErr *retry.MaxAttemptsError
		if errors.As(err, &maxErr) {
			msg += fmt.Sprintf(" (after %d attempts)", maxErr.Attempt)
		}
		return result.Wrap(result.ReasonStorageFailed, &storageError{msg: msg, err: err})
	}
	return result.Errorf(result.ReasonStorageFailed, "s3 %s %s: %w", op, where, err)
}

func classified(err error, format string, args ...any) error {
	return result.Wrap(result.ReasonStorageFailed, &storageError{msg: fmt.Sprintf(format, args...), err: err})
}

// untrustedCause returns why the server's certificate was refused, or ""
// when it was not.
func untrustedCause(err error) string {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.Err.Error()
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return unknown.Error()
	}
	var hostname x509.HostnameError
	if errors.As(err, &hostname) {
		return hostname.Error()
	}
	return ""
}

// unreachableCause returns the network failure in err's chain (a failed DNS
// lookup, a refused or timed-out connection) as text without the request
// URL, or "" when the server answered.
func unreachableCause(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return opErr.Error()
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return netErr.Error()
	}
	return ""
}

// endpointOf returns scheme://host of the request that failed, from the
// *url.Error the HTTP client returns, without any user information.
func endpointOf(err error) string {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return ""
	}
	u, perr := url.Parse(urlErr.URL)
	if perr != nil || u.Host == "" {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}

// redactEndpoint strips user information from an endpoint URL for messages.
func redactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(invalid endpoint URL)"
	}
	return u.Redacted()
}
