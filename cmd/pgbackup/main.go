// Command pgbackup is the one binary behind every pgbackup role: the
// controller, the backup agent and the restore, list and prune tools.
// It only wires cobra to run functions in the packages that do the work.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

// cpuProfileEnv names a file to write a Go CPU profile of the whole run to,
// memProfileEnv one for a heap profile written at the end of the run (what
// was allocated, and what was still in use): development aids (make bench
// BENCH_PROFILE=DIR uses the first), not settings.
const (
	cpuProfileEnv = "PGBACKUP_CPU_PROFILE"
	memProfileEnv = "PGBACKUP_MEM_PROFILE"
)

// startProfile starts the CPU profile cpuProfileEnv asks for and returns
// the function that ends it and writes the heap profile memProfileEnv asks
// for; a profile that cannot be written is reported and the run goes on
// without it.
func startProfile() func() {
	endCPU := startCPUProfile()
	return func() {
		endCPU()
		writeHeapProfile()
	}
}

func startCPUProfile() func() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgbackup: %s: %v (no profile)\n", cpuProfileEnv, err)
		if f != nil {
			_ = f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// writeHeapProfile writes the heap profile memProfileEnv asks for.
func writeHeapProfile() {
	path := os.Getenv(memProfileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		// The profile is as of the last collection: collect, so that it
		// covers the whole run.
		runtime.GC()
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgbackup: %s: %v (no profile)\n", memProfileEnv, err)
	}
}

// agentMemoryLimit is the soft limit of the memory the Go runtime holds
// (heap, stacks and its own) for backup and restore runs, unless GOMEMLIMIT
// is set: the collector then works harder as the heap nears it instead of
// letting it grow to twice the live data. The agent's resident memory is
// that and the binary's pages (about 20 MiB). What a backup holds live is
// bounded by storage.PipelineMemory (42 MiB of part buffers and encoder)
// whatever the database's size, about 50 MiB in all.
const agentMemoryLimit = 72 << 20

// agentGCPercent is the collector's GOGC for backup and restore runs,
// unless GOGC is set. The live heap is mostly long-lived, pooled part
// buffers, and the pipeline makes little garbage (about 30 MB per 240 MB
// dump), so the default of 100 would let garbage pile up to the size of
// those buffers before a collection: on a long upload the heap reached the
// soft limit and peak RSS 93 MiB at 10 GiB against 68 MiB at 1 GiB. At 25
// the heap stays within a quarter of the live data above it, whatever the
// run's length, for collections that are rare and cheap (the buffers hold
// no pointers to scan).
const agentGCPercent = 25

// limitMemory applies agentMemoryLimit and agentGCPercent unless the user
// chose a limit or a GOGC.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(agentMemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(agentGCPercent)
	}
}

func main() {
	// SIGINT and SIGTERM cancel the root context; every subcommand turns that
	// into an orderly stop (uploads aborted, result written, exit 130).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	endProfile := startProfile()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	endProfile()
	stop()
	os.Exit(code)
}
