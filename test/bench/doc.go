// Package bench is pgbackup's end-to-end benchmark, `make bench`: it fills
// the PostgreSQL 17 fixture with BENCH_SIZE_MB MiB (default 1024) of data
// of one shape (BENCH_SHAPE: mixed, the default, text, numeric or bytea)
// and times, one after another on the same machine, network and S3
// server, (a) pg_dump -Fc -Z0 to /dev/null, the floor; (b) the classic
// script, pg_dump -Fc to a file then aws s3 cp; (c) pgbackup backup with
// its defaults, then once per BENCH_COMPRESSIONS value with --compression;
// (d) pgbackup verify; (e) pg_restore of a local uncompressed file; and
// with BENCH_RESTORE_JOBS=N (default 2) (f) pgbackup restore --jobs N
// against (g) pg_restore -j N of the local file. It prints one table of
// wall time, raw dump throughput, stored size, CPU time (the process
// tree's, and pgbackup's own per GiB of raw dump), the servers' CPU time
// and peak RSS, then the targets: c/a ≤ 1.15 (moonshot 1.05),
// b/c ≥ 2, the agent's own peak RSS ≤ 96 MiB, f/g ≤ 1.25.
//
// BENCH_JSON=FILE writes the report as JSON; BENCH_BASELINE=FILE compares
// every row with such a file and flags figures more than 5% worse;
// BENCH_PROFILE=DIR copies a Go CPU profile of (c) to DIR/agent-cpu.pprof.
// docs/bench.md describes every setting, row and column.
//
// The benchmark itself is behind the build tag "bench", so `go test ./...`
// compiles only the report's code (report.go, record.go, compare.go,
// settings.go) and its unit tests:
//
//	make bench                                  # about 1 GiB of mixed data
//	make bench BENCH_SIZE_MB=256                # a quick run
//	make bench BENCH_RUNS=3                     # median of three rounds
//	make bench BENCH_SHAPE=bytea BENCH_COMPRESSIONS=none,zstd:1
//	make bench BENCH_JSON=new.json BENCH_BASELINE=old.json
//
// Every contender runs in a container of pgbackup-test/bench:17
// (images/testing/bench), so all of them use the same pg_dump and
// pg_restore, and /usr/local/bin/bench-measure there measures each under
// GNU time.
package bench
