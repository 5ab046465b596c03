package bench

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// The issue's targets for the agent ("agent should cost almost nothing
// beyond pg_dump").
const (
	// maxAgentOverFloor bounds c/a: the agent's wall time at its default
	// settings over pg_dump's alone.
	maxAgentOverFloor = 1.15
	// moonshotAgentOverFloor is where c/a should end up: the agent's work
	// hidden behind pg_dump's almost entirely. Reported, not a target.
	moonshotAgentOverFloor = 1.05
	// minClassicOverAgent bounds b/c from below: the classic script's wall
	// time over the agent's.
	minClassicOverAgent = 2.0
	// maxAgentRSSMiB bounds the agent's own peak RSS, whatever the size.
	maxAgentRSSMiB = 96.0
	// maxRestoreOverLocal bounds f/g: pgbackup restore --jobs N over a
	// local pg_restore -j N of an uncompressed file already on disk.
	maxRestoreOverLocal = 1.25
)

const (
	mib = 1 << 20
	gib = 1 << 30
	mb  = 1e6
	// busyOther is how many cores the rest of the machine may use on
	// average during a run before the report warns that the run competed
	// for the CPU.
	busyOther = 0.5
)

// measurement is one run of a command, as bench-measure (the bench image's
// /usr/local/bin/bench-measure) reports it.
type measurement struct {
	Exit int
	Wall time.Duration
	// User and Sys are the CPU time of the command and of every process it
	// waited for.
	User, Sys time.Duration
	// TreeRSS is the peak RSS of the largest process of the tree (GNU
	// time's ru_maxrss), in bytes.
	TreeRSS int64
	// OwnRSS is the command's own peak RSS (VmHWM, sampled), in bytes; 0
	// when it ended before the first sample.
	OwnRSS int64
	// OwnCPU is the command's own CPU time (user+sys), without its
	// children's: for the agent, its pipeline without pg_dump. Sampled, so
	// it may miss the last 100 ms; 0 when it ended before the first sample
	// or bench-measure is older than the key.
	OwnCPU time.Duration
	// ServerCPU and S3CPU are the CPU time the PostgreSQL and the S3
	// server's containers used meanwhile (not from bench-measure: the test
	// reads them from the containers' cgroups).
	ServerCPU, S3CPU time.Duration
	// OtherCPU is the CPU time the rest of the machine used meanwhile: the
	// machine's busy time (/proc/stat) less this run's and the servers'.
	// Anything but a small value means the run competed for the cores.
	OtherCPU time.Duration
}

// CPU is the command tree's CPU time.
func (m measurement) CPU() time.Duration { return m.User + m.Sys }

// parseMeasurement reads bench-measure's KEY=VALUE report.
func parseMeasurement(text string) (measurement, error) {
	var m measurement
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "exit":
			m.Exit, err = strconv.Atoi(value)
		case "wall_ns":
			var ns int64
			ns, err = strconv.ParseInt(value, 10, 64)
			m.Wall = time.Duration(ns)
		case "user_s":
			m.User, err = seconds(value)
		case "sys_s":
			m.Sys, err = seconds(value)
		case "tree_rss_kb":
			m.TreeRSS, err = kib(value)
		case "own_rss_kb":
			m.OwnRSS, err = kib(value)
		case "own_cpu_s":
			m.OwnCPU, err = seconds(value)
		default:
			continue
		}
		if err != nil {
			return m, fmt.Errorf("measurement %s=%q: %w", key, value, err)
		}
		seen[key] = true
	}
	// own_cpu_s is optional: reports of an older bench image lack it.
	for _, key := range []string{"exit", "wall_ns", "user_s", "sys_s", "tree_rss_kb", "own_rss_kb"} {
		if !seen[key] {
			return m, fmt.Errorf("measurement has no %s: %q", key, text)
		}
	}
	return m, nil
}

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second)), err
}

func kib(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n << 10, err
}

// median returns the run with the median wall time (the lower one of the
// two middle runs for an even count).
func median(runs []measurement) measurement {
	if len(runs) == 0 {
		return measurement{}
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b measurement) int { return int(a.Wall - b.Wall) })
	return sorted[(len(sorted)-1)/2]
}

// peak returns the largest peak RSS of the runs: own when own is set, else
// the tree's.
func peak(runs []measurement, own bool) int64 {
	var p int64
	for _, m := range runs {
		if own {
			p = max(p, m.OwnRSS)
		} else {
			p = max(p, m.TreeRSS)
		}
	}
	return p
}

// contender is one row of the table: a way of taking the backup,
// measured Runs times, or a restore.
type contender struct {
	// ID names the row across runs, for the comparison with a baseline:
	// "a", "b", "c" (the agent at its defaults), "c:" and the compression
	// for the sweep, "d", "e", and "f:" or "g:" and the restore jobs.
	ID   string
	Name string
	Runs []measurement
	// Stored is the size of what it stored; 0 when it stores nothing.
	Stored int64
	// Agent says the command is pgbackup: the table shows its own peak RSS
	// and CPU time, without its pg_dump or pg_restore child.
	Agent bool
	// Restore says it restores rather than backs up: it has no ratio to
	// the floor, which is a dump.
	Restore bool
}

// Wall is the median wall time.
func (c contender) Wall() time.Duration { return median(c.Runs).Wall }

// verdict is a target and whether the measurement reached it.
type verdict struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Unit follows the value and the target ("" or " MiB").
	Unit   string `json:"unit"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	// Moonshot, when set, is a goal beyond the target, and MoonshotPass
	// whether the value reached it too.
	Moonshot     string `json:"moonshot,omitempty"`
	MoonshotPass bool   `json:"moonshotPass,omitempty"`
}

func (v verdict) String() string {
	status := "MISS"
	if v.Pass {
		status = "PASS"
	}
	s := fmt.Sprintf("%s = %.2f%s (target %s%s): %s", v.Name, v.Value, v.Unit, v.Target, v.Unit, status)
	if v.Moonshot != "" {
		reached := "not yet"
		if v.MoonshotPass {
			reached = "reached"
		}
		s += fmt.Sprintf("; moonshot %s%s: %s", v.Moonshot, v.Unit, reached)
	}
	return s
}

// report is what TestBench measured.
type report struct {
	Machine string
	// Cores is how many CPUs the machine has, for the CPU bound of (c).
	Cores int
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end.
	LoadBefore, LoadAfter string
	// Commit and Describe name the benchmarked source tree (git rev-parse
	// --short HEAD, git describe --always --dirty); empty when git cannot
	// tell.
	Commit, Describe string
	Finished         time.Time
	// Shape is the data shape's name (BENCH_SHAPE).
	Shape     string
	TargetMiB int
	Runs      int
	// RestoreJobs is N of (f) and (g); 0 when they did not run.
	RestoreJobs int
	// DatabaseBytes is pg_database_size; TableBytes and IndexBytes its
	// benchmark tables' heap+TOAST and indexes; Rows their row counts.
	DatabaseBytes, TableBytes, IndexBytes int64
	Rows                                  map[string]int64
	Generate, Vacuum                      time.Duration
	// RawBytes is the size of pg_dump -Fc -Z0's output; AgentRawBytes what
	// the agent read from its pg_dump.
	RawBytes, AgentRawBytes int64
	// WarmUp is the first, uncounted dump (pg_dump -Fc -Z0 | wc -c).
	WarmUp measurement
	// Floor, Classic and Agent are contenders (a), (b) and (c).
	Floor, Classic, Agent contender
	// Sweep is the agent again, once per BENCH_COMPRESSIONS value.
	Sweep []contender
	// ClassicDump and ClassicUpload are the two steps of (b).
	ClassicDump, ClassicUpload []measurement
	// Commands are the contenders' command lines, as run in the bench
	// container.
	Commands []string
	Scratch  string
	// Profile is where the CPU profile of (c) was copied to; empty unless
	// BENCH_PROFILE asked for one.
	Profile string
	// Verify is (d), pgbackup verify of the agent's backup into a scratch
	// server; VerifyResult its summary. LocalRestore is (e), pg_restore of
	// a local uncompressed custom-format file into the same server.
	Verify       contender
	VerifyResult *result.Verification
	LocalRestore contender
	// JobsRestore is (f), pgbackup restore --jobs N of the agent's backup,
	// and LocalJobsRestore (g), pg_restore -j N of the local file; both
	// unmeasured when RestoreJobs is 0.
	JobsRestore, LocalJobsRestore contender
	// Baseline is the earlier run BENCH_BASELINE named (BaselinePath), to
	// compare with; nil without one.
	Baseline     *record
	BaselinePath string
}

// contenders are the table's rows in order: (a), (b) and (c) always, the
// others when they ran.
func (r report) contenders() []contender {
	cs := []contender{r.Floor, r.Classic, r.Agent}
	for _, c := range append(slices.Clone(r.Sweep), r.Verify, r.LocalRestore, r.JobsRestore, r.LocalJobsRestore) {
		if len(c.Runs) > 0 {
			cs = append(cs, c)
		}
	}
	return cs
}

// ratio is x/y, or 0 when y is 0: a run without measurements must not
// pass a target by dividing by zero.
func ratio(x, y float64) float64 {
	if y == 0 {
		return 0
	}
	return x / y
}

// verdicts compares the agent with the targets.
func (r report) verdicts() []verdict {
	a, b, c := r.Floor.Wall().Seconds(), r.Classic.Wall().Seconds(), r.Agent.Wall().Seconds()
	rss := float64(peak(r.Agent.Runs, true)) / mib
	ca, bc := ratio(c, a), ratio(b, c)
	vs := []verdict{
		{Name: "c/a", Value: ca, Target: fmt.Sprintf("≤ %.2f", maxAgentOverFloor), Pass: ca > 0 && ca <= maxAgentOverFloor,
			Moonshot: fmt.Sprintf("≤ %.2f", moonshotAgentOverFloor), MoonshotPass: ca > 0 && ca <= moonshotAgentOverFloor},
		{Name: "b/c", Value: bc, Target: fmt.Sprintf("≥ %.1f", minClassicOverAgent), Pass: bc >= minClassicOverAgent},
		{Name: "agent peak RSS", Value: rss, Unit: " MiB", Target: fmt.Sprintf("≤ %.0f", maxAgentRSSMiB), Pass: rss > 0 && rss <= maxAgentRSSMiB},
	}
	// The target is the agent's, whatever it does: the sweep's settings
	// and the restores count too, in a line of their own.
	var highest contender
	for _, x := range r.contenders()[3:] {
		if x.Agent && peak(x.Runs, true) > peak(highest.Runs, true) {
			highest = x
		}
	}
	if others := float64(peak(highest.Runs, true)) / mib; others > 0 {
		vs = append(vs, verdict{Name: "agent peak RSS in the other pgbackup rows (highest: " + highest.Name + ")", Value: others, Unit: " MiB",
			Target: fmt.Sprintf("≤ %.0f", maxAgentRSSMiB), Pass: others <= maxAgentRSSMiB})
	}
	if r.RestoreJobs > 0 {
		fg := ratio(r.JobsRestore.Wall().Seconds(), r.LocalJobsRestore.Wall().Seconds())
		vs = append(vs, verdict{Name: fmt.Sprintf("restore f/g (-j %d)", r.RestoreJobs), Value: fg,
			Target: fmt.Sprintf("≤ %.2f", maxRestoreOverLocal), Pass: fg > 0 && fg <= maxRestoreOverLocal})
	}
	return vs
}

// write prints the report: the machine and sizes, the table, the
// comparison with the baseline, the targets.
func (r report) write(w io.Writer) error {
	var b strings.Builder
	r.writeHeader(&b)
	rec := r.record()
	if err := writeTable(&b, rec.Contenders); err != nil {
		return err
	}
	r.writeNotes(&b)
	if r.Baseline != nil {
		if err := writeComparison(&b, r.BaselinePath, *r.Baseline, rec); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	for _, v := range rec.Verdicts {
		fmt.Fprintln(&b, v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeader prints what was measured, where and how.
func (r report) writeHeader(b *strings.Builder) {
	fmt.Fprintf(b, "machine:   %s\n", r.Machine)
	fmt.Fprintf(b, "load avg:  %s (before)  %s (after)\n", r.LoadBefore, r.LoadAfter)
	if r.Commit != "" {
		fmt.Fprintf(b, "source:    %s (%s)\n", r.Describe, r.Commit)
	}
	fmt.Fprintf(b, "database:  shape %s, target %d MiB, pg_database_size %s (tables %s, indexes %s); rows:",
		r.Shape, r.TargetMiB, mibString(r.DatabaseBytes), mibString(r.TableBytes), mibString(r.IndexBytes))
	for _, name := range slices.Sorted(maps.Keys(r.Rows)) {
		fmt.Fprintf(b, " %s %d", name, r.Rows[name])
	}
	fmt.Fprintf(b, "\ngenerated: in %s, then VACUUM (ANALYZE) + CHECKPOINT in %s\n", round(r.Generate), round(r.Vacuum))
	agentRaw := "its log does not say how many bytes the agent read from its pg_dump"
	if r.AgentRawBytes > 0 {
		agentRaw = fmt.Sprintf("the agent read %d bytes from its pg_dump", r.AgentRawBytes)
	}
	fmt.Fprintf(b, "raw dump:  %d bytes (%s) from pg_dump -Fc -Z0 | wc -c (warm-up run, not counted: %s); %s\n",
		r.RawBytes, mibString(r.RawBytes), round(r.WarmUp.Wall), agentRaw)
	fmt.Fprintf(b, "runs:      %d per contender (a), (b), (c), in rounds; then once each: the compression sweep, the restores. "+
		"The table shows the median wall time's run and the highest peak RSS\n", r.Runs)
	fmt.Fprintf(b, "scratch:   %s\n", r.Scratch)
	for _, c := range r.Commands {
		fmt.Fprintf(b, "command:   %s\n", c)
	}
	b.WriteString("\n")
}

// tableColumns are the table's headings after the contender's name.
var tableColumns = []string{"wall s", "×floor", "raw MB/s", "stored bytes", "stored/raw", "CPU s", "CPU s/GiB",
	"own CPU s", "own CPU s/GiB", "PG CPU s", "S3 CPU s", "other CPU s", "peak RSS MiB"}

// writeTable prints the rows as one table. Numbers align right; the names,
// padded to one width, stay left; "-" marks what does not apply.
func writeTable(b *strings.Builder, rows []row) error {
	width := utf8.RuneCountInString("contender")
	for _, x := range rows {
		width = max(width, utf8.RuneCountInString(x.Name))
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t%s\t\n", width, "contender", strings.Join(tableColumns, "\t"))
	for _, x := range rows {
		fmt.Fprintf(tw, "%-*s\t%s\t\n", width, x.Name, strings.Join(x.cells(), "\t"))
	}
	return tw.Flush()
}

// cells are the row's figures under tableColumns.
func (x row) cells() []string {
	dash := func(ok bool, format string, v float64) string {
		if !ok {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	return []string{
		fmt.Sprintf("%.2f", x.WallSeconds),
		dash(!x.Restore, "%.2f", x.OverFloor),
		fmt.Sprintf("%.1f", x.RawMBps),
		dash(x.StoredBytes > 0, "%.0f", float64(x.StoredBytes)),
		dash(x.StoredBytes > 0, "%.3f", x.StoredOverRaw),
		fmt.Sprintf("%.1f", x.CPUSeconds),
		fmt.Sprintf("%.1f", x.CPUSecondsPerGiB),
		dash(x.Agent, "%.2f", x.OwnCPUSeconds),
		dash(x.Agent, "%.2f", x.OwnCPUSecondsPerGiB),
		fmt.Sprintf("%.1f", x.PGCPUSeconds),
		fmt.Sprintf("%.1f", x.S3CPUSeconds),
		fmt.Sprintf("%.1f", x.OtherCPUSeconds),
		fmt.Sprintf("%.1f", x.PeakRSSMiB),
	}
}

// writeNotes explains the columns and prints what the table has no room
// for: contention, (b)'s steps, the restores' details, (c)'s process tree.
func (r report) writeNotes(b *strings.Builder) {
	b.WriteString("columns:   ×floor = wall time over (a)'s; raw MB/s = the raw dump's size over the wall time; stored/raw = stored bytes over the raw dump's\n" +
		"           CPU s = the contender's processes (user+sys), CPU s/GiB the same per GiB of raw dump; own CPU = pgbackup's own process, without its pg_dump or pg_restore child\n" +
		"           PG/S3 CPU s = the PostgreSQL (for (d) to (g) the scratch server's) and S3 servers' containers; other CPU s = the rest of the machine (docker exec included), meanwhile\n" +
		"           peak RSS = pgbackup's own for its rows, else the process tree's largest process\n")
	for _, c := range r.contenders() {
		if m := median(c.Runs); m.Wall > 0 && m.OtherCPU.Seconds()/m.Wall.Seconds() > busyOther {
			fmt.Fprintf(b, "WARNING: other work used %.1f cores on average during %s: its times measure the contention too\n",
				m.OtherCPU.Seconds()/m.Wall.Seconds(), c.Name)
		}
	}
	if d, u := median(r.ClassicDump), median(r.ClassicUpload); d.Wall > 0 {
		fmt.Fprintf(b, "\n(b) in steps: pg_dump -Fc to file %.2f s (CPU %.1f s, RSS %.1f MiB), aws s3 cp %.2f s (CPU %.1f s, RSS %.1f MiB)\n",
			d.Wall.Seconds(), d.CPU().Seconds(), float64(peak(r.ClassicDump, false))/mib,
			u.Wall.Seconds(), u.CPU().Seconds(), float64(peak(r.ClassicUpload, false))/mib)
	}
	if v, e := r.VerifyResult, r.LocalRestore.Wall(); v != nil && e > 0 {
		fmt.Fprintf(b, "\n(d) pgbackup verify: wall %.2f s, of which restore %.2f s (download, sha256, decompress, pg_restore streaming); %d tables' row counts compared, %d mismatched\n",
			r.Verify.Wall().Seconds(), v.RestoreSeconds, v.TablesChecked, v.TablesMismatched)
		fmt.Fprintf(b, "(e) pg_restore --single-transaction of a local pg_dump -Fc -Z0 file into the same scratch server: wall %.2f s; restore (d)/(e) = %.2f\n",
			e.Seconds(), v.RestoreSeconds/e.Seconds())
	}
	if f, g := r.JobsRestore.Wall(), r.LocalJobsRestore.Wall(); f > 0 && g > 0 {
		fmt.Fprintf(b, "(f) pgbackup restore --jobs %[1]d: download, sha256 and decompress into the spool directory, then pg_restore -j %[1]d, all measured; "+
			"(g) pg_restore -j %[1]d of the local file (written before, not measured): f/g = %.2[2]f\n", r.RestoreJobs, f.Seconds()/g.Seconds())
	}
	m := median(r.Agent.Runs)
	fmt.Fprintf(b, "(c) process tree incl. pg_dump: peak RSS %.1f MiB; agent+pg_dump CPU %.1f s = %.2f cores busy on average\n",
		float64(peak(r.Agent.Runs, false))/mib, m.CPU().Seconds(), m.CPU().Seconds()/max(m.Wall.Seconds(), 1e-9))
	if line := r.cpuBound(); line != "" {
		b.WriteString(line + "\n")
	}
	if r.Profile != "" {
		fmt.Fprintf(b, "profile:   (c) ran with PGBACKUP_CPU_PROFILE, its times include the profiler's; the last run's profile is %s (go tool pprof -top %[1]s)\n", r.Profile)
	}
	b.WriteString("\n")
}

// cpuBound says how fast (c) could possibly have been on this machine:
// the CPU time its run needed (agent, pg_dump, the PostgreSQL and S3
// servers) spread perfectly over every core. When that alone is above the
// c/a target, no pipeline design meets the target here; only less CPU
// per byte can. Empty without the figures.
func (r report) cpuBound() string {
	a, c := median(r.Floor.Runs), median(r.Agent.Runs)
	if r.Cores <= 0 || a.Wall <= 0 || c.Wall <= 0 {
		return ""
	}
	need := c.CPU() + c.ServerCPU + c.S3CPU
	least := need.Seconds() / float64(r.Cores)
	budget := maxAgentOverFloor * a.Wall.Seconds() * float64(r.Cores)
	return fmt.Sprintf("(c) CPU bound: the run needed %.1f core-seconds (agent+pg_dump %.1f, PostgreSQL %.1f, S3 %.1f); on %d cores no run takes less than %.2f s = %.2f × floor. "+
		"c/a ≤ %.2f allows %.1f core-seconds here",
		need.Seconds(), c.CPU().Seconds(), c.ServerCPU.Seconds(), c.S3CPU.Seconds(), r.Cores, least, least/a.Wall.Seconds(), maxAgentOverFloor, budget)
}

func mibString(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/mib) }

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// parseCgroupCPU reads cgroup v1's cpuacct.usage (nanoseconds) or v2's
// cpu.stat (usage_usec).
func parseCgroupCPU(text string) (time.Duration, error) {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	return time.Duration(ns), err
}
