package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Metrics are the backup metrics, labelled by namespace and name.
type Metrics struct {
	lastResult   *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastSize     *prometheus.GaugeVec
	runs         *prometheus.CounterVec
}

var labels = []string{"namespace", "name"}

// New returns unregistered metrics.
func New() *Metrics {
	return &Metrics{
		lastResult: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_backup_succeeded",
			Help: "1 when the latest finished backup run succeeded, 0 when it failed; absent before the first run. " +
				"Read from the resource's LastBackupSucceeded condition, so it survives controller restarts.",
		}, labels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_success_timestamp_seconds",
			Help: "Unix time the last successful backup finished.",
		}, labels),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_backup_duration_seconds",
			Help: "How long the last successful backup took.",
		}, labels),
		lastSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_backup_size_bytes",
			Help: "Bytes stored by the last successful backup.",
		}, labels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgbackup_backup_runs_total",
			Help: "Finished backup runs seen by the controller, by result (Succeeded or Failed) and reason.",
		}, append(labels, "result", "reason")),
	}
}

// Register adds the metrics to r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	var errs []error
	for _, c := range []prometheus.Collector{m.lastResult, m.lastSuccess, m.lastDuration, m.lastSize, m.runs} {
		errs = append(errs, r.Register(c))
	}
	return errors.Join(errs...)
}

// Observe sets the gauges from a PostgresBackup's status. m may be nil.
func (m *Metrics) Observe(namespace, name string, st *v1alpha1.PostgresBackupStatus) {
	if m == nil {
		return
	}
	switch c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); {
	case c == nil || c.Status == metav1.ConditionUnknown:
		m.lastResult.DeleteLabelValues(namespace, name)
	case c.Status == metav1.ConditionTrue:
		m.lastResult.WithLabelValues(namespace, name).Set(1)
	default:
		m.lastResult.WithLabelValues(namespace, name).Set(0)
	}
	if st.LastSuccessfulBackup == nil {
		return
	}
	s := st.LastSuccessfulBackup
	m.lastSuccess.WithLabelValues(namespace, name).Set(float64(s.Time.Unix()))
	m.lastDuration.WithLabelValues(namespace, name).Set(float64(s.DurationSeconds))
	m.lastSize.WithLabelValues(namespace, name).Set(float64(s.Bytes))
}

// CountRun counts a finished run. m may be nil.
func (m *Metrics) CountRun(namespace, name string, run *v1alpha1.BackupRun) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(namespace, name, string(run.Result), run.Reason).Inc()
}

// Forget drops the series of a deleted PostgresBackup. m may be nil.
func (m *Metrics) Forget(namespace, name string) {
	if m == nil {
		return
	}
	match := prometheus.Labels{"namespace": namespace, "name": name}
	m.lastResult.DeletePartialMatch(match)
	m.lastSuccess.DeletePartialMatch(match)
	m.lastDuration.DeletePartialMatch(match)
	m.lastSize.DeletePartialMatch(match)
	m.runs.DeletePartialMatch(match)
}
