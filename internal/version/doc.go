// Package version reports which build of pgbackup is running.
//
// Version and Commit are stamped by `make build` through -ldflags -X; a plain
// `go build` falls back to the module and VCS information Go embeds itself,
// so a binary never claims a version it is not.
package version
