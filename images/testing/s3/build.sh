#!/usr/bin/env bash
# Builds a static versitygw binary for the pgbackup-test/s3 image.
#
# Usage: images/testing/s3/build.sh OUTDIR
#
# The version is pinned in tools/go.mod; the result is OUTDIR/versitygw.
# Needs only the Go toolchain and the Go module proxy (no container registry).
# The Dockerfile next to this script expects that binary in its build context:
#   build.sh STAGING && cp Dockerfile STAGING/ && docker build -t pgbackup-test/s3:v1.8.0 STAGING
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
outdir="$(cd "$1" && pwd)"
GO="${GO:-go}"

cd "$here/tools"
export GOFLAGS=-mod=mod
version="$("$GO" list -m -f '{{.Version}}' github.com/versity/versitygw)"
# main.Version is what `versitygw --version` prints (upstream sets it the same way).
CGO_ENABLED=0 "$GO" build -trimpath -ldflags="-s -w -X main.Version=${version}" \
	-o "$outdir/versitygw" github.com/versity/versitygw/cmd/versitygw
echo "built $outdir/versitygw (versitygw ${version})"
