package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// history is a backup at 01:00 UTC on each of the 400 days up to now
// (2026-11-29 12:00 UTC), plus an extra one at 13:00 the day before.
func history() ([]Backup, time.Time) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var bs []Backup
	for i := range 400 {
		day := now.AddDate(0, 0, -i)
		t := time.Date(day.Year(), day.Month(), day.Day(), 1, 0, 0, 0, time.UTC)
		bs = append(bs, Backup{ID: manifest.NewID(t, 0), Started: t})
	}
	extra := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
	bs = append(bs, Backup{ID: manifest.NewID(extra, 0), Started: extra})
	return bs, now
}

func survivors(ds []Decision) string {
	var ids []string
	for _, d := range ds {
		if d.Keep {
			ids = append(ids, d.ID)
		}
	}
	return strings.Join(ids, " ")
}

// The expected survivors were worked out independently of this package
// (calendar days, ISO weeks and months of the synthetic history).
func TestDecide400Days(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   string
	}{
		{
			name:   "last 3, daily 7, weekly 4, monthly 12",
			policy: Policy{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12},
			want: "20261129T010000Z 20261128T130000Z 20261128T010000Z 20261127T010000Z 20261126T010000Z 20261125T010000Z " +
				"20261124T010000Z 20261123T010000Z 20261122T010000Z 20261115T010000Z 20261108T010000Z 20261031T010000Z " +
				"20260930T010000Z 20260831T010000Z 20260731T010000Z 20260630T010000Z 20260531T010000Z 20260430T010000Z " +
				"20260331T010000Z 20260228T010000Z 20260131T010000Z 20251231T010000Z",
		},
		{
			name:   "max-age 30 days alone",
			policy: Policy{MaxAge: 30 * 24 * time.Hour},
			want: "20261129T010000Z 20261128T130000Z 20261128T010000Z 20261127T010000Z 20261126T010000Z 20261125T010000Z " +
				"20261124T010000Z 20261123T010000Z 20261122T010000Z 20261121T010000Z 20261120T010000Z 20261119T010000Z " +
				"20261118T010000Z 20261117T010000Z 20261116T010000Z 20261115T010000Z 20261114T010000Z 20261113T010000Z " +
				"20261112T010000Z 20261111T010000Z 20261110T010000Z 20261109T010000Z 20261108T010000Z 20261107T010000Z " +
				"20261106T010000Z 20261105T010000Z 20261104T010000Z 20261103T010000Z 20261102T010000Z 20261101T010000Z " +
				"20261031T010000Z",
		},
		{
			name:   "daily 7 capped by max-age 3 days",
			policy: Policy{KeepDaily: 7, MaxAge: 3 * 24 * time.Hour},
			want:   "20261129T010000Z 20261128T130000Z 20261127T010000Z",
		},
		{
			name:   "last 1, monthly 24 (only 14 months exist)",
			policy: Policy{KeepLast: 1, KeepMonthly: 24},
			want: "20261129T010000Z 20261031T010000Z 20260930T010000Z 20260831T010000Z 20260731T010000Z 20260630T010000Z " +
				"20260531T010000Z 20260430T010000Z 20260331T010000Z 20260228T010000Z 20260131T010000Z 20251231T010000Z " +
				"20251130T010000Z 20251031T010000Z",
		},
		{
			name:   "max-age shorter than the newest backup's age keeps the newest",
			policy: Policy{MaxAge: time.Hour},
			want:   "20261129T010000Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs, now := history()
			ds := Decide(bs, tt.policy, now)
			if len(ds) != len(bs) {
				t.Fatalf("%d decisions for %d backups", len(ds), len(bs))
			}
			if got := survivors(ds); got != tt.want {
				t.Fatalf("survivors:\n got %s\nwant %s", got, tt.want)
			}
			for _, d := range ds {
				if d.Keep && len(d.Reasons) == 0 {
					t.Errorf("%s kept with no reason", d.ID)
				}
			}
		})
	}
}

func TestDecideEdges(t *testing.T) {
	bs, now := history()
	if got := survivors(Decide(bs, Policy{}, now)); strings.Count(got, " ")+1 != len(bs) {
		t.Fatal("an empty policy must keep everything")
	}
	if ds := Decide(nil, Policy{KeepLast: 1}, now); len(ds) != 0 {
		t.Fatal("no backups, no decisions")
	}
	// Same second: the suffixed id is the newer one.
	tm := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	same := []Backup{{ID: manifest.NewID(tm, 0), Started: tm}, {ID: manifest.NewID(tm, 1), Started: tm}}
	if got := survivors(Decide(same, Policy{KeepLast: 1}, now)); got != "20261129T010000Z-1" {
		t.Fatalf("KeepLast 1 of two in one second kept %q", got)
	}
	// Suffixes order as numbers: -10 is newer than -9.
	nine, ten := manifest.NewID(tm, 9), manifest.NewID(tm, 10)
	if got := survivors(Decide([]Backup{{ID: ten, Started: tm}, {ID: nine, Started: tm}}, Policy{KeepLast: 1}, now)); got != ten {
		t.Fatalf("KeepLast 1 of -9 and -10 kept %q", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{KeepLast: 1, MaxAge: time.Hour}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Policy{KeepDaily: -1, MaxAge: -time.Hour}.Validate()
	if err == nil || !strings.Contains(err.Error(), "--keep-daily -1") || !strings.Contains(err.Error(), "--max-age -1h0m0s") {
		t.Fatalf("Validate = %v", err)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"720h": 720 * time.Hour, "30d": 30 * 24 * time.Hour, "8w": 56 * 24 * time.Hour, "90m": 90 * time.Minute, "0": 0} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "1.5d", "-3d", "soon"} {
		if _, err := ParseAge(bad); err == nil {
			t.Errorf("ParseAge(%q) accepted", bad)
		}
	}
}
