//go:build bench

package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/network"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

const (
	// benchImage is images/testing/bench: the PostgreSQL 17 test image
	// plus awscli, GNU time and bench-measure (`make bench-image`).
	benchImage = "pgbackup-test/bench:17"
	pgAlias    = "pg"
	s3Alias    = "s3"
	// database is the fixture's database, which the benchmark fills.
	database = "app"
	// scratch is the bench container's work directory (see the Dockerfile).
	scratch = "/scratch"
	// chunkUnits is the most units one fill statement generates.
	chunkUnits = 32
	// calibrationUnits are generated per worker before the first size check.
	calibrationUnits = 8
	// stepTimeout bounds one contender's run; generationTimeout the filling.
	stepTimeout       = 20 * time.Minute
	generationTimeout = 30 * time.Minute
)

// TestBench times, one after another and on the same PostgreSQL 17 and S3
// servers, (a) pg_dump alone, (b) the classic script (pg_dump -Fc to a
// file, then aws s3 cp) and (c) the agent, on a database of BENCH_SIZE_MB
// MiB (pg_database_size, default 1024) of data shaped BENCH_SHAPE, and
// prints the comparison. Each is run BENCH_RUNS times (default 1); then
// the agent once per BENCH_COMPRESSIONS value, and the restores: (d)
// pgbackup verify, (e) a local pg_restore, and with BENCH_RESTORE_JOBS=N
// (default 2) (f) pgbackup restore --jobs N against (g) a local
// pg_restore -j N. BENCH_JSON writes the report as JSON, BENCH_BASELINE
// compares with such a file, BENCH_PROFILE copies out a CPU profile of
// (c). Missed targets and regressions are reported, not failed: this is a
// measurement. It fails when a contender fails, when the agent's backup
// has no valid manifest or a restore lacks rows.
func TestBench(t *testing.T) {
	cfg := readSettings(t)
	fixtures.RequireImage(t, benchImage)

	r := report{TargetMiB: cfg.sizeMiB, Runs: cfg.runs, Shape: cfg.shape.Name, RestoreJobs: cfg.restoreJobs,
		Baseline: cfg.baseline, BaselinePath: cfg.baselinePath, Machine: machine(), Cores: runtime.NumCPU(), LoadBefore: loadavg()}
	r.Commit, r.Describe = gitVersion()
	nw := fixtures.NewNetwork(t)
	pg := fixtures.StartPostgres(t, 17, fixtures.WithPostgresNetwork(nw, pgAlias))
	store := fixtures.StartS3(t, fixtures.WithS3Network(nw, s3Alias))
	bucket := store.CreateBucket(t)

	t.Logf("Generating about %d MiB of %s data in database %s", cfg.sizeMiB, cfg.shape.Name, database)
	generate(t, pg, cfg.shape, int64(cfg.sizeMiB)*mib, &r)
	t.Logf("Generated %s in %s", mibString(r.DatabaseBytes), round(r.Generate))

	b := startBox(t, nw, pg, store)
	r.Scratch = fmt.Sprintf("(b) writes its dump file to %s on the bench container's own filesystem (%s, on the host's disk; not a tmpfs, not synced); "+
		"versitygw stores objects on a Docker volume on the same disk", scratch, b.shell(t, "stat -f -c %T "+scratch))

	// The warm-up reads every page once (hint bits are already set by
	// VACUUM) and counts the raw dump's bytes.
	r.WarmUp = b.measure(t, "warmup", "sh", "-c", "pg_dump -Fc -Z0 | wc -c >"+scratch+"/raw.bytes")
	raw, err := strconv.ParseInt(b.shell(t, "cat "+scratch+"/raw.bytes"), 10, 64)
	if err != nil || raw == 0 {
		t.Fatalf("raw dump size: %q, %v", b.shell(t, "cat "+scratch+"/raw.bytes"), err)
	}
	r.RawBytes = raw

	b.backups(t, bucket, store, cfg, &r)

	t.Log("Verifying the agent's backup, then restoring a local file for comparison")
	scratchPG := fixtures.StartPostgres(t, 17, fixtures.WithPostgresNetwork(nw, scratchAlias), fixtures.AsScratch())
	// From here the server that works is the scratch server.
	b.server = scratchPG.Container
	b.restores(t, bucket, scratchPG, cfg, &r)
	r.LoadAfter = loadavg()
	r.Finished = time.Now()

	fmt.Println()
	if err := r.write(os.Stdout); err != nil {
		t.Fatal(err)
	}
	fmt.Println()
	if cfg.jsonPath != "" {
		if err := writeRecord(cfg.jsonPath, r.record()); err != nil {
			t.Fatal(err)
		}
		t.Logf("Wrote the report to %s", cfg.jsonPath)
	}
}

// backups runs the rounds of (a), (b) and (c), then the compression
// sweep, and records them in r.
func (b *box) backups(t *testing.T, bucket string, store *fixtures.S3, cfg settings, r *report) {
	t.Helper()
	r.Floor = contender{ID: "a", Name: "(a) pg_dump -Fc -Z0 > /dev/null"}
	r.Classic = contender{ID: "b", Name: "(b) pg_dump -Fc (gzip) > file; aws s3 cp"}
	r.Agent = contender{ID: "c", Agent: true}
	r.Commands = []string{
		"(a) " + floorCommand,
		"(b) " + classicCommand(bucket),
		"(c) " + strings.Join(agentCommand(bucket, agentPrefix, ""), " "),
	}
	var profileEnv []string
	if cfg.profileDir != "" {
		profileEnv = []string{cpuProfileEnv + "=" + agentProfile}
		r.Profile = filepath.Join(cfg.profileDir, filepath.Base(agentProfile))
		r.Commands[2] = "(c) " + strings.Join(profileEnv, " ") + " " + strings.Join(agentCommand(bucket, agentPrefix, ""), " ")
	}
	for i := range cfg.runs {
		t.Logf("Round %d of %d", i+1, cfg.runs)
		r.Floor.Runs = append(r.Floor.Runs, b.measure(t, "a", "sh", "-c", floorCommand))

		run, dump, upload, stored := b.classic(t, bucket, store)
		r.Classic.Runs, r.Classic.Stored = append(r.Classic.Runs, run), stored
		r.ClassicDump, r.ClassicUpload = append(r.ClassicDump, dump), append(r.ClassicUpload, upload)

		if cfg.profileDir != "" {
			b.shell(t, "rm -f "+agentProfile)
		}
		run, stored, dumped, compression := b.agent(t, bucket, store, agentPrefix, "", profileEnv)
		r.Agent.Runs, r.Agent.Stored, r.AgentRawBytes = append(r.Agent.Runs, run), stored, dumped
		r.Agent.Name = fmt.Sprintf("(c) pgbackup backup (defaults: %s)", compression)
		if cfg.profileDir != "" {
			b.copyOut(t, agentProfile, r.Profile)
		}
	}
	for _, c := range cfg.compressions {
		t.Logf("Agent with --compression %s", c)
		run, stored, _, _ := b.agent(t, bucket, store, sweepPrefix(c), c, nil)
		r.Sweep = append(r.Sweep, contender{ID: "c:" + c, Name: "(c) pgbackup backup (--compression " + c + ")", Agent: true,
			Runs: []measurement{run}, Stored: stored})
		r.Commands = append(r.Commands, "(c) "+strings.Join(agentCommand(bucket, sweepPrefix(c), c), " "))
	}
}

// settings are the benchmark's BENCH_* environment variables.
type settings struct {
	sizeMiB, runs int
	shape         shape
	// compressions are the sweep's --compression values.
	compressions []string
	// restoreJobs is N of (f) and (g); 0 skips them.
	restoreJobs int
	jsonPath    string
	// baseline, read from baselinePath, is the run to compare with.
	baseline     *record
	baselinePath string
	// profileDir receives (c)'s CPU profile.
	profileDir string
}

// readSettings reads and checks every setting before anything starts, so
// that a typo fails at once rather than after the database is filled.
func readSettings(t *testing.T) settings {
	t.Helper()
	cfg := settings{
		sizeMiB:     envInt(t, "BENCH_SIZE_MB", 1024, 16),
		runs:        envInt(t, "BENCH_RUNS", 1, 1),
		restoreJobs: envInt(t, "BENCH_RESTORE_JOBS", 2, 0),
		jsonPath:    repoPath(t, os.Getenv("BENCH_JSON")),
		profileDir:  repoPath(t, os.Getenv("BENCH_PROFILE")),
	}
	if cfg.restoreJobs > maxRestoreJobs {
		t.Fatalf("BENCH_RESTORE_JOBS=%d: at most %d (pgbackup restore's limit)", cfg.restoreJobs, maxRestoreJobs)
	}
	var err error
	name := cmp.Or(os.Getenv("BENCH_SHAPE"), defaultShape)
	if cfg.shape, err = lookupShape(name); err != nil {
		t.Fatalf("BENCH_SHAPE: %v", err)
	}
	if cfg.compressions, err = parseCompressions(os.Getenv("BENCH_COMPRESSIONS")); err != nil {
		t.Fatalf("BENCH_COMPRESSIONS: %v", err)
	}
	if cfg.baselinePath = repoPath(t, os.Getenv("BENCH_BASELINE")); cfg.baselinePath != "" {
		rec, err := readRecord(cfg.baselinePath)
		if err != nil {
			t.Fatalf("BENCH_BASELINE: %v", err)
		}
		cfg.baseline = &rec
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			t.Fatalf("BENCH_PROFILE: %v", err)
		}
	}
	return cfg
}

// repoPath makes a relative path of a setting relative to the
// repository's root, where make runs: go test runs the test in its
// package's directory, two levels down. It returns it absolute, for the
// report, and "" for "".
func repoPath(t *testing.T, p string) string {
	t.Helper()
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join("..", "..", p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatalf("path %s: %v", p, err)
	}
	return abs
}

// maxRestoreJobs is pgbackup restore's upper bound for --jobs.
const maxRestoreJobs = 64

// gitVersion names the source tree being measured, or returns empty
// strings when git cannot (no git, no repository): the figure is a label,
// not a requirement.
func gitVersion() (commit, describe string) {
	out := func(args ...string) string {
		b, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return out("rev-parse", "--short", "HEAD"), out("describe", "--always", "--dirty")
}

// envInt reads a positive integer setting, at least lowest.
func envInt(t *testing.T, name string, def, lowest int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lowest {
		t.Fatalf("%s=%q: want a whole number of at least %d", name, s, lowest)
	}
	return n
}

// generate fills the database to about target bytes (pg_database_size)
// with the shape's data, on a few sessions at once, then vacuums it so
// that no dump has to set hint bits, and records the sizes and row counts
// in r.
func generate(t *testing.T, pg *fixtures.Postgres, sh shape, target int64, r *report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), generationTimeout)
	defer cancel()
	conn := pg.Connect(t, database)
	// Bulk loading: no checkpoint every 1 GB of WAL. Both settings apply
	// on reload.
	mustExec(ctx, t, conn, "ALTER SYSTEM SET max_wal_size = '8GB'")
	mustExec(ctx, t, conn, "ALTER SYSTEM SET checkpoint_timeout = '30min'")
	mustExec(ctx, t, conn, "SELECT pg_reload_conf()")
	mustExec(ctx, t, conn, sh.Schema)
	base := databaseSize(ctx, t, conn)

	workers := min(max(runtime.NumCPU(), 2), 4)
	conns := make([]*pgx.Conn, workers)
	for i := range conns {
		conns[i] = pg.Connect(t, database)
		mustExec(ctx, t, conns[i], "SET synchronous_commit = off")
	}
	var units int64
	fill := func(n int64) {
		chunks := make(chan [2]int64)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for _, c := range conns {
			wg.Go(func() {
				for ch := range chunks {
					for _, q := range sh.Fill {
						if _, err := c.Exec(ctx, q, ch[0], ch[1]); err != nil {
							mu.Lock()
							errs = append(errs, fmt.Errorf("units %d-%d: %w", ch[0], ch[1], err))
							mu.Unlock()
							return
						}
					}
				}
			})
		}
		for end := units + n; units < end; {
			next := min(units+chunkUnits, end)
			chunks <- [2]int64{units, next}
			units = next
		}
		close(chunks)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("generate data: %v", err)
		}
	}

	start := time.Now()
	fill(int64(workers) * calibrationUnits)
	for size := databaseSize(ctx, t, conn); ; size = databaseSize(ctx, t, conn) {
		perUnit := max((size-base)/units, 1)
		if size+perUnit/2 >= target {
			break
		}
		fill((target - size + perUnit - 1) / perUnit)
	}
	r.Generate = time.Since(start)

	start = time.Now()
	mustExec(ctx, t, conn, "VACUUM (ANALYZE)")
	mustExec(ctx, t, conn, "CHECKPOINT")
	r.Vacuum = time.Since(start)

	r.DatabaseBytes = databaseSize(ctx, t, conn)
	for _, table := range sh.Tables {
		var tableBytes, indexBytes int64
		err := conn.QueryRow(ctx, `SELECT pg_table_size(oid), pg_indexes_size(oid) FROM pg_class WHERE oid = $1::regclass`, table).
			Scan(&tableBytes, &indexBytes)
		if err != nil {
			t.Fatalf("size of %s: %v", table, err)
		}
		r.TableBytes += tableBytes
		r.IndexBytes += indexBytes
	}
	// Exact counts, which every restore must reproduce.
	r.Rows = rowCounts(ctx, t, conn, sh.Tables)
}

// rowCounts counts the rows of tables.
func rowCounts(ctx context.Context, t *testing.T, conn *pgx.Conn, tables []string) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, table := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("count rows of %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

func mustExec(ctx context.Context, t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", strings.Fields(sql)[0], err)
	}
}

func databaseSize(ctx context.Context, t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		t.Fatalf("pg_database_size: %v", err)
	}
	return n
}

// box is the bench container every contender runs in: on the network of
// the PostgreSQL and S3 fixtures, with pg_dump 17, awscli, GNU time and the
// agent, and the libpq and AWS environment all three use.
type box struct {
	ctr *testcontainers.DockerContainer
	// server and s3 are the PostgreSQL and S3 containers, whose CPU time is
	// read around each run: on a small machine they compete with the
	// contenders for the same cores. server is the dumped server for the
	// backups, the scratch server for the restores.
	server, s3 *testcontainers.DockerContainer
}

func startBox(t *testing.T, nw *testcontainers.DockerNetwork, pg *fixtures.Postgres, store *fixtures.S3) *box {
	t.Helper()
	env := map[string]string{
		"PGHOST":     pgAlias,
		"PGPORT":     strconv.Itoa(pg.InternalPort),
		"PGUSER":     pg.User,
		"PGPASSWORD": pg.Password,
		"PGDATABASE": database,
		"PGSSLMODE":  "disable",

		"AWS_ACCESS_KEY_ID":     store.AccessKey,
		"AWS_SECRET_ACCESS_KEY": store.SecretKey,
		"AWS_REGION":            fixtures.S3Region,
		"AWS_ENDPOINT_URL_S3":   store.InternalEndpoint,
		// awscli from 2.23 sends CRC checksums by default; the agent sends
		// Content-MD5 only. Both as S3-compatible servers need them.
		"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",

		"PGBACKUP_TERMINATION_LOG": scratch + "/result.json",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, benchImage,
		testcontainers.WithLabels(map[string]string{fixtures.Label: "true"}),
		testcontainers.WithEnv(env),
		testcontainers.WithEntrypoint("sleep"),
		testcontainers.WithCmd("infinity"),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			HostFilePath: fixtures.AgentBinary(t), ContainerFilePath: "/usr/local/bin/pgbackup", FileMode: 0o755,
		}),
		network.WithNetwork(nil, nw),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("start %s: %v", benchImage, err)
	}
	return &box{ctr: ctr, server: pg.Container, s3: store.Container}
}

// measure runs argv under bench-measure, fails the test if it fails, and
// returns the measurement with the servers' CPU time meanwhile.
func (b *box) measure(t *testing.T, name string, argv ...string) measurement {
	t.Helper()
	m, _ := b.measureOutput(t, name, nil, argv...)
	return m
}

// measureOutput is measure that also returns argv's output; env are
// further KEY=VALUE variables for argv.
func (b *box) measureOutput(t *testing.T, name string, env []string, argv ...string) (measurement, string) {
	t.Helper()
	report := scratch + "/" + name + ".measure"
	server, s3 := cpuUsage(t, b.server), cpuUsage(t, b.s3)
	busy := machineBusy(t)
	code, out := execIn(t, b.ctr, append([]string{"bench-measure", report}, argv...), env...)
	busy = machineBusy(t) - busy
	server, s3 = cpuUsage(t, b.server)-server, cpuUsage(t, b.s3)-s3
	if code != 0 {
		t.Fatalf("%s: %s exited with %d:\n%s", name, strings.Join(argv, " "), code, out)
	}
	m, err := parseMeasurement(b.shell(t, "cat "+report))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m.ServerCPU, m.S3CPU = server, s3
	m.OtherCPU = max(busy-m.CPU()-server-s3, 0)
	return m, out
}

// floorCommand is (a): pg_dump alone, its output thrown away.
const floorCommand = "pg_dump -Fc -Z0 >/dev/null"

// classicKey is where (b) stores its dump in the bucket.
const classicKey = "classic/" + database + ".dump"

// classicFile is (b)'s dump file.
const classicFile = scratch + "/" + database + ".dump"

// classicCommand is (b), the classic script: pg_dump with its default
// compression (gzip) to a file, then aws s3 cp, each step under
// bench-measure too. The file is written by a redirection, not -f: pg_dump
// fsyncs a file it opens itself, which a script writing to stdout does not
// pay for, and the cheaper variant is the one to beat.
func classicCommand(bucket string) string {
	return fmt.Sprintf("bench-measure %[1]s/b-dump.measure sh -c 'pg_dump -Fc >%[2]s' && "+
		`bench-measure %[1]s/b-upload.measure aws s3 cp --only-show-errors --endpoint-url "$AWS_ENDPOINT_URL_S3" %[2]s s3://%[3]s/%[4]s`,
		scratch, classicFile, bucket, classicKey)
}

// agentCommand is (c): the agent on the one database that (a) and (b)
// dump too (by default it would also dump the empty "postgres" database),
// storing under prefix, with its defaults or with --compression. Like the
// CronJob's agent, it has a spool directory (the PVC there), where upload
// parts beyond its memory budget go.
func agentCommand(bucket, prefix, compression string) []string {
	argv := []string{"pgbackup", "backup", "--destination", "s3://" + bucket + "/" + prefix, "--databases", database, "--spool-dir", scratch}
	if compression != "" {
		argv = append(argv, "--compression", compression)
	}
	return argv
}

// cpuProfileEnv asks pgbackup for a Go CPU profile of its whole run, which
// it writes to the file named (BENCH_PROFILE); agentProfile is that file in
// the box.
const (
	cpuProfileEnv = "PGBACKUP_CPU_PROFILE"
	agentProfile  = scratch + "/agent-cpu.pprof"
)

// classic runs (b) and checks that the object arrived whole. It returns
// the whole script's measurement, its two steps' and the stored size.
func (b *box) classic(t *testing.T, bucket string, store *fixtures.S3) (run, dump, upload measurement, stored int64) {
	t.Helper()
	run = b.measure(t, "b", "sh", "-c", classicCommand(bucket))
	var err error
	if dump, err = parseMeasurement(b.shell(t, "cat "+scratch+"/b-dump.measure")); err != nil {
		t.Fatal(err)
	}
	if upload, err = parseMeasurement(b.shell(t, "cat "+scratch+"/b-upload.measure")); err != nil {
		t.Fatal(err)
	}
	if stored, err = strconv.ParseInt(b.shell(t, "stat -c %s "+classicFile+" && rm -f "+classicFile), 10, 64); err != nil {
		t.Fatalf("size of %s: %v", classicFile, err)
	}
	if size := objectSize(t, store, bucket, classicKey); size != stored {
		t.Fatalf("(b) stored %d bytes at %s, the file had %d", size, classicKey, stored)
	}
	return run, dump, upload, stored
}

// agent runs (c) and checks its result and manifest. It returns the size
// of everything the backup stored, the bytes the agent read from pg_dump
// and the compression the manifest records.
func (b *box) agent(t *testing.T, bucket string, store *fixtures.S3, prefix, compression string, env []string) (run measurement, stored, dumped int64, recorded string) {
	t.Helper()
	b.shell(t, "rm -f "+scratch+"/result.json")
	run, out := b.measureOutput(t, "c", env, agentCommand(bucket, prefix, compression)...)

	var res result.Result
	if err := json.Unmarshal([]byte(b.shell(t, "cat "+scratch+"/result.json")), &res); err != nil {
		t.Fatalf("(c) result: %v\n%s", err, out)
	}
	if res.Result != result.Succeeded || res.BackupID == "" {
		t.Fatalf("(c) result %+v\n%s", res, out)
	}
	m := readManifest(t, store, bucket, manifest.Key(prefix, res.BackupID))
	obj, ok := m.Database(database)
	if !ok {
		t.Fatalf("(c) manifest of %s lists no database %s: %+v", res.BackupID, database, m.Databases)
	}
	if size := objectSize(t, store, bucket, obj.Key); size != obj.Size {
		t.Fatalf("(c) manifest says %d bytes for %s, S3 has %d", obj.Size, obj.Key, size)
	}
	if compression != "" && m.Compression != compression {
		t.Fatalf("(c) --compression %s, but the manifest records %s", compression, m.Compression)
	}
	// Everything the backup stored: the database and, by default, the
	// globals (roles), a few hundred bytes.
	return run, m.TotalSize(), dumpedBytes(out), m.Compression
}

// copyOut copies the box's file from to the host's file to, and fails the
// test when there is none: BENCH_PROFILE asked for a profile, and a run
// without it would look like a success.
func (b *box) copyOut(t *testing.T, from, to string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := b.ctr.CopyFileFromContainer(ctx, from)
	if err != nil {
		t.Fatalf("BENCH_PROFILE: pgbackup wrote no CPU profile to %s (does this pgbackup read %s?): %v", from, cpuProfileEnv, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("BENCH_PROFILE: read %s: %v", from, err)
	}
	if len(data) == 0 {
		t.Fatalf("BENCH_PROFILE: pgbackup's CPU profile %s is empty", from)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatalf("BENCH_PROFILE: %v", err)
	}
}

// shell runs a helper command (not measured) in the box and returns its
// trimmed output; it fails the test if the command fails.
func (b *box) shell(t *testing.T, script string) string {
	t.Helper()
	code, out := execIn(t, b.ctr, []string{"sh", "-c", script})
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", script, code, out)
	}
	return strings.TrimSpace(out)
}

// execIn runs argv in ctr, with env (KEY=VALUE) added to the container's
// environment, and returns its exit status and output.
func execIn(t *testing.T, ctr *testcontainers.DockerContainer, argv []string, env ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	opts := []tcexec.ProcessOption{tcexec.Multiplexed()}
	if len(env) > 0 {
		opts = append(opts, tcexec.WithEnv(env))
	}
	code, rd, err := ctr.Exec(ctx, argv, opts...)
	if err != nil {
		t.Fatalf("exec %q: %v", argv, err)
	}
	out, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("exec %q: output: %v", argv, err)
	}
	return code, string(out)
}

// cpuUsage is the CPU time a container has used so far, from its cgroup
// (v1 or v2): read on this machine when the daemon's cgroup layout is a
// known one, which costs nothing, else by a command in the container,
// whose docker exec costs the machine a little CPU of its own.
func cpuUsage(t *testing.T, ctr *testcontainers.DockerContainer) time.Duration {
	t.Helper()
	id := ctr.GetContainerID()
	for _, path := range []string{
		"/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage",                    // v1, cgroupfs driver
		"/sys/fs/cgroup/cpu,cpuacct/docker/" + id + "/cpuacct.usage",                // v1, cgroupfs driver
		"/sys/fs/cgroup/cpuacct/system.slice/docker-" + id + ".scope/cpuacct.usage", // v1, systemd driver
		"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat",              // v2, systemd driver
		"/sys/fs/cgroup/docker/" + id + "/cpu.stat",                                 // v2, cgroupfs driver
	} {
		if b, err := os.ReadFile(path); err == nil {
			if d, err := parseCgroupCPU(string(b)); err == nil {
				return d
			}
		}
	}
	const script = `cat /sys/fs/cgroup/cpu.stat 2>/dev/null || cat /sys/fs/cgroup/cpuacct/cpuacct.usage`
	code, out := execIn(t, ctr, []string{"sh", "-c", script})
	d, err := parseCgroupCPU(out)
	if code != 0 || err != nil {
		t.Fatalf("container CPU usage: exit %d, %v: %q", code, err, out)
	}
	return d
}

// machineBusy is the CPU time this machine has spent on anything but
// idling and waiting for I/O since it booted, from /proc/stat. The
// containers run here: the fixtures use the local Docker daemon.
func machineBusy(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatalf("machine CPU time: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		t.Fatalf("machine CPU time: unexpected /proc/stat line %q", line)
	}
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("machine CPU time: %q: %v", line, err)
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond
}

func readManifest(t *testing.T, store *fixtures.S3, bucket, key string) *manifest.Manifest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obj, err := store.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("(c) stored no manifest at %s: %v", key, err)
	}
	defer func() { _ = obj.Body.Close() }()
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	m, err := manifest.Unmarshal(body)
	if err != nil {
		t.Fatalf("(c) manifest %s: %v", key, err)
	}
	return m
}

func objectSize(t *testing.T, store *fixtures.S3, bucket, key string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	head, err := store.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head %s: %v", key, err)
	}
	return aws.ToInt64(head.ContentLength)
}

// dumpedBytes reads how many bytes the agent read from its pg_dump of the
// database, from the largest dumpedBytes its JSON log lines report for
// it; 0 if none does (the figure is a cross-check, not a result).
func dumpedBytes(logs string) int64 {
	var n int64
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Database string `json:"database"`
			Dumped   int64  `json:"dumpedBytes"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Database == database {
			n = max(n, line.Dumped)
		}
	}
	return n
}

// machine describes this machine; the containers run on it, without CPU or
// memory limits.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs (nproc; %s), %s, Linux %s; containers without CPU or memory limits",
		runtime.NumCPU(), model, mem, strings.TrimSpace(string(kernel)))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
