package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// values gathers metric from reg: the value per name label.
func values(t *testing.T, reg prometheus.Gatherer, metric string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

func TestRunningSecondsAtScrapeTime(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	m.running.now = func() time.Time { return now }
	m.ObserveRunning("db", "orders", now.Add(-90*time.Second), 4*time.Hour)
	m.ObserveRunning("db", "idle", time.Time{}, time.Hour)

	if got := values(t, reg, "pgbackup_backup_running_seconds"); got["orders"] != 90 || got["idle"] != 0 || len(got) != 2 {
		t.Errorf("running seconds %v", got)
	}
	// No reconcile in between: the scrape alone moves the value on.
	now = now.Add(time.Minute)
	if got := values(t, reg, "pgbackup_backup_running_seconds"); got["orders"] != 150 {
		t.Errorf("running seconds %v, want 150 for orders", got)
	}
	if got := values(t, reg, "pgbackup_backup_running_threshold_seconds"); got["orders"] != 4*3600 || got["idle"] != 3600 {
		t.Errorf("thresholds %v", got)
	}
	m.Forget("db", "orders")
	if got := values(t, reg, "pgbackup_backup_running_seconds"); len(got) != 1 {
		t.Errorf("after Forget: %v", got)
	}
}

func TestLastBackupWarnings(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	st := &v1alpha1.PostgresBackupStatus{}
	m.Observe("db", "orders", st)
	if got := values(t, reg, "pgbackup_last_backup_warnings"); got["orders"] != 0 || len(got) != 1 {
		t.Errorf("before the first run: %v, want 0", got)
	}
	st.RecentBackups = []v1alpha1.BackupRun{{JobName: "new", Warnings: []string{"a", "b"}}, {JobName: "old", Warnings: []string{"c"}}}
	m.Observe("db", "orders", st)
	if got := values(t, reg, "pgbackup_last_backup_warnings"); got["orders"] != 2 {
		t.Errorf("got %v, want the newest run's 2", got)
	}
}

// A second manager in one process (a restarted controller in tests)
// registers again: it adopts the series instead of failing.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, second := New(), New()
	if err := first.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := second.Register(reg); err != nil {
		t.Fatalf("second Register: %v", err)
	}
	second.ObserveRunning("db", "orders", time.Now(), time.Hour)
	if got := values(t, reg, "pgbackup_backup_running_seconds"); len(got) != 1 {
		t.Errorf("the second Metrics does not report through the registered collector: %v", got)
	}
	if first.lastResult != second.lastResult || first.runs != second.runs || first.running != second.running {
		t.Error("collectors not adopted")
	}
}
