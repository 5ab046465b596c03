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

	"github.com/pgbackup/pgbackup/backup-agent/result"
)

// The targets for the agent.
const (
	// maxAgentOverFloor bounds c/a: the agent's wall time over pg_dump's alone.
	maxAgentOverFloor = 1.3
	// minClassicOverAgent bounds b/c from below: the classic script's wall
	// time over the agent's.
	minClassicOverAgent = 2.0
	// maxAgentRSSMiB bounds the agent's own peak RSS, whatever the size.
	maxAgentRSSMiB = 150.0
)

const (
	mib = 1 << 20
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
		default:
			continue
		}
		if err != nil {
			return m, fmt.Errorf("measurement %s=%q: %w", key, value, err)
		}
		seen[key] = true
	}
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

// contender is one way of taking the backup, measured Runs times.
type contender struct {
	Name string
	Runs []measurement
	// Stored is the size of what it stored; 0 when it stores nothing.
	Stored int64
	// OwnRSS says which peak RSS the table shows: the command's own (the
	// agent, without its pg_dump child) or its process tree's.
	OwnRSS bool
}

// Wall is the median wall time.
func (c contender) Wall() time.Duration { return median(c.Runs).Wall }

// verdict is a target and whether the measurement reached it.
type verdict struct {
	Name  string
	Value float64
	// Unit follows the value and the target ("" or " MiB").
	Unit   string
	Target string
	Pass   bool
}

func (v verdict) String() string {
	status := "MISS"
	if v.Pass {
		status = "PASS"
	}
	return fmt.Sprintf("%s = %.2f%s (target %s%s): %s", v.Name, v.Value, v.Unit, v.Target, v.Unit, status)
}

// report is what TestBench measured.
type report struct {
	Machine string
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end.
	LoadBefore, LoadAfter string
	TargetMiB             int
	Runs                  int
	// DatabaseBytes is pg_database_size; TableBytes and IndexBytes its
	// benchmark tables' heap+TOAST and indexes.
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
	// ClassicDump and ClassicUpload are the two steps of (b).
	ClassicDump, ClassicUpload []measurement
	// Commands are the contenders' command lines, as run in the bench
	// container.
	Commands []string
	Scratch  string
	// Verify is (d), pgbackup verify of the agent's backup into a scratch
	// server; VerifyResult its summary. LocalRestore is (e), pg_restore of
	// a local uncompressed custom-format file into the same server.
	Verify       measurement
	VerifyResult *result.Verification
	LocalRestore measurement
}

// verdicts compares the agent with the targets.
func (r report) verdicts() []verdict {
	a, b, c := r.Floor.Wall().Seconds(), r.Classic.Wall().Seconds(), r.Agent.Wall().Seconds()
	rss := float64(peak(r.Agent.Runs, true)) / mib
	ratio := func(x, y float64) float64 {
		if y == 0 {
			return 0
		}
		return x / y
	}
	ca, bc := ratio(c, a), ratio(b, c)
	return []verdict{
		{Name: "c/a", Value: ca, Target: fmt.Sprintf("≤ %.1f", maxAgentOverFloor), Pass: ca > 0 && ca <= maxAgentOverFloor},
		{Name: "b/c", Value: bc, Target: fmt.Sprintf("≥ %.1f", minClassicOverAgent), Pass: bc >= minClassicOverAgent},
		{Name: "agent peak RSS", Value: rss, Unit: " MiB", Target: fmt.Sprintf("≤ %.0f", maxAgentRSSMiB), Pass: rss > 0 && rss <= maxAgentRSSMiB},
	}
}

// write prints the report: the machine and sizes, the table, the targets.
func (r report) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "machine:   %s\n", r.Machine)
	fmt.Fprintf(&b, "load avg:  %s (before)  %s (after)\n", r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "database:  target %d MiB, pg_database_size %s (tables %s, indexes %s); rows:",
		r.TargetMiB, mibString(r.DatabaseBytes), mibString(r.TableBytes), mibString(r.IndexBytes))
	for _, name := range slices.Sorted(maps.Keys(r.Rows)) {
		fmt.Fprintf(&b, " %s %d", name, r.Rows[name])
	}
	fmt.Fprintf(&b, "\ngenerated: in %s, then VACUUM (ANALYZE) + CHECKPOINT in %s\n", round(r.Generate), round(r.Vacuum))
	agentRaw := "its log does not say how many bytes the agent read from its pg_dump"
	if r.AgentRawBytes > 0 {
		agentRaw = fmt.Sprintf("the agent read %d bytes from its pg_dump", r.AgentRawBytes)
	}
	fmt.Fprintf(&b, "raw dump:  %d bytes (%s) from pg_dump -Fc -Z0 | wc -c (warm-up run, not counted: %s); %s\n",
		r.RawBytes, mibString(r.RawBytes), round(r.WarmUp.Wall), agentRaw)
	fmt.Fprintf(&b, "runs:      %d per contender, in rounds a, b, c; the table shows the median wall time's run and the highest peak RSS\n", r.Runs)
	fmt.Fprintf(&b, "scratch:   %s\n", r.Scratch)
	for _, c := range r.Commands {
		fmt.Fprintf(&b, "command:   %s\n", c)
	}
	b.WriteString("\n")

	// Numbers align right; the names, padded to one width, stay left.
	contenders := []contender{r.Floor, r.Classic, r.Agent}
	width := len("contender")
	for _, c := range contenders {
		width = max(width, len(c.Name))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\twall s\traw MB/s\tstored bytes\tstored/raw\tCPU s\tPG CPU s\tS3 CPU s\tother CPU s\tpeak RSS MiB\t\n", width, "contender")
	for _, c := range contenders {
		m := median(c.Runs)
		stored, ratio := "-", "-"
		if c.Stored > 0 {
			stored = strconv.FormatInt(c.Stored, 10)
			ratio = fmt.Sprintf("%.3f", float64(c.Stored)/float64(r.RawBytes))
		}
		fmt.Fprintf(tw, "%-*s\t%.2f\t%.1f\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", width, c.Name, m.Wall.Seconds(),
			float64(r.RawBytes)/mb/m.Wall.Seconds(), stored, ratio, m.CPU().Seconds(), m.ServerCPU.Seconds(), m.S3CPU.Seconds(),
			m.OtherCPU.Seconds(), float64(peak(c.Runs, c.OwnRSS))/mib)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("columns: CPU s = the contender's processes (user+sys); PG/S3 CPU s = the servers' containers; " +
		"other CPU s = the rest of the machine (docker exec included), meanwhile\n")
	for _, c := range contenders {
		if m := median(c.Runs); m.Wall > 0 && m.OtherCPU.Seconds()/m.Wall.Seconds() > busyOther {
			fmt.Fprintf(&b, "WARNING: other work used %.1f cores on average during %s: its times measure the contention too\n",
				m.OtherCPU.Seconds()/m.Wall.Seconds(), c.Name)
		}
	}
	if d, u := median(r.ClassicDump), median(r.ClassicUpload); d.Wall > 0 {
		fmt.Fprintf(&b, "\n(b) in steps: pg_dump -Fc to file %.2f s (CPU %.1f s, RSS %.1f MiB), aws s3 cp %.2f s (CPU %.1f s, RSS %.1f MiB)\n",
			d.Wall.Seconds(), d.CPU().Seconds(), float64(peak(r.ClassicDump, false))/mib,
			u.Wall.Seconds(), u.CPU().Seconds(), float64(peak(r.ClassicUpload, false))/mib)
	}
	if v := r.VerifyResult; v != nil && r.LocalRestore.Wall > 0 {
		fmt.Fprintf(&b, "\n(d) pgbackup verify: wall %.2f s, of which restore %.2f s (download, sha256, decompress, pg_restore streaming); %d tables' row counts compared, %d mismatched\n",
			r.Verify.Wall.Seconds(), v.RestoreSeconds, v.TablesChecked, v.TablesMismatched)
		fmt.Fprintf(&b, "(e) pg_restore --single-transaction of a local pg_dump -Fc -Z0 file into the same scratch server: wall %.2f s; restore (d)/(e) = %.2f\n",
			r.LocalRestore.Wall.Seconds(), v.RestoreSeconds/r.LocalRestore.Wall.Seconds())
	}
	fmt.Fprintf(&b, "(c) process tree incl. pg_dump: peak RSS %.1f MiB; agent+pg_dump CPU %.1f s = %.2f cores busy on average\n\n",
		float64(peak(r.Agent.Runs, false))/mib, median(r.Agent.Runs).CPU().Seconds(),
		median(r.Agent.Runs).CPU().Seconds()/max(median(r.Agent.Runs).Wall.Seconds(), 1e-9))
	for _, v := range r.verdicts() {
		fmt.Fprintln(&b, v)
	}
	_, err := io.WriteString(w, b.String())
	return err
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
