package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// Policy is a retention policy; the zero value keeps everything.
type Policy struct {
	KeepLast    int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	// MaxAge deletes backups older than this (0: no limit).
	MaxAge time.Duration
}

// Empty reports a policy with no rule: nothing is ever deleted.
func (p Policy) Empty() bool {
	return p.KeepLast == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0 && p.MaxAge == 0
}

// Validate rejects negative counts and ages.
func (p Policy) Validate() error {
	var bad []string
	for name, v := range map[string]int{"--keep-last": p.KeepLast, "--keep-daily": p.KeepDaily, "--keep-weekly": p.KeepWeekly, "--keep-monthly": p.KeepMonthly} {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("%s %d", name, v))
		}
	}
	if p.MaxAge < 0 {
		bad = append(bad, "--max-age "+p.MaxAge.String())
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("retention must not be negative: %s", strings.Join(bad, ", "))
	}
	return nil
}

func (p Policy) hasKeepRule() bool {
	return p.KeepLast > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0
}

// Backup is a complete backup as retention sees it.
type Backup struct {
	ID      string
	Started time.Time
	// Protected, when not empty, says why the backup is kept whatever the
	// policy (for example "this run": the backup the run just committed).
	Protected string
}

// Decision is the verdict on one backup, with the rules that kept it.
type Decision struct {
	Backup
	Keep    bool
	Reasons []string
}

// Decide applies the policy to complete backups (any order) at time now
// and returns a decision per backup, newest first.
func Decide(backups []Backup, p Policy, now time.Time) []Decision {
	ds := make([]Decision, len(backups))
	for i, b := range backups {
		ds[i] = Decision{Backup: b}
	}
	slices.SortStableFunc(ds, func(a, b Decision) int { return manifest.CompareIDs(b.ID, a.ID) })
	if len(ds) == 0 {
		return ds
	}
	if p.Empty() {
		for i := range ds {
			ds[i].Keep, ds[i].Reasons = true, []string{"no retention policy"}
		}
		return ds
	}
	keep := func(i int, why string) {
		ds[i].Keep = true
		ds[i].Reasons = append(ds[i].Reasons, why)
	}
	for i := 0; i < len(ds) && i < p.KeepLast; i++ {
		keep(i, "last")
	}
	bucketRule(ds, p.KeepDaily, "daily", func(t time.Time) string { return t.UTC().Format("2006-01-02") }, keep)
	bucketRule(ds, p.KeepWeekly, "weekly", func(t time.Time) string {
		y, w := t.UTC().ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}, keep)
	bucketRule(ds, p.KeepMonthly, "monthly", func(t time.Time) string { return t.UTC().Format("2006-01") }, keep)
	if !p.hasKeepRule() {
		for i := range ds {
			ds[i].Keep = true
		}
	}
	if p.MaxAge > 0 {
		for i := range ds {
			if ds[i].Keep && now.Sub(ds[i].Started) > p.MaxAge {
				ds[i].Keep, ds[i].Reasons = false, nil
			} else if ds[i].Keep && !p.hasKeepRule() {
				ds[i].Reasons = []string{"within max-age"}
			}
		}
	}
	for i := range ds {
		if ds[i].Protected != "" {
			if !ds[i].Keep {
				ds[i].Reasons = nil
			}
			keep(i, ds[i].Protected)
		}
	}
	// The newest complete backup is never deleted, whatever the policy.
	if !ds[0].Keep {
		keep(0, "newest")
	} else if !slices.Contains(ds[0].Reasons, "newest") {
		ds[0].Reasons = append(ds[0].Reasons, "newest")
	}
	return ds
}

// bucketRule keeps the newest backup of each of the n most recent periods
// (as named by period) that have one; ds is newest first.
func bucketRule(ds []Decision, n int, name string, period func(time.Time) string, keep func(int, string)) {
	last := ""
	for i := 0; i < len(ds) && n > 0; i++ {
		p := period(ds[i].Started)
		if p == last {
			continue
		}
		last = p
		keep(i, name+" "+p)
		n--
	}
}
