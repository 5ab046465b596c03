package reconciler_test

// Issue 12: a stuck, foreign or half-seen run never leaves the status green.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

const okResult = `{"result":"succeeded","backupId":"20260301T030000Z","bytes":10,"durationSeconds":1}`

// createJob creates a Job from the CronJob's template with our labels and
// name annotation, then lets edit change its metadata.
func createJob(t *testing.T, ns, name string, edit func(*batchv1.Job)) *batchv1.Job {
	t.Helper()
	var cj *batchv1.CronJob
	eventually(t, "CronJob", func() (err error) { cj, err = getCronJob(ns, "orders"); return err })
	job := builder.ManualJob(cj, time.Now())
	job.Name = name
	edit(job)
	if err := k8s.Create(context.Background(), job); err != nil {
		t.Fatalf("create Job %s: %v", name, err)
	}
	return job
}

// runNames returns the job names of the recent runs, newest first.
func runNames(st v1alpha1.PostgresBackupStatus) []string {
	var names []string
	for _, r := range st.RecentBackups {
		names = append(names, r.JobName)
	}
	return names
}

func findRun(st v1alpha1.PostgresBackupStatus, job string) *v1alpha1.BackupRun {
	for i := range st.RecentBackups {
		if st.RecentBackups[i].JobName == job {
			return &st.RecentBackups[i]
		}
	}
	return nil
}

// Item 3: only the Jobs of this resource's CronJob (owner UID chain) or
// triggered for its UID are folded, whatever their labels say.
func TestOnlyOwnJobsCount(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))

	// Labelled and annotated with the name, but not this resource's runs.
	noOwner := createJob(t, ns, "copied-labels", func(j *batchv1.Job) {
		j.OwnerReferences = nil
		delete(j.Annotations, builder.AnnotationBackupUID)
	})
	finishJob(t, noOwner, true, 0, okResult)
	oldCronJob := createJob(t, ns, "orders-old-incarnation", func(j *batchv1.Job) {
		j.OwnerReferences[0].UID = "a-deleted-cronjob-uid"
		delete(j.Annotations, builder.AnnotationBackupUID)
	})
	finishJob(t, oldCronJob, true, 0, okResult)
	otherUID := createJob(t, ns, "triggered-for-another", func(j *batchv1.Job) {
		j.OwnerReferences = nil
		j.Annotations[builder.AnnotationBackupUID] = "a-deleted-backup-uid"
	})
	finishJob(t, otherUID, true, 0, okResult)
	createJob(t, ns, "foreign-running", func(j *batchv1.Job) { // never finishes
		j.OwnerReferences = nil
		delete(j.Annotations, builder.AnnotationBackupUID)
	})

	// Ours: a scheduled-like Job of the CronJob, and one triggered for this
	// resource's UID without a CronJob owner.
	triggered := createJob(t, ns, "triggered-for-us", func(j *batchv1.Job) { j.OwnerReferences = nil })
	if triggered.Annotations[builder.AnnotationBackupUID] != string(getBackup(t, ns, "orders").UID) {
		t.Fatalf("ManualJob annotations %v", triggered.Annotations)
	}
	finishJob(t, triggered, false, 4, `{"result":"failed","reason":"DumpFailed","message":"pg_dump failed","bytes":0,"durationSeconds":1}`)
	ours := startJob(t, ns)
	finishJob(t, ours, true, 0, okResult)

	eventually(t, "our two runs folded", func() error {
		st := getBackup(t, ns, "orders").Status
		if names := runNames(st); len(names) != 2 || !slices.Contains(names, ours.Name) || !slices.Contains(names, "triggered-for-us") {
			return fmt.Errorf("recentBackups %v, want %s and triggered-for-us only", names, ours.Name)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionBackupRunning); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("a foreign Job counts as running: %+v", c)
		}
		// The counter is read with the status, not once after it: the
		// status can be seen before the reconcile that wrote it has
		// counted the run.
		if n := countRuns(t, ns); n != 2 {
			return fmt.Errorf("pgbackup_backup_runs_total = %v, want 2", n)
		}
		return nil
	})
}

// Item 3: a completed Job without a succeeded result is a failure
// (NoResult); reasons are bounded; a deadline is DeadlineExceeded.
func TestRunReasons(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))

	noPod := startJob(t, ns)
	endJob(t, noPod, true, "", 0, "-")
	logTail := startJob(t, ns)
	endJob(t, logTail, true, "", 0, "backup finished, probably")
	madeUp := startJob(t, ns)
	endJob(t, madeUp, false, "BackoffLimitExceeded", 1, `{"result":"failed","reason":"Solar Flare","message":"weird","bytes":0,"durationSeconds":1}`)
	deadline := startJob(t, ns)
	endJob(t, deadline, false, "DeadlineExceeded", 130, `{"result":"failed","reason":"Interrupted","message":"terminated by SIGTERM","bytes":0,"durationSeconds":21600}`)

	want := map[string]string{noPod.Name: "NoResult", logTail.Name: "NoResult", madeUp.Name: "Internal", deadline.Name: "DeadlineExceeded"}
	eventually(t, "four failures", func() error {
		st := getBackup(t, ns, "orders").Status
		for job, reason := range want {
			r := findRun(st, job)
			if r == nil || r.Result != v1alpha1.ResultFailed || r.Reason != reason {
				return fmt.Errorf("run of %s = %+v, want Failed %s", job, r, reason)
			}
		}
		if st.LastSuccessfulBackup != nil {
			return fmt.Errorf("a success without a result: %+v", st.LastSuccessfulBackup)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Status != metav1.ConditionFalse {
			return fmt.Errorf("LastBackupSucceeded %+v", c)
		}
		return nil
	})
	st := getBackup(t, ns, "orders").Status
	if r := findRun(st, deadline.Name); !strings.Contains(r.Message, "activeDeadlineSeconds") || !strings.Contains(r.Message, "Interrupted") {
		t.Errorf("deadline message %q", r.Message)
	}
	if g := gaugeValue(t, "pgbackup_last_backup_succeeded", ns); g != 0 {
		t.Errorf("pgbackup_last_backup_succeeded = %v, want 0", g)
	}
	// The counter's reason label comes from a bounded set.
	for _, reason := range runReasons(t, ns, "orders") {
		if !slices.Contains([]string{"NoResult", "Internal", "DeadlineExceeded"}, reason) {
			t.Errorf("pgbackup_backup_runs_total has reason %q", reason)
		}
	}
}

func runReasons(t *testing.T, ns, name string) []string {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, f := range families {
		if f.GetName() != "pgbackup_backup_runs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["name"] == name {
				reasons = append(reasons, labels["reason"])
			}
		}
	}
	return reasons
}

// Item 4: history limits of 0 keep one Job of each outcome, so a run is
// never deleted before the controller read it.
func TestHistoryLimitZeroKeepsOne(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.FailedJobsHistoryLimit = ptr.To[int32](0)
	pb.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](0)
	create(t, pb)
	eventually(t, "CronJob", func() error {
		cj, err := getCronJob(ns, "orders")
		if err != nil {
			return err
		}
		if f, s := *cj.Spec.FailedJobsHistoryLimit, *cj.Spec.SuccessfulJobsHistoryLimit; f != 1 || s != 1 {
			return fmt.Errorf("history limits failed %d successful %d, want 1 and 1", f, s)
		}
		return nil
	})
}

// Item 4: a controller that was down while runs finished recovers them
// from the Jobs and Pods when it starts again, metrics included.
func TestRecoversAfterRestart(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))
	eventually(t, "Ready", func() error {
		if !meta.IsStatusConditionTrue(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionReady) {
			return errors.New("not Ready")
		}
		return nil
	})
	var failed, warned, silent *batchv1.Job
	whileDown(t, func() {
		failed = startJob(t, ns)
		finishJob(t, failed, false, 5, `{"result":"failed","reason":"StorageFailed","message":"bucket gone","bytes":0,"durationSeconds":1}`)
		time.Sleep(1100 * time.Millisecond) // finish times are per second
		warned = startJob(t, ns)
		finishJob(t, warned, true, 0, `{"result":"succeeded","backupId":"20260301T040000Z","bytes":77,"durationSeconds":2,"warnings":["retention failed: AccessDenied","globals skipped: not superuser"]}`)
		time.Sleep(1100 * time.Millisecond)
		silent = startJob(t, ns)
		endJob(t, silent, true, "", 0, "-")
	})
	eventually(t, "runs recovered", func() error {
		st := getBackup(t, ns, "orders").Status
		if names := runNames(st); !slices.Equal(names, []string{silent.Name, warned.Name, failed.Name}) {
			return fmt.Errorf("recentBackups %v", names)
		}
		if s := st.LastSuccessfulBackup; s == nil || s.ID != "20260301T040000Z" {
			return fmt.Errorf("lastSuccessfulBackup %+v", s)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Reason != v1alpha1.ReasonNoResult {
			return fmt.Errorf("LastBackupSucceeded %+v: the newest run completed without a result", c)
		}
		return nil
	})
	// The metrics follow the status write, in the same reconcile: wait for
	// them rather than race it (a loaded CI machine lost that race).
	eventually(t, "metrics recovered", func() error {
		if n := countRuns(t, ns); n != 3 {
			return fmt.Errorf("pgbackup_backup_runs_total = %v, want 3", n)
		}
		if g := gaugeValue(t, "pgbackup_last_backup_size_bytes", ns); g != 77 {
			return fmt.Errorf("pgbackup_last_backup_size_bytes = %v, want 77", g)
		}
		return nil
	})
	eventually(t, "events", func() error {
		// Both failures are announced in one reconcile: the recorder merges
		// them into one event with a series of 2.
		if w, f := occurrences(t, ns, "orders", v1alpha1.EventBackupWarnings), occurrences(t, ns, "orders", v1alpha1.EventBackupFailed); w != 1 || f != 2 {
			return fmt.Errorf("%d BackupWarnings and %d BackupFailed events", w, f)
		}
		return nil
	})
}

// occurrences counts the events with reason, series included.
func occurrences(t *testing.T, ns, name, reason string) int {
	t.Helper()
	n := 0
	for _, e := range events(t, ns, name, reason) {
		if e.Series != nil {
			n += int(e.Series.Count)
		} else {
			n++
		}
	}
	return n
}

// Item 5: the agent's warnings reach the run's entry, a condition, an
// event and a gauge.
func TestWarningsSurfaced(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))
	warned := startJob(t, ns)
	finishJob(t, warned, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":1,"durationSeconds":1,"warnings":["retention failed: AccessDenied: s3:DeleteObject","globals skipped: permission denied for pg_authid"]}`)
	eventually(t, "warnings in status", func() error {
		st := getBackup(t, ns, "orders").Status
		r := findRun(st, warned.Name)
		if r == nil || len(r.Warnings) != 2 || !strings.HasPrefix(r.Warnings[0], "retention failed") {
			return fmt.Errorf("run %+v", r)
		}
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionBackupWarnings)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonWarningsReported || !strings.Contains(c.Message, "retention failed") {
			return fmt.Errorf("BackupWarnings %+v", c)
		}
		if g := gaugeValue(t, "pgbackup_last_backup_warnings", ns); g != 2 {
			return fmt.Errorf("pgbackup_last_backup_warnings = %v, want 2", g)
		}
		return nil
	})
	eventually(t, "one BackupWarnings event", func() error {
		evs := events(t, ns, "orders", v1alpha1.EventBackupWarnings)
		if len(evs) != 1 || evs[0].Type != corev1.EventTypeWarning || !strings.Contains(evs[0].Note, "retention failed") {
			return fmt.Errorf("events %+v", evs)
		}
		return nil
	})

	clean := startJob(t, ns)
	finishJob(t, clean, true, 0, `{"result":"succeeded","backupId":"20260301T040000Z","bytes":1,"durationSeconds":1}`)
	eventually(t, "warnings cleared by a clean run", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupWarnings)
		if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonNoWarnings {
			return fmt.Errorf("BackupWarnings %+v", c)
		}
		if g := gaugeValue(t, "pgbackup_last_backup_warnings", ns); g != 0 {
			return fmt.Errorf("pgbackup_last_backup_warnings = %v, want 0", g)
		}
		return nil
	})
}

// Items 1 and 2: every run is bounded; a run running too long shows in a
// condition, an event and a metric before its deadline, by a requeue at
// the known moment (nothing changes in the cluster meanwhile).
func TestRunningTooLong(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.RunningTooLongSeconds = ptr.To[int64](3)
	pb.Spec.LockWaitTimeout = &metav1.Duration{Duration: 10 * time.Minute}
	pb.Spec.Destination.S3.RequestTimeout = &metav1.Duration{Duration: time.Minute}
	create(t, pb)
	if live := getBackup(t, ns, "orders"); ptr.Deref(live.Spec.ActiveDeadlineSeconds, 0) != 21600 {
		t.Errorf("activeDeadlineSeconds defaults to %v, want 21600", live.Spec.ActiveDeadlineSeconds)
	}
	eventually(t, "CronJob bounds the run", func() error {
		cj, err := getCronJob(ns, "orders")
		if err != nil {
			return err
		}
		j := cj.Spec.JobTemplate.Spec
		if ptr.Deref(j.ActiveDeadlineSeconds, 0) != 21600 || ptr.Deref(j.Template.Spec.TerminationGracePeriodSeconds, 0) != 120 {
			return fmt.Errorf("deadline %v grace %v", j.ActiveDeadlineSeconds, j.Template.Spec.TerminationGracePeriodSeconds)
		}
		env := map[string]string{}
		for _, e := range j.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		if env["PGBACKUP_LOCK_WAIT_TIMEOUT"] != "10m0s" || env["PGBACKUP_S3_REQUEST_TIMEOUT"] != "1m0s" {
			return fmt.Errorf("env %v", env)
		}
		return nil
	})
	eventually(t, "idle gauges", func() error {
		if g := gaugeValue(t, "pgbackup_backup_running_seconds", ns); g != 0 {
			return fmt.Errorf("pgbackup_backup_running_seconds = %v while idle, want 0", g)
		}
		if g := gaugeValue(t, "pgbackup_backup_running_threshold_seconds", ns); g != 3 {
			return fmt.Errorf("pgbackup_backup_running_threshold_seconds = %v, want 3", g)
		}
		return nil
	})

	job := startJob(t, ns)
	live := &batchv1.Job{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), live); err != nil {
		t.Fatal(err)
	}
	started := metav1.Now()
	live.Status.StartTime = &started
	if err := k8s.Status().Update(context.Background(), live); err != nil {
		t.Fatalf("start the Job: %v", err)
	}
	eventually(t, "running", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupRunning)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, job.Name) {
			return fmt.Errorf("BackupRunning %+v", c)
		}
		if g := gaugeValue(t, "pgbackup_backup_running_seconds", ns); g <= 0 {
			return fmt.Errorf("pgbackup_backup_running_seconds = %v", g)
		}
		if g := gaugeValue(t, "pgbackup_backup_running_threshold_seconds", ns); g != 3 {
			return fmt.Errorf("pgbackup_backup_running_threshold_seconds = %v", g)
		}
		return nil
	})
	eventually(t, "running too long", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupRunning)
		if c.Reason != v1alpha1.ReasonRunningTooLong {
			return fmt.Errorf("BackupRunning %+v", c)
		}
		if g := gaugeValue(t, "pgbackup_backup_running_seconds", ns); g < 3 {
			return fmt.Errorf("pgbackup_backup_running_seconds = %v", g)
		}
		return nil
	})
	eventually(t, "BackupRunningTooLong event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.EventBackupRunningTooLong)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})

	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(job), live); err != nil {
		t.Fatal(err)
	}
	endJob(t, live, false, "DeadlineExceeded", 130, `{"result":"failed","reason":"Interrupted","message":"terminated","bytes":0,"durationSeconds":5}`)
	eventually(t, "idle again", func() error {
		st := getBackup(t, ns, "orders").Status
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionBackupRunning)
		if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonIdle {
			return fmt.Errorf("BackupRunning %+v", c)
		}
		if g := gaugeValue(t, "pgbackup_backup_running_seconds", ns); g != 0 {
			return fmt.Errorf("pgbackup_backup_running_seconds = %v", g)
		}
		if st.LastFailure == nil || st.LastFailure.Reason != v1alpha1.ReasonDeadlineExceeded {
			return fmt.Errorf("lastFailure %+v", st.LastFailure)
		}
		return nil
	})
}

// readyCondition is the Ready condition of the PostgresBackup "orders".
func readyCondition(t *testing.T, ns string) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionReady)
}

// Item 8: an existing claim that is missing makes Ready False until it
// appears; the CronJob is applied meanwhile.
func TestReadyNeedsTheExistingClaim(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.Storage = &v1alpha1.StorageSpec{ExistingClaim: "scratch"}
	create(t, pb)
	eventually(t, "Ready=False ClaimMissing", func() error {
		c := readyCondition(t, ns)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonClaimMissing || !strings.Contains(c.Message, "scratch") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	if _, err := getCronJob(ns, "orders"); err != nil {
		t.Errorf("CronJob not applied while the claim is missing: %v", err)
	}
	eventually(t, "ClaimMissing event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.ReasonClaimMissing)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})

	// The user's claim, without pgbackup's labels, appears: no change to
	// the PostgresBackup, only the claim's event can bring Ready back.
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scratch"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := k8s.Create(context.Background(), claim); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Ready once the claim exists", func() error {
		if c := readyCondition(t, ns); c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "scratch") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
}

// Item 8: a PVC apply the API server refuses (a claim's storage class is
// immutable) shows in Ready, and the CronJob still follows the spec.
func TestFailedClaimApply(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.Storage = &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("1Gi")), StorageClassName: ptr.To("slow")}
	create(t, pb)
	eventually(t, "Ready", func() error {
		if c := readyCondition(t, ns); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) {
		pb.Spec.Storage.StorageClassName = ptr.To("fast")
		pb.Spec.Schedule = "@hourly"
	})
	eventually(t, "Ready=False ClaimApplyFailed", func() error {
		live := getBackup(t, ns, "orders")
		c := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ConditionReady)
		if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonClaimApplyFailed || !strings.Contains(c.Message, "orders-spool") ||
			c.ObservedGeneration != live.Generation {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	if cj, err := getCronJob(ns, "orders"); err != nil || cj.Spec.Schedule != "@hourly" {
		t.Errorf("CronJob not kept up to date while the PVC apply fails: %v %v", cj.Spec.Schedule, err)
	}
	eventually(t, "ClaimApplyFailed event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.ReasonClaimApplyFailed)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Storage.StorageClassName = ptr.To("slow") })
	eventually(t, "Ready again", func() error {
		if c := readyCondition(t, ns); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
}

// Item 8: with a spec the controller rejects, runs that finish are still
// folded: the status is written on every path.
func TestRunsFoldedWhileSpecInvalid(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))
	job := startJob(t, ns)
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "every day at three" })
	eventually(t, "Ready=False", func() error {
		if c := readyCondition(t, ns); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonInvalidSchedule {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	finishJob(t, job, false, 3, `{"result":"failed","reason":"AuthFailed","message":"password authentication failed","bytes":0,"durationSeconds":1}`)
	eventually(t, "the failure recorded", func() error {
		st := getBackup(t, ns, "orders").Status
		if st.LastFailure == nil || st.LastFailure.Reason != "AuthFailed" || findRun(st, job.Name) == nil {
			return fmt.Errorf("lastFailure %+v runs %v", st.LastFailure, runNames(st))
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
}

// Item 1: the new durations are validated by the API server.
func TestTimeoutsValidated(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "negative")
	pb.Spec.LockWaitTimeout = &metav1.Duration{Duration: -time.Second}
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "lockWaitTimeout must not be negative") {
		t.Errorf("negative lockWaitTimeout: %v", err)
	}
	pb = newBackup(ns, "negative-s3")
	pb.Spec.Destination.S3.RequestTimeout = &metav1.Duration{Duration: -time.Second}
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "requestTimeout must not be negative") {
		t.Errorf("negative requestTimeout: %v", err)
	}
	pb = newBackup(ns, "zero")
	pb.Spec.LockWaitTimeout = &metav1.Duration{}
	pb.Spec.RunningTooLongSeconds = ptr.To[int64](0)
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "runningTooLongSeconds") {
		t.Errorf("runningTooLongSeconds 0: %v", err)
	}
	pb.Spec.RunningTooLongSeconds = nil
	create(t, pb) // lockWaitTimeout 0s: wait until the deadline
}

// spec.notify is validated by the API server, and its URLs reach the
// backup pod as secretKeyRefs only: the controller reads no Secret.
func TestNotifyValidatedAndReferenced(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "empty-notify")
	pb.Spec.Notify = &v1alpha1.NotifySpec{}
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "notify needs a webhook or a heartbeatSecretRef") {
		t.Errorf("empty notify: %v", err)
	}
	pb = newBackup(ns, "late-event")
	pb.Spec.Notify = &v1alpha1.NotifySpec{Webhook: &v1alpha1.WebhookSpec{
		URLSecretRef: v1alpha1.SecretKeyRef{Name: "hooks", Key: "url"}, Events: []v1alpha1.NotifyEvent{"late"}}}
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "Unsupported value") {
		t.Errorf("event late: %v", err)
	}

	pb = newBackup(ns, "orders")
	pb.Spec.Notify = &v1alpha1.NotifySpec{
		Webhook: &v1alpha1.WebhookSpec{URLSecretRef: v1alpha1.SecretKeyRef{Name: "hooks", Key: "url"},
			Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed, v1alpha1.NotifySucceeded}},
		HeartbeatSecretRef: &v1alpha1.SecretKeyRef{Name: "hooks", Key: "ping"},
	}
	create(t, pb) // the Secret "hooks" does not exist: the controller never looks
	var cj *batchv1.CronJob
	eventually(t, "CronJob created", func() (err error) {
		cj, err = getCronJob(ns, "orders")
		return err
	})
	env := map[string]corev1.EnvVar{}
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	for name, key := range map[string]string{"PGBACKUP_NOTIFY_URL": "url", "PGBACKUP_HEARTBEAT_URL": "ping"} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "hooks" || e.ValueFrom.SecretKeyRef.Key != key {
			t.Errorf("%s = %+v, want a secretKeyRef to hooks/%s", name, e, key)
		}
	}
	if env["PGBACKUP_NOTIFY_EVENTS"].Value != "failed,succeeded" || env["PGBACKUP_NOTIFY_SOURCE"].Value != ns+"/orders" {
		t.Errorf("events %+v, source %+v", env["PGBACKUP_NOTIFY_EVENTS"], env["PGBACKUP_NOTIFY_SOURCE"])
	}
}

// destination.s3's encryption and storage class are validated by the API
// server: a KMS key without aws:kms, a class that cannot be read at once,
// an unknown mode.
func TestS3ObjectSettingsValidated(t *testing.T) {
	ns := newNamespace(t)
	for _, tt := range []struct {
		name    string
		edit    func(*v1alpha1.S3Destination)
		wantErr string
	}{
		{"kms-without-sse", func(s *v1alpha1.S3Destination) { s.KMSKeyID = "alias/backups" }, "kmsKeyId needs sse aws:kms"},
		{"kms-with-aes", func(s *v1alpha1.S3Destination) { s.SSE, s.KMSKeyID = v1alpha1.SSES3, "alias/backups" }, "kmsKeyId needs sse aws:kms"},
		{"glacier", func(s *v1alpha1.S3Destination) { s.StorageClass = "GLACIER" }, "cannot be read without a restore request"},
		{"lower-case-class", func(s *v1alpha1.S3Destination) { s.StorageClass = "standard" }, "storageClass"},
		{"unknown-sse", func(s *v1alpha1.S3Destination) { s.SSE = "aws:kms:dsse" }, "Unsupported value"},
	} {
		pb := newBackup(ns, tt.name)
		tt.edit(&pb.Spec.Destination.S3)
		if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: %v, want Invalid with %q", tt.name, err, tt.wantErr)
		}
	}
	pb := newBackup(ns, "kms")
	pb.Spec.Destination.S3.SSE, pb.Spec.Destination.S3.KMSKeyID, pb.Spec.Destination.S3.StorageClass = v1alpha1.SSEKMS, "alias/backups", "GLACIER_IR"
	create(t, pb)
}
