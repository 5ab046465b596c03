package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMeasurement(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    measurement
		wantErr string
	}{
		{
			name: "complete",
			text: "exit=0\nwall_ns=1500000000\nuser_s=1.25\nsys_s=0.25\ntree_rss_kb=2048\nown_rss_kb=1024\n",
			want: measurement{Wall: 1500 * time.Millisecond, User: 1250 * time.Millisecond, Sys: 250 * time.Millisecond, TreeRSS: 2 << 20, OwnRSS: 1 << 20},
		},
		{
			name: "own CPU time",
			text: "exit=0\nwall_ns=1500000000\nuser_s=1.25\nsys_s=0.25\ntree_rss_kb=2048\nown_rss_kb=1024\nown_cpu_s=0.420\n",
			want: measurement{Wall: 1500 * time.Millisecond, User: 1250 * time.Millisecond, Sys: 250 * time.Millisecond, TreeRSS: 2 << 20, OwnRSS: 1 << 20,
				OwnCPU: 420 * time.Millisecond},
		},
		{name: "bad own CPU time", text: "exit=0\nwall_ns=1\nuser_s=0\nsys_s=0\ntree_rss_kb=1\nown_rss_kb=0\nown_cpu_s=x\n", wantErr: "own_cpu_s"},
		{
			name: "failed command, unknown keys ignored",
			text: "exit=4\nwall_ns=1\nuser_s=0.00\nsys_s=0.00\ntree_rss_kb=0\nown_rss_kb=0\nextra=x\n",
			want: measurement{Exit: 4, Wall: 1},
		},
		{name: "missing key", text: "exit=0\nwall_ns=1\nuser_s=0\nsys_s=0\ntree_rss_kb=1\n", wantErr: "no own_rss_kb"},
		{name: "GNU time printed nothing", text: "exit=0\nwall_ns=1\nuser_s=\nsys_s=0\ntree_rss_kb=1\nown_rss_kb=0\n", wantErr: "user_s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMeasurement(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCgroupCPU(t *testing.T) {
	tests := []struct {
		text    string
		want    time.Duration
		wantErr bool
	}{
		{text: "3642765508\n", want: 3642765508}, // v1 cpuacct.usage
		{text: "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n", want: 1500 * time.Millisecond}, // v2 cpu.stat
		{text: "", wantErr: true},
		{text: "user_usec 1\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseCgroupCPU(tt.text)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseCgroupCPU(%q) = %v, %v; want %v, error %v", tt.text, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMedianAndPeak(t *testing.T) {
	runs := []measurement{
		{Wall: 3 * time.Second, TreeRSS: 30, OwnRSS: 3},
		{Wall: 1 * time.Second, TreeRSS: 10, OwnRSS: 9},
		{Wall: 2 * time.Second, TreeRSS: 20, OwnRSS: 2},
		{Wall: 4 * time.Second, TreeRSS: 40, OwnRSS: 4},
	}
	if got := median(runs).Wall; got != 2*time.Second {
		t.Errorf("median of 4 = %v, want the lower middle run, 2s", got)
	}
	if got := median(runs[:3]).Wall; got != 2*time.Second {
		t.Errorf("median of 3 = %v, want 2s", got)
	}
	if got := median(nil); got != (measurement{}) {
		t.Errorf("median of none = %+v", got)
	}
	if got := peak(runs, true); got != 9 {
		t.Errorf("own peak = %d, want 9", got)
	}
	if got := peak(runs, false); got != 40 {
		t.Errorf("tree peak = %d, want 40", got)
	}
}

func TestVerdicts(t *testing.T) {
	run := func(wall time.Duration, rssMiB int64) []measurement {
		return []measurement{{Wall: wall, OwnRSS: rssMiB << 20, TreeRSS: (rssMiB + 1) << 20}}
	}
	tests := []struct {
		name         string
		a, b, c      time.Duration
		rssMiB       int64
		jobs         int
		f, g         time.Duration
		wantPass     []bool
		wantContains []string
	}{
		{
			name: "all reached, moonshot not yet", a: 10 * time.Second, b: 23 * time.Second, c: 11500 * time.Millisecond, rssMiB: 96,
			jobs: 2, f: 12500 * time.Millisecond, g: 10 * time.Second,
			wantPass: []bool{true, true, true, true},
			wantContains: []string{
				"c/a = 1.15 (target ≤ 1.15): PASS; moonshot ≤ 1.05: not yet", "b/c = 2.00 (target ≥ 2.0): PASS",
				"agent peak RSS = 96.00 MiB (target ≤ 96 MiB): PASS", "restore f/g (-j 2) = 1.25 (target ≤ 1.25): PASS",
			},
		},
		{
			name: "moonshot reached", a: 10 * time.Second, b: 21 * time.Second, c: 10500 * time.Millisecond, rssMiB: 40,
			wantPass:     []bool{true, true, true},
			wantContains: []string{"c/a = 1.05 (target ≤ 1.15): PASS; moonshot ≤ 1.05: reached"},
		},
		{
			name: "all missed", a: 10 * time.Second, b: 20 * time.Second, c: 12 * time.Second, rssMiB: 97,
			jobs: 4, f: 13 * time.Second, g: 10 * time.Second,
			wantPass: []bool{false, false, false, false},
			wantContains: []string{
				"c/a = 1.20 (target ≤ 1.15): MISS; moonshot ≤ 1.05: not yet", "b/c = 1.67 (target ≥ 2.0): MISS",
				"agent peak RSS = 97.00 MiB (target ≤ 96 MiB): MISS", "restore f/g (-j 4) = 1.30 (target ≤ 1.25): MISS",
			},
		},
		{
			// A run without measurements must not pass by dividing by zero.
			name: "nothing measured", jobs: 2,
			wantPass: []bool{false, false, false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report{
				Floor:       contender{ID: "a", Name: "(a)", Runs: run(tt.a, 10)},
				Classic:     contender{ID: "b", Name: "(b)", Runs: run(tt.b, 80), Stored: 40},
				Agent:       contender{ID: "c", Name: "(c)", Runs: run(tt.c, tt.rssMiB), Stored: 42, Agent: true},
				RestoreJobs: tt.jobs,
			}
			if tt.jobs > 0 && tt.f > 0 {
				r.JobsRestore = contender{ID: "f", Name: "(f)", Runs: run(tt.f, 30), Agent: true, Restore: true}
				r.LocalJobsRestore = contender{ID: "g", Name: "(g)", Runs: run(tt.g, 20), Restore: true}
			}
			vs := r.verdicts()
			var got []bool
			for _, v := range vs {
				if !strings.HasPrefix(v.Name, "agent peak RSS in the other") {
					got = append(got, v.Pass)
				}
			}
			if !slices.Equal(got, tt.wantPass) {
				t.Errorf("passes %v, want %v: %v", got, tt.wantPass, vs)
			}
			var out strings.Builder
			if err := r.write(&out); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.wantContains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("report lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// The RSS target holds for every run of pgbackup, not only (c) at its
// defaults: the highest of the other rows has a line of its own.
func TestVerdictsOtherAgentRows(t *testing.T) {
	rss := func(mib int64) []measurement {
		return []measurement{{Wall: time.Second, OwnRSS: mib << 20, TreeRSS: 500 << 20}}
	}
	r := report{
		Floor:        contender{Name: "(a)", Runs: rss(1)},
		Classic:      contender{Name: "(b)", Runs: rss(1)},
		Agent:        contender{Name: "(c)", Runs: rss(50), Agent: true},
		Sweep:        []contender{{Name: "(c) zstd:19", Runs: rss(120), Agent: true}},
		Verify:       contender{Name: "(d)", Runs: rss(70), Agent: true, Restore: true},
		LocalRestore: contender{Name: "(e)", Runs: rss(400), Restore: true}, // pg_restore's tree: not the agent
	}
	want := "agent peak RSS in the other pgbackup rows (highest: (c) zstd:19) = 120.00 MiB (target ≤ 96 MiB): MISS"
	var lines []string
	for _, v := range r.verdicts() {
		lines = append(lines, v.String())
	}
	if !slices.Contains(lines, want) {
		t.Errorf("verdicts:\n%s\nwant a line %q", strings.Join(lines, "\n"), want)
	}
	r.Sweep = nil
	r.Verify = contender{}
	for _, v := range r.verdicts() {
		if strings.Contains(v.Name, "other pgbackup rows") {
			t.Errorf("no other pgbackup row ran, yet %s", v)
		}
	}
}

func TestReportTable(t *testing.T) {
	r := report{
		RawBytes: 1 << 30,
		Floor:    contender{ID: "a", Name: "(a) floor", Runs: []measurement{{Wall: 10 * time.Second, User: 4 * time.Second, TreeRSS: 12 << 20}}},
		Classic: contender{ID: "b", Name: "(b) classic script", Stored: 268435456,
			Runs: []measurement{{Wall: 40 * time.Second, TreeRSS: 80 << 20, OwnRSS: 1 << 20, OwnCPU: time.Second}}},
		Agent: contender{ID: "c", Name: "(c) agent", Stored: 279172874, Agent: true,
			Runs: []measurement{{Wall: 20 * time.Second, User: 10 * time.Second, Sys: 2 * time.Second, OwnCPU: 5 * time.Second,
				TreeRSS: 99 << 20, OwnRSS: 90 << 20, ServerCPU: time.Second, S3CPU: 500 * time.Millisecond, OtherCPU: 20 * time.Second}}},
		Sweep: []contender{{ID: "c:none", Name: "(c) agent none", Stored: 1 << 30, Agent: true,
			Runs: []measurement{{Wall: 11 * time.Second, User: 5 * time.Second, OwnCPU: 1500 * time.Millisecond, OwnRSS: 60 << 20}}}},
		LocalRestore: contender{ID: "e", Name: "(e) local restore", Restore: true,
			Runs: []measurement{{Wall: 8 * time.Second, User: 3 * time.Second, TreeRSS: 30 << 20, OwnCPU: time.Second}}},
	}
	var out strings.Builder
	if err := r.write(&out); err != nil {
		t.Fatal(err)
	}
	var rows []string
	names := []string{"contender", r.Floor.Name, r.Classic.Name, r.Agent.Name, r.Sweep[0].Name, r.LocalRestore.Name}
	// The longest name first: "(c) agent" is a prefix of "(c) agent none".
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for line := range strings.Lines(out.String()) {
		row := strings.Join(strings.Fields(line), " ")
		for _, name := range names {
			if strings.HasPrefix(row, name+" ") {
				rows = append(rows, row)
				break
			}
		}
	}
	want := []string{
		"contender wall s ×floor raw MB/s stored bytes stored/raw CPU s CPU s/GiB own CPU s own CPU s/GiB PG CPU s S3 CPU s other CPU s peak RSS MiB",
		"(a) floor 10.00 1.00 107.4 - - 4.0 4.0 - - 0.0 0.0 0.0 12.0",
		"(b) classic script 40.00 4.00 26.8 268435456 0.250 0.0 0.0 - - 0.0 0.0 0.0 80.0", // the tree's RSS, no own CPU
		"(c) agent 20.00 2.00 53.7 279172874 0.260 12.0 12.0 5.00 5.00 1.0 0.5 20.0 90.0", // the agent's own RSS and CPU
		"(c) agent none 11.00 1.10 97.6 1073741824 1.000 5.0 5.0 1.50 1.50 0.0 0.0 0.0 60.0",
		"(e) local restore 8.00 - 134.2 - - 3.0 3.0 - - 0.0 0.0 0.0 30.0", // a restore: no ratio to the floor
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s\nreport:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), out.String())
	}
	// Only (c) ran while the rest of the machine used a core (20 s in 20 s).
	if got := strings.Count(out.String(), "WARNING"); got != 1 || !strings.Contains(out.String(), "1.0 cores on average during (c) agent") {
		t.Errorf("want one contention warning, for (c):\n%s", out.String())
	}
	// (f) and (g) did not run: no verdict on them.
	if strings.Contains(out.String(), "f/g") {
		t.Errorf("the report shows what did not run:\n%s", out.String())
	}
}

func TestParseCompressions(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "", want: nil},
		{in: "none,gzip:1, zstd:1 ,zstd:3,", want: []string{"none", "gzip:1", "zstd:1", "zstd:3"}},
		{in: "zstd", want: []string{"zstd"}},
		{in: "lz4", wantErr: `"lz4"`},
		{in: "none:1", wantErr: "none has no level"},
		{in: "zstd:fast", wantErr: "not a whole number"},
		{in: "zstd:1,zstd:1", wantErr: "twice"},
	}
	for _, tt := range tests {
		got, err := parseCompressions(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseCompressions(%q) error = %v, want one mentioning %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseCompressions(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got := sweepPrefix("zstd:1"); got != "agent-zstd-1" {
		t.Errorf("sweepPrefix(zstd:1) = %q", got)
	}
}

func TestCompareRecords(t *testing.T) {
	agent := func(id string, wall, ownPerGiB float64, stored int64, rss float64) row {
		return row{ID: id, Name: "(" + id + ")", Agent: true, WallSeconds: wall, OwnCPUSecondsPerGiB: ownPerGiB, StoredBytes: stored, PeakRSSMiB: rss}
	}
	tests := []struct {
		name            string
		old, cur        row
		wantDeltas      []string
		wantRegressions []string
	}{
		{
			name: "unchanged", old: agent("c", 10, 2, 1000, 50), cur: agent("c", 10, 2, 1000, 50),
			wantDeltas: []string{"10.00 → 10.00 (+0.0%)", "2.00 → 2.00 (+0.0%)", "1000 → 1000 (+0.0%)", "50.0 → 50.0 (+0.0%)"},
		},
		{
			// Exactly 5% worse is noise; a little more is a regression.
			name: "at and beyond the threshold", old: agent("c", 10, 2, 1000, 50), cur: agent("c", 10.5, 2.11, 1051, 52.5),
			wantDeltas:      []string{"10.00 → 10.50 (+5.0%)", "2.00 → 2.11 (+5.5%)", "1000 → 1051 (+5.1%)", "50.0 → 52.5 (+5.0%)"},
			wantRegressions: []string{"own CPU s/GiB", "stored bytes"},
		},
		{
			name: "better is no regression", old: agent("c", 10, 2, 1000, 50), cur: agent("c", 5, 1, 900, 40),
			wantDeltas: []string{"10.00 → 5.00 (-50.0%)", "2.00 → 1.00 (-50.0%)", "1000 → 900 (-10.0%)", "50.0 → 40.0 (-20.0%)"},
		},
		{
			// No own CPU outside pgbackup's rows, no stored size for what
			// stores nothing; a figure 0 in the baseline has no percentage.
			name: "figures that do not apply", old: row{ID: "e", Name: "(e)", Restore: true, WallSeconds: 4},
			cur:             row{ID: "e", Name: "(e)", Restore: true, WallSeconds: 5, PeakRSSMiB: 30},
			wantDeltas:      []string{"4.00 → 5.00 (+25.0%)", "-", "-", "0.0 → 30.0"},
			wantRegressions: []string{"wall s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := compareRecords(record{Contenders: []row{tt.old}}, record{Contenders: []row{tt.cur}})
			if len(cs) != 1 || !cs[0].InBaseline || !cs[0].InCurrent {
				t.Fatalf("comparisons %+v, want one of a row in both", cs)
			}
			var got []string
			for _, d := range cs[0].Deltas {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tt.wantDeltas) {
				t.Errorf("deltas %q, want %q", got, tt.wantDeltas)
			}
			if r := cs[0].Regressions(); !slices.Equal(r, tt.wantRegressions) {
				t.Errorf("regressions %q, want %q", r, tt.wantRegressions)
			}
		})
	}
}

func TestCompareRecordsMatchesRowsByID(t *testing.T) {
	old := record{Contenders: []row{{ID: "a", Name: "(a)"}, {ID: "c:gzip:1", Name: "(c) gzip:1"}, {ID: "f:2", Name: "(f) -j 2"}}}
	cur := record{Contenders: []row{{ID: "a", Name: "(a)"}, {ID: "c:zstd:1", Name: "(c) zstd:1"}, {ID: "f:2", Name: "(f) -j 2"}}}
	var got []string
	for _, c := range compareRecords(old, cur) {
		got = append(got, fmt.Sprintf("%s %v %v", c.ID, c.InBaseline, c.InCurrent))
	}
	want := []string{"a true true", "c:zstd:1 false true", "f:2 true true", "c:gzip:1 true false"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWriteComparison(t *testing.T) {
	old := record{Finished: "2025-01-01T00:00:00Z", Commit: "abc1234", Describe: "v0.1.0-3-gabc1234", Shape: "text", TargetMiB: 48, RawBytes: 1000, Machine: "m",
		Contenders: []row{
			{ID: "a", Name: "(a) floor", WallSeconds: 10, PeakRSSMiB: 10},
			{ID: "c", Name: "(c) agent", Agent: true, WallSeconds: 11, OwnCPUSecondsPerGiB: 2, StoredBytes: 300, PeakRSSMiB: 50},
			{ID: "c:gzip:1", Name: "(c) gzip:1", Agent: true, WallSeconds: 11, StoredBytes: 300, PeakRSSMiB: 50},
		}}
	cur := old
	cur.Shape, cur.RawBytes = "bytea", 2000
	cur.Contenders = []row{
		{ID: "a", Name: "(a) floor", WallSeconds: 10, PeakRSSMiB: 10},
		{ID: "c", Name: "(c) agent", Agent: true, WallSeconds: 12, OwnCPUSecondsPerGiB: 2, StoredBytes: 300, PeakRSSMiB: 60},
		{ID: "d", Name: "(d) verify", Agent: true, Restore: true, WallSeconds: 3, PeakRSSMiB: 40},
	}
	var b strings.Builder
	if err := writeComparison(&b, "old.json", old, cur); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"baseline:  old.json: 2025-01-01T00:00:00Z, v0.1.0-3-gabc1234 (abc1234), shape text, target 48 MiB, raw dump 1000 bytes",
		"WARNING: the baseline's data shape is text, this run's bytea",
		"WARNING: the baseline's raw dump has 1000 bytes, this run's 2000",
		"REGRESSION: wall s, peak RSS MiB",
		"comparison: REGRESSION in 1 of 2 rows compared",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("comparison lacks %q:\n%s", s, out)
		}
	}
	lines := map[string]string{}
	for line := range strings.Lines(out) {
		if name, _, ok := strings.Cut(line, "  "); ok {
			lines[name] = strings.Join(strings.Fields(line), " ")
		}
	}
	for name, want := range map[string]string{
		"(a) floor":  "(a) floor 10.00 → 10.00 (+0.0%) - - 10.0 → 10.0 (+0.0%)",
		"(d) verify": "(d) verify not in the baseline",
		"(c) gzip:1": "(c) gzip:1 only in the baseline",
	} {
		if lines[name] != want {
			t.Errorf("line %q, want %q:\n%s", lines[name], want, out)
		}
	}
	if strings.Count(out, "REGRESSION:") != 1 {
		t.Errorf("want one regressed row:\n%s", out)
	}
	for line := range strings.Lines(out) {
		if strings.HasSuffix(line, " \n") {
			t.Errorf("line %q ends in blanks", line)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := report{
		Shape: "numeric", TargetMiB: 64, Runs: 1, RawBytes: 1 << 30, Finished: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Floor: contender{ID: "a", Name: "(a)", Runs: []measurement{{Wall: 1500 * time.Millisecond}}},
		Agent: contender{ID: "c", Name: "(c)", Agent: true, Runs: []measurement{{Wall: 2 * time.Second, OwnCPU: 250 * time.Millisecond}}},
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := writeRecord(path, r.record()); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Shape != "numeric" || got.Finished != "2025-01-02T03:04:05Z" || len(got.Contenders) != 3 {
		t.Fatalf("read back %+v", got)
	}
	c := got.Contenders[2]
	if c.ID != "c" || c.WallSeconds != 2 || c.OwnCPUSeconds != 0.25 || c.OwnCPUSecondsPerGiB != 0.25 || c.OverFloor != 2.0/1.5 || len(c.Measurements) != 1 {
		t.Errorf("agent row read back as %+v", c)
	}
	// The field names are the file's contract with later runs.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"schemaVersion": 1`, `"wallSeconds": 2`, `"ownCPUSecondsPerGiB": 0.25`, `"peakRSSMiB"`, `"verdicts"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("JSON lacks %s:\n%s", field, raw)
		}
	}

	if err := os.WriteFile(path, []byte(`{"schemaVersion": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRecord(path); err == nil || !strings.Contains(err.Error(), "schemaVersion 2") {
		t.Errorf("a baseline of another version: err = %v", err)
	}
}

func TestCPUBound(t *testing.T) {
	floor := contender{Runs: []measurement{{Wall: 10 * time.Second}}}
	agent := contender{Runs: []measurement{{Wall: 14 * time.Second, User: 20 * time.Second, Sys: 2 * time.Second,
		ServerCPU: 4 * time.Second, S3CPU: 2 * time.Second}}}
	r := report{Cores: 2, Floor: floor, Agent: agent}
	// 28 core-seconds on 2 cores: at least 14 s, 1.40 × the floor's 10 s;
	// c/a ≤ 1.15 would allow 23 core-seconds.
	want := "(c) CPU bound: the run needed 28.0 core-seconds (agent+pg_dump 22.0, PostgreSQL 4.0, S3 2.0); on 2 cores no run takes less than 14.00 s = 1.40 × floor. c/a ≤ 1.15 allows 23.0 core-seconds here"
	if got := r.cpuBound(); got != want {
		t.Errorf("cpuBound:\n got %s\nwant %s", got, want)
	}
	var out strings.Builder
	if err := r.write(&out); err != nil || !strings.Contains(out.String(), want) {
		t.Errorf("the report lacks the CPU bound (%v):\n%s", err, out.String())
	}
	if got := (report{Floor: floor, Agent: agent}).cpuBound(); got != "" {
		t.Errorf("without the number of cores: %q, want nothing", got)
	}
}
