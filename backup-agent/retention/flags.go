package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// AddFlags registers the policy's flags, shared by `backup` and `prune`.
func (p *Policy) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&p.KeepLast, "keep-last", p.KeepLast, "retention: keep the N newest backups")
	fs.IntVar(&p.KeepDaily, "keep-daily", p.KeepDaily, "retention: keep the newest backup of each of the N latest days that have one")
	fs.IntVar(&p.KeepWeekly, "keep-weekly", p.KeepWeekly, "retention: keep the newest backup of each of the N latest ISO weeks that have one")
	fs.IntVar(&p.KeepMonthly, "keep-monthly", p.KeepMonthly, "retention: keep the newest backup of each of the N latest months that have one")
	fs.Var((*ageValue)(&p.MaxAge), "max-age", "retention: delete backups older than this (e.g. 720h, 30d, 8w); the newest is always kept")
}

// ageValue is a duration flag that also takes days (d) and weeks (w).
type ageValue time.Duration

func (a *ageValue) String() string {
	if *a == 0 {
		return "0"
	}
	return time.Duration(*a).String()
}

func (a *ageValue) Type() string { return "duration" }

func (a *ageValue) Set(s string) error {
	d, err := ParseAge(s)
	if err != nil {
		return err
	}
	*a = ageValue(d)
	return nil
}

// ParseAge reads a Go duration ("720h") or a whole number of days or
// weeks ("30d", "8w").
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%q is not a whole number of %s", s, map[string]string{"d": "days", "w": "weeks"}[suffix])
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 720h, 30d, 8w)", s)
	}
	return d, nil
}
