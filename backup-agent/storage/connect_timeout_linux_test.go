//go:build linux

package storage_test

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

// silentEndpoint returns the URL of a local port whose connections never
// complete: a socket listening with a backlog of zero that never accepts,
// its one queue slot taken. SYNs to it are dropped, as by a firewall.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	filler, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("fill the backlog: %v", err)
	}
	t.Cleanup(func() { _ = filler.Close() })
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		_ = c.Close()
		t.Fatal("the port still accepts connections; cannot simulate a silent endpoint")
	}
	return "http://" + addr
}

// TestS3ConnectTimeout checks that an endpoint that drops connections (the
// hard case of "unreachable") fails in under 30 s, not the minutes of the
// SDK's 30 s dial timeout times its attempts.
func TestS3ConnectTimeout(t *testing.T) {
	t.Parallel()
	endpoint := silentEndpoint(t)
	s, err := storage.NewFromAWSConfig(awsConfig("key", "secret"), storage.Config{Bucket: "b", Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Check(t.Context())
	took := time.Since(start)
	assertStorageFailed(t, "Check", err, "S3 endpoint "+endpoint+" unreachable: dial tcp")
	if took > 30*time.Second {
		t.Errorf("Check took %s to give up, want under 30 s", took.Round(time.Second))
	}
	t.Logf("%v after %s", err, took.Round(time.Millisecond))
}
