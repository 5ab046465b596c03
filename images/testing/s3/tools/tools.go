//go:build tools

// Package tools pins the S3-compatible server that backs the pgbackup-test/s3
// test image. build.sh compiles github.com/versity/versitygw/cmd/versitygw at
// the version recorded in go.mod.
package tools

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
