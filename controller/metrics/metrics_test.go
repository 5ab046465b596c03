package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

func TestVerificationMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	names := []string{"pgbackup_last_verification_succeeded", "pgbackup_last_verified_timestamp_seconds", "pgbackup_restore_seconds",
		"pgbackup_verify_max_age_seconds", "pgbackup_verify_enabled_timestamp_seconds"}
	present := func() map[string]float64 {
		out := map[string]float64{}
		for _, n := range names {
			if v, ok := values(t, reg, n)["orders"]; ok {
				out[n] = v
			}
		}
		return out
	}
	enabled := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	spec := &v1alpha1.VerifySpec{Schedule: "@weekly"}
	st := &v1alpha1.PostgresBackupStatus{}

	m.ObserveVerification("db", "orders", spec, st, enabled)
	if got := present(); len(got) != 2 || got["pgbackup_verify_max_age_seconds"] != 8*24*3600 ||
		got["pgbackup_verify_enabled_timestamp_seconds"] != float64(enabled.Unix()) {
		t.Errorf("before the first verification: %v, want only the max age (default 8 days) and when it was enabled", got)
	}

	done := enabled.Add(time.Hour)
	st.LastVerification = &v1alpha1.VerificationRun{Result: v1alpha1.ResultSucceeded}
	st.LastVerifiedBackup = &v1alpha1.VerifiedBackup{Time: metav1.NewTime(done), RestoreSeconds: 42}
	m.ObserveVerification("db", "orders", spec, st, enabled)
	if got := present(); got["pgbackup_last_verification_succeeded"] != 1 || got["pgbackup_last_verified_timestamp_seconds"] != float64(done.Unix()) ||
		got["pgbackup_restore_seconds"] != 42 || len(got) != 5 {
		t.Errorf("after a success: %v", got)
	}
	st.LastVerification = &v1alpha1.VerificationRun{Result: v1alpha1.ResultFailed}
	m.ObserveVerification("db", "orders", spec, st, enabled)
	if got := present(); got["pgbackup_last_verification_succeeded"] != 0 || got["pgbackup_restore_seconds"] != 42 {
		t.Errorf("after a failure: %v", got)
	}

	// spec.verify removed: every verification series goes.
	m.ObserveVerification("db", "orders", nil, st, time.Time{})
	if got := present(); len(got) != 0 {
		t.Errorf("without spec.verify: %v", got)
	}
	m.ObserveVerification("db", "orders", spec, st, enabled)
	m.Forget("db", "orders")
	if got := present(); len(got) != 0 {
		t.Errorf("after Forget: %v", got)
	}
}
