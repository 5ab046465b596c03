package bench

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
)

// regressionPercent is how much worse than the baseline a figure may get
// before the comparison flags it: more than run-to-run noise on a quiet
// machine, less than a change worth a look.
const regressionPercent = 5.0

// metric is one figure the comparison follows. For each of them more is
// worse.
type metric struct {
	Name   string
	format string
	// value returns the row's figure, and false when it does not apply
	// to the row (own CPU of a row that is not pgbackup's, the stored size
	// of a restore).
	value func(row) (float64, bool)
}

// comparedMetrics are the figures a baseline comparison shows, in order.
var comparedMetrics = []metric{
	{Name: "wall s", format: "%.2f", value: func(x row) (float64, bool) { return x.WallSeconds, true }},
	{Name: "own CPU s/GiB", format: "%.2f", value: func(x row) (float64, bool) { return x.OwnCPUSecondsPerGiB, x.Agent }},
	{Name: "stored bytes", format: "%.0f", value: func(x row) (float64, bool) { return float64(x.StoredBytes), x.StoredBytes > 0 }},
	{Name: "peak RSS MiB", format: "%.1f", value: func(x row) (float64, bool) { return x.PeakRSSMiB, true }},
}

// delta is one metric of one row, then and now.
type delta struct {
	Metric   metric
	Old, New float64
	// Both says both rows have the figure; without it there is nothing
	// to compare.
	Both bool
}

// Percent is the change relative to the baseline; false when there is
// none to compute (a figure missing, or 0 in the baseline).
func (d delta) Percent() (float64, bool) {
	if !d.Both || d.Old == 0 {
		return 0, false
	}
	return (d.New - d.Old) / d.Old * 100, true
}

// Regression says the figure got worse by more than regressionPercent.
func (d delta) Regression() bool {
	p, ok := d.Percent()
	return ok && p > regressionPercent
}

func (d delta) String() string {
	if !d.Both {
		return "-"
	}
	s := fmt.Sprintf(d.Metric.format+" → "+d.Metric.format, d.Old, d.New)
	if p, ok := d.Percent(); ok {
		s += fmt.Sprintf(" (%+.1f%%)", p)
	}
	return s
}

// rowComparison is one row of the current run against the baseline's row
// of the same ID.
type rowComparison struct {
	ID, Name string
	// InBaseline and InCurrent say which of the two runs have the row;
	// Deltas (one per comparedMetrics) exist only when both do.
	InBaseline, InCurrent bool
	Deltas                []delta
}

// Regressions names the metrics that regressed.
func (c rowComparison) Regressions() []string {
	var names []string
	for _, d := range c.Deltas {
		if d.Regression() {
			names = append(names, d.Metric.Name)
		}
	}
	return names
}

// compareRecords compares every row of cur with the baseline's row of
// the same ID, in cur's order; rows only the baseline has come last.
func compareRecords(old, cur record) []rowComparison {
	baseline := map[string]row{}
	for _, x := range old.Contenders {
		baseline[x.ID] = x
	}
	var out []rowComparison
	seen := map[string]bool{}
	for _, x := range cur.Contenders {
		seen[x.ID] = true
		c := rowComparison{ID: x.ID, Name: x.Name, InCurrent: true}
		if o, ok := baseline[x.ID]; ok {
			c.InBaseline = true
			for _, m := range comparedMetrics {
				ov, ook := m.value(o)
				nv, nok := m.value(x)
				c.Deltas = append(c.Deltas, delta{Metric: m, Old: ov, New: nv, Both: ook && nok})
			}
		}
		out = append(out, c)
	}
	for _, o := range old.Contenders {
		if !seen[o.ID] {
			out = append(out, rowComparison{ID: o.ID, Name: o.Name, InBaseline: true})
		}
	}
	return out
}

// caveats says how the baseline's run differs from this one in ways that
// make a row's figures differ for reasons other than the code.
func caveats(old, cur record) []string {
	var out []string
	if old.Shape != cur.Shape {
		out = append(out, fmt.Sprintf("the baseline's data shape is %s, this run's %s: the rows compare different data", old.Shape, cur.Shape))
	}
	if old.RawBytes > 0 && math.Abs(float64(cur.RawBytes-old.RawBytes))/float64(old.RawBytes) > regressionPercent/100 {
		out = append(out, fmt.Sprintf("the baseline's raw dump has %d bytes, this run's %d: sizes and times scale with it", old.RawBytes, cur.RawBytes))
	}
	if old.Machine != cur.Machine {
		out = append(out, "the baseline ran on another machine: "+old.Machine)
	}
	return out
}

// writeComparison prints the comparison of cur with the baseline read
// from path, a summary line last.
func writeComparison(b *strings.Builder, path string, old, cur record) error {
	fmt.Fprintf(b, "baseline:  %s: %s", path, old.Finished)
	if old.Commit != "" {
		fmt.Fprintf(b, ", %s (%s)", old.Describe, old.Commit)
	}
	fmt.Fprintf(b, ", shape %s, target %d MiB, raw dump %d bytes\n", old.Shape, old.TargetMiB, old.RawBytes)
	for _, c := range caveats(old, cur) {
		fmt.Fprintf(b, "WARNING: %s\n", c)
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "contender (baseline → this run)")
	for _, m := range comparedMetrics {
		fmt.Fprintf(tw, "\t%s", m.Name)
	}
	fmt.Fprint(tw, "\t\n")
	regressed, compared := 0, 0
	for _, c := range compareRecords(old, cur) {
		// Every line has every cell, empty or not: tabwriter aligns a
		// column only over consecutive lines that have it.
		cells := make([]string, len(comparedMetrics)+1)
		switch {
		case !c.InBaseline:
			cells[0] = "not in the baseline"
		case !c.InCurrent:
			cells[0] = "only in the baseline"
		default:
			compared++
			for i, d := range c.Deltas {
				cells[i] = d.String()
			}
			if r := c.Regressions(); len(r) > 0 {
				regressed++
				cells[len(cells)-1] = "REGRESSION: " + strings.Join(r, ", ")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", c.Name, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Lines without a flag end in the padding of its empty cell.
	for line := range strings.Lines(table.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	if regressed == 0 {
		fmt.Fprintf(b, "comparison: of %d rows compared, none has a figure worse than the baseline by more than %.0f%%\n", compared, regressionPercent)
	} else {
		fmt.Fprintf(b, "comparison: REGRESSION in %d of %d rows compared (a figure worse than the baseline by more than %.0f%%)\n", regressed, compared, regressionPercent)
	}
	return nil
}
