package bench

import (
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
		wantPass     [3]bool
		wantContains []string
	}{
		{
			name: "all reached", a: 10 * time.Second, b: 26 * time.Second, c: 13 * time.Second, rssMiB: 150,
			wantPass:     [3]bool{true, true, true},
			wantContains: []string{"c/a = 1.30 (target ≤ 1.3): PASS", "b/c = 2.00 (target ≥ 2.0): PASS", "agent peak RSS = 150.00 MiB (target ≤ 150 MiB): PASS"},
		},
		{
			name: "all missed", a: 10 * time.Second, b: 20 * time.Second, c: 14 * time.Second, rssMiB: 151,
			wantContains: []string{"c/a = 1.40 (target ≤ 1.3): MISS", "b/c = 1.43 (target ≥ 2.0): MISS", "agent peak RSS = 151.00 MiB (target ≤ 150 MiB): MISS"},
		},
		{
			// A run without measurements must not pass by dividing by zero.
			name: "nothing measured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report{
				Floor:   contender{Name: "(a)", Runs: run(tt.a, 10)},
				Classic: contender{Name: "(b)", Runs: run(tt.b, 80), Stored: 40},
				Agent:   contender{Name: "(c)", Runs: run(tt.c, tt.rssMiB), Stored: 42, OwnRSS: true},
			}
			vs := r.verdicts()
			for i, v := range vs {
				if v.Pass != tt.wantPass[i] {
					t.Errorf("%s pass = %v, want %v", v, v.Pass, tt.wantPass[i])
				}
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

func TestReportTable(t *testing.T) {
	r := report{
		RawBytes: 100e6,
		Floor:    contender{Name: "(a) floor", Runs: []measurement{{Wall: time.Second, TreeRSS: 12 << 20}}},
		Classic: contender{Name: "(b) classic script", Stored: 25e6,
			Runs: []measurement{{Wall: 4 * time.Second, TreeRSS: 80 << 20, OwnRSS: 1 << 20}}},
		Agent: contender{Name: "(c) agent", Stored: 26e6, OwnRSS: true,
			Runs: []measurement{{Wall: 2 * time.Second, User: time.Second, TreeRSS: 99 << 20, OwnRSS: 90 << 20, ServerCPU: time.Second, S3CPU: 500 * time.Millisecond, OtherCPU: 2 * time.Second}}},
	}
	var out strings.Builder
	if err := r.write(&out); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.Lines(out.String()) {
		row := strings.Join(strings.Fields(line), " ")
		for _, c := range []contender{r.Floor, r.Classic, r.Agent} {
			if strings.HasPrefix(row, c.Name+" ") {
				rows = append(rows, row)
			}
		}
	}
	want := []string{
		"(a) floor 1.00 100.0 - - 0.0 0.0 0.0 0.0 12.0",
		"(b) classic script 4.00 25.0 25000000 0.250 0.0 0.0 0.0 0.0 80.0", // the tree's RSS
		"(c) agent 2.00 50.0 26000000 0.260 1.0 1.0 0.5 2.0 90.0",          // the agent's own RSS
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s\nreport:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), out.String())
	}
	// Only (c) ran while the rest of the machine used a core (2 s in 2 s).
	if got := strings.Count(out.String(), "WARNING"); got != 1 || !strings.Contains(out.String(), "1.0 cores on average during (c) agent") {
		t.Errorf("want one contention warning, for (c):\n%s", out.String())
	}
}
