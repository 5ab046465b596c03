// Command pgbackup is the one binary behind every pgbackup role: the
// controller, the backup agent and the restore, list and prune tools.
// It only wires cobra to run functions in the packages that do the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// agentMemoryLimit is the soft limit of the Go heap for backup and restore
// runs, unless GOMEMLIMIT is set: the collector then works harder as the
// heap nears it instead of letting it grow to twice the live data, which
// keeps the agent's resident memory near its budget (measured with
// make bench) whatever the database size.
const agentMemoryLimit = 128 << 20

// limitMemory applies agentMemoryLimit unless the user chose a limit.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(agentMemoryLimit)
	}
}

func main() {
	// SIGINT and SIGTERM cancel the root context; every subcommand turns that
	// into an orderly stop (uploads aborted, result written, exit 130).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
