package metrics

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// Metrics are the backup metrics, labelled by namespace and name.
type Metrics struct {
	lastResult   *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastSize     *prometheus.GaugeVec
	lastWarnings *prometheus.GaugeVec
	runs         *prometheus.CounterVec
	running      *runningCollector

	lastVerifyResult *prometheus.GaugeVec
	lastVerified     *prometheus.GaugeVec
	restoreSeconds   *prometheus.GaugeVec
	verifyMaxAge     *prometheus.GaugeVec
	verifyEnabled    *prometheus.GaugeVec
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
		lastWarnings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_backup_warnings",
			Help: "Warnings the latest finished backup run reported (retention failed, globals skipped, ...); " +
				"0 when it reported none or before the first run. Read from the resource's status.",
		}, labels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgbackup_backup_runs_total",
			Help: "Finished backup runs seen by the controller, by result (Succeeded or Failed) and reason.",
		}, append(labels, "result", "reason")),
		running: newRunningCollector(),
		lastVerifyResult: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_verification_succeeded",
			Help: "1 when the latest finished restore verification succeeded, 0 when it failed; absent before the first " +
				"and without spec.verify. Read from the resource's status.lastVerification.",
		}, labels),
		lastVerified: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_last_verified_timestamp_seconds",
			Help: "Unix time the last successful restore verification finished; absent before the first.",
		}, labels),
		restoreSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_restore_seconds",
			Help: "How long restoring the backup took in the last successful verification: what a restore costs.",
		}, labels),
		verifyMaxAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_verify_max_age_seconds",
			Help: "The resource's spec.verify.maxAge (default 8 days): how old the last successful verification may be. " +
				"Present exactly while spec.verify is set.",
		}, labels),
		verifyEnabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgbackup_verify_enabled_timestamp_seconds",
			Help: "Unix time verification was enabled (its CronJob was created), for alerting on a verification that never succeeded.",
		}, labels),
	}
}

// verifyGauges are the series of spec.verify.
func (m *Metrics) verifyGauges() []**prometheus.GaugeVec {
	return []**prometheus.GaugeVec{&m.lastVerifyResult, &m.lastVerified, &m.restoreSeconds, &m.verifyMaxAge, &m.verifyEnabled}
}

// Register adds the metrics to r. Collectors r already has (a manager
// created again in the same process) are adopted, so both report through
// the same series.
func (m *Metrics) Register(r prometheus.Registerer) error {
	var errs []error
	adopt := func(c prometheus.Collector, set func(prometheus.Collector) bool) {
		err := r.Register(c)
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok && set(are.ExistingCollector) {
			return
		}
		errs = append(errs, err)
	}
	gauge := func(g **prometheus.GaugeVec) {
		adopt(*g, func(c prometheus.Collector) bool {
			existing, ok := c.(*prometheus.GaugeVec)
			if ok {
				*g = existing
			}
			return ok
		})
	}
	gauge(&m.lastResult)
	gauge(&m.lastSuccess)
	gauge(&m.lastDuration)
	gauge(&m.lastSize)
	gauge(&m.lastWarnings)
	for _, g := range m.verifyGauges() {
		gauge(g)
	}
	adopt(m.runs, func(c prometheus.Collector) bool {
		existing, ok := c.(*prometheus.CounterVec)
		if ok {
			m.runs = existing
		}
		return ok
	})
	adopt(m.running, func(c prometheus.Collector) bool {
		existing, ok := c.(*runningCollector)
		if ok {
			m.running = existing
		}
		return ok
	})
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
	warnings := 0
	if len(st.RecentBackups) > 0 {
		warnings = len(st.RecentBackups[0].Warnings)
	}
	m.lastWarnings.WithLabelValues(namespace, name).Set(float64(warnings))
	if st.LastSuccessfulBackup == nil {
		return
	}
	s := st.LastSuccessfulBackup
	m.lastSuccess.WithLabelValues(namespace, name).Set(float64(s.Time.Unix()))
	m.lastDuration.WithLabelValues(namespace, name).Set(float64(s.DurationSeconds))
	m.lastSize.WithLabelValues(namespace, name).Set(float64(s.Bytes))
}

// ObserveVerification sets the verification gauges from the status, or
// removes them when spec.verify (v) is unset. enabled is when verification
// was enabled; zero when not known. m may be nil.
func (m *Metrics) ObserveVerification(namespace, name string, v *v1alpha1.VerifySpec, st *v1alpha1.PostgresBackupStatus, enabled time.Time) {
	if m == nil {
		return
	}
	if v == nil {
		m.forgetVerification(namespace, name)
		return
	}
	m.verifyMaxAge.WithLabelValues(namespace, name).Set(builder.VerifyMaxAge(v).Seconds())
	if enabled.IsZero() {
		m.verifyEnabled.DeleteLabelValues(namespace, name)
	} else {
		m.verifyEnabled.WithLabelValues(namespace, name).Set(float64(enabled.Unix()))
	}
	switch last := st.LastVerification; {
	case last == nil:
		m.lastVerifyResult.DeleteLabelValues(namespace, name)
	case last.Result == v1alpha1.ResultSucceeded:
		m.lastVerifyResult.WithLabelValues(namespace, name).Set(1)
	default:
		m.lastVerifyResult.WithLabelValues(namespace, name).Set(0)
	}
	if s := st.LastVerifiedBackup; s != nil {
		m.lastVerified.WithLabelValues(namespace, name).Set(float64(s.Time.Unix()))
		m.restoreSeconds.WithLabelValues(namespace, name).Set(float64(s.RestoreSeconds))
	} else {
		m.lastVerified.DeleteLabelValues(namespace, name)
		m.restoreSeconds.DeleteLabelValues(namespace, name)
	}
}

func (m *Metrics) forgetVerification(namespace, name string) {
	for _, g := range m.verifyGauges() {
		(*g).DeleteLabelValues(namespace, name)
	}
}

// ObserveRunning records when the backup's active run started (zero: none
// runs) and after how long a run counts as running too long. m may be nil.
func (m *Metrics) ObserveRunning(namespace, name string, start time.Time, threshold time.Duration) {
	if m == nil {
		return
	}
	m.running.set(namespace, name, start, threshold)
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
	m.lastWarnings.DeletePartialMatch(match)
	m.runs.DeletePartialMatch(match)
	m.running.forget(namespace, name)
	m.forgetVerification(namespace, name)
}

// runningCollector reports how long each backup's active run has been
// running, computed at scrape time: a gauge set by the reconciler would
// stand still between reconciles, and the controller does not poll.
type runningCollector struct {
	now       func() time.Time
	seconds   *prometheus.Desc
	threshold *prometheus.Desc

	mu   sync.Mutex
	runs map[key]runState
}

type key struct{ namespace, name string }

type runState struct {
	start     time.Time // zero: nothing runs
	threshold time.Duration
}

func newRunningCollector() *runningCollector {
	return &runningCollector{
		now: time.Now,
		seconds: prometheus.NewDesc("pgbackup_backup_running_seconds",
			"Seconds the backup's active run (its Job) has been running; 0 when none runs.", labels, nil),
		threshold: prometheus.NewDesc("pgbackup_backup_running_threshold_seconds",
			"Seconds after which a run counts as running too long (spec.runningTooLongSeconds, "+
				"default 80% of activeDeadlineSeconds); the BackupRunning condition turns RunningTooLong then.", labels, nil),
		runs: map[key]runState{},
	}
}

func (c *runningCollector) set(namespace, name string, start time.Time, threshold time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[key{namespace, name}] = runState{start: start, threshold: threshold}
}

func (c *runningCollector) forget(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.runs, key{namespace, name})
}

// Describe implements prometheus.Collector.
func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.seconds
	ch <- c.threshold
}

// Collect implements prometheus.Collector.
func (c *runningCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, s := range c.runs {
		var secs float64
		if !s.start.IsZero() {
			secs = max(now.Sub(s.start).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, secs, k.namespace, k.name)
		ch <- prometheus.MustNewConstMetric(c.threshold, prometheus.GaugeValue, s.threshold.Seconds(), k.namespace, k.name)
	}
}
