// Package bench is pgbackup's end-to-end benchmark, `make bench`: it fills
// the PostgreSQL 17 fixture with a database of realistic mixed data
// (BENCH_SIZE_MB MiB, default 1024) and times, one after another on the same
// machine, network and S3 server, (a) pg_dump -Fc -Z0 to /dev/null, the
// floor; (b) the classic script, pg_dump -Fc to a file then aws s3 cp; and
// (c) pgbackup backup with its defaults. It prints wall time, raw dump
// throughput, stored size, CPU time and peak RSS of each, and the agent's
// targets: c/a ≤ 1.3, b/c ≥ 2, peak RSS ≤ 150 MiB.
//
// The benchmark itself is behind the build tag "bench", so `go test ./...`
// compiles only the report's code and its unit tests:
//
//	make bench                      # about 1 GiB
//	make bench BENCH_SIZE_MB=256    # a quick run
//	make bench BENCH_RUNS=3         # median of three rounds
//
// Every contender runs in a container of pgbackup-test/bench:17
// (images/testing/bench), so all three use the same pg_dump, and
// /usr/local/bin/bench-measure there measures each under GNU time.
package bench
