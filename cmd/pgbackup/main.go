// Command pgbackup is the one binary behind every pgbackup role: the
// controller, the backup agent and the restore, list and prune tools.
// It only wires cobra to run functions in the packages that do the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM cancel the root context; every subcommand turns that
	// into an orderly stop (uploads aborted, result written, exit 130).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
