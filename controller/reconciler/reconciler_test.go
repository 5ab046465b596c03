package reconciler_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/pgbackup/pgbackup/controller/trigger"
)

func newBackup(ns, name string) *v1alpha1.PostgresBackup {
	return &v1alpha1.PostgresBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PostgresBackupSpec{
			Schedule: "0 3 * * *",
			Postgres: v1alpha1.PostgresSpec{
				Host: "pg.db.svc", User: "backup",
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "pg", Key: "password"},
			},
			Destination: v1alpha1.DestinationSpec{S3: v1alpha1.S3Destination{
				Bucket: "backups", Prefix: "orders", CredentialsSecretRef: &v1alpha1.SecretRef{Name: "s3"},
			}},
		},
	}
}

func create(t *testing.T, pb *v1alpha1.PostgresBackup) {
	t.Helper()
	if err := k8s.Create(context.Background(), pb); err != nil {
		t.Fatalf("create PostgresBackup: %v", err)
	}
}

// update applies edit to the live PostgresBackup, retrying on conflicts
// with the controller's status writes.
func update(t *testing.T, ns, name string, edit func(*v1alpha1.PostgresBackup)) {
	t.Helper()
	eventually(t, "update PostgresBackup", func() error {
		pb := getBackup(t, ns, name)
		edit(pb)
		return k8s.Update(context.Background(), pb)
	})
}

func assertOwned(t *testing.T, obj client.Object, pb *v1alpha1.PostgresBackup) {
	t.Helper()
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 || refs[0].UID != pb.UID || refs[0].Kind != "PostgresBackup" || !ptr.Deref(refs[0].Controller, false) ||
		!ptr.Deref(refs[0].BlockOwnerDeletion, false) {
		t.Errorf("%T %s owner references = %+v, want the PostgresBackup %s as controller", obj, obj.GetName(), refs, pb.UID)
	}
}

func TestCreateUpdateSuspendDelete(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	pb := newBackup(ns, "orders")
	pb.Spec.Storage = &v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("2Gi"))}
	pb.Spec.Retention = &v1alpha1.RetentionSpec{KeepLast: ptr.To[int32](7)}
	create(t, pb)

	var cj *batchv1.CronJob
	eventually(t, "CronJob created", func() (err error) {
		cj, err = getCronJob(ns, "orders")
		return err
	})
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Spec.Schedule != "0 3 * * *" || *cj.Spec.StartingDeadlineSeconds != 300 ||
		*cj.Spec.SuccessfulJobsHistoryLimit != 3 || *cj.Spec.JobTemplate.Spec.BackoffLimit != 1 {
		t.Errorf("CronJob spec %+v", cj.Spec)
	}
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	if c.Image != agentImage || c.Args[0] != "backup" || cj.Labels[builder.LabelBackup] != "orders" {
		t.Errorf("container %s %v labels %v", c.Image, c.Args, cj.Labels)
	}
	live := getBackup(t, ns, "orders")
	assertOwned(t, cj, live)
	if live.Spec.Format != v1alpha1.FormatCustom || live.Spec.Compression != "zstd:1" || live.Spec.Postgres.Port != 5432 {
		t.Errorf("CRD defaults not applied: %+v", live.Spec)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders-spool"}, pvc); err != nil {
		t.Fatalf("spool PVC: %v", err)
	}
	assertOwned(t, pvc, live)
	if pvc.Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Errorf("PVC size %v", pvc.Spec.Resources.Requests)
	}
	eventually(t, "status Ready", func() error {
		st := getBackup(t, ns, "orders").Status
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != live.Generation || st.ObservedGeneration != live.Generation {
			return fmt.Errorf("status %+v", st)
		}
		if st.CronJobName != "orders" || st.NextScheduleTime == nil {
			return fmt.Errorf("cronJobName %q next %v", st.CronJobName, st.NextScheduleTime)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c == nil || c.Reason != v1alpha1.ReasonNoBackupYet {
			return fmt.Errorf("LastBackupSucceeded %+v", c)
		}
		return nil
	})

	// Update: schedule, time zone, retention removed, a pod override.
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) {
		pb.Spec.Schedule = "30 1 * * 0"
		pb.Spec.TimeZone = ptr.To("Europe/Berlin")
		pb.Spec.Retention = nil
		pb.Spec.PodTemplate = &v1alpha1.PodTemplateOverrides{NodeSelector: map[string]string{"pool": "backup"}}
	})
	eventually(t, "CronJob updated", func() error {
		cj, err := getCronJob(ns, "orders")
		if err != nil {
			return err
		}
		p := cj.Spec.JobTemplate.Spec.Template.Spec
		if cj.Spec.Schedule != "30 1 * * 0" || ptr.Deref(cj.Spec.TimeZone, "") != "Europe/Berlin" || p.NodeSelector["pool"] != "backup" {
			return fmt.Errorf("spec %+v", cj.Spec)
		}
		for _, e := range p.Containers[0].Env {
			if e.Name == "PGBACKUP_KEEP_LAST" {
				return errors.New("PGBACKUP_KEEP_LAST still set after retention was removed")
			}
		}
		return nil
	})

	// Suspend.
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Suspend = ptr.To(true) })
	eventually(t, "CronJob suspended", func() error {
		cj, err := getCronJob(ns, "orders")
		if err != nil {
			return err
		}
		if !*cj.Spec.Suspend {
			return errors.New("not suspended")
		}
		if st := getBackup(t, ns, "orders").Status; st.NextScheduleTime != nil {
			return fmt.Errorf("nextScheduleTime %v while suspended", st.NextScheduleTime)
		}
		return nil
	})

	// Idempotence: with nothing changing, the controller writes nothing.
	cj, _ = getCronJob(ns, "orders")
	rv, gen := cj.ResourceVersion, getBackup(t, ns, "orders").ResourceVersion
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Labels = map[string]string{"touch": "1"} })
	time.Sleep(time.Second)
	if cj, _ = getCronJob(ns, "orders"); cj.ResourceVersion != rv {
		t.Errorf("CronJob rewritten without a change: %s -> %s", rv, cj.ResourceVersion)
	}
	_ = gen

	// Delete: no finalizer holds the resource; the owner references
	// (checked above) let the garbage collector take the children.
	if err := k8s.Delete(ctx, getBackup(t, ns, "orders")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "PostgresBackup deleted", func() error {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "orders"}, &v1alpha1.PostgresBackup{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %w", err)
	})
}

func TestExistingClaimAndLongName(t *testing.T) {
	ns := newNamespace(t)
	name := strings.Repeat("a-very-long-backup-name-", 4) + "x" // 97 characters
	pb := newBackup(ns, name)
	pb.Spec.Storage = &v1alpha1.StorageSpec{ExistingClaim: "scratch"}
	create(t, pb)
	var st v1alpha1.PostgresBackupStatus
	eventually(t, "status names the CronJob", func() error {
		st = getBackup(t, ns, name).Status
		if st.CronJobName == "" {
			return errors.New("no cronJobName")
		}
		return nil
	})
	if len(st.CronJobName) > 52 {
		t.Errorf("cronJobName %q is %d characters", st.CronJobName, len(st.CronJobName))
	}
	cj, err := getCronJob(ns, st.CronJobName)
	if err != nil {
		t.Fatal(err)
	}
	if v := cj.Spec.JobTemplate.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "scratch" {
		t.Errorf("spool volume %+v", v)
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := k8s.List(context.Background(), &pvcs, client.InNamespace(ns)); err != nil || len(pvcs.Items) != 0 {
		t.Errorf("PVCs created for an existing claim: %v %v", pvcs.Items, err)
	}
}

func TestInvalidSchedule(t *testing.T) {
	ns := newNamespace(t)
	tests := []struct {
		name, schedule string
		tz             *string
		reason, msg    string
	}{
		{"seconds", "0 0 3 * * *", nil, v1alpha1.ReasonInvalidSchedule, "Kubernetes CronJobs have no seconds field"},
		{"garbage", "at three", nil, v1alpha1.ReasonInvalidSchedule, "not a valid cron expression"},
		{"zone", "0 3 * * *", ptr.To("Atlantis/Capital"), v1alpha1.ReasonInvalidTimeZone, "not a known IANA time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := newBackup(ns, tt.name)
			pb.Spec.Schedule, pb.Spec.TimeZone = tt.schedule, tt.tz
			create(t, pb)
			eventually(t, "Ready=False", func() error {
				c := meta.FindStatusCondition(getBackup(t, ns, tt.name).Status.Conditions, v1alpha1.ConditionReady)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.reason || !strings.Contains(c.Message, tt.msg) {
					return fmt.Errorf("Ready = %+v", c)
				}
				return nil
			})
			eventually(t, "one InvalidSpec event", func() error {
				if n := len(events(t, ns, tt.name, v1alpha1.EventInvalidSpec)); n != 1 {
					return fmt.Errorf("%d events", n)
				}
				return nil
			})
			if _, err := getCronJob(ns, tt.name); !apierrors.IsNotFound(err) {
				t.Errorf("CronJob for an invalid spec: %v", err)
			}
		})
	}

	t.Run("existing CronJob left alone", func(t *testing.T) {
		create(t, newBackup(ns, "valid"))
		eventually(t, "CronJob", func() error { _, err := getCronJob(ns, "valid"); return err })
		update(t, ns, "valid", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "*/5 * * * * *" })
		eventually(t, "Ready=False", func() error {
			pb := getBackup(t, ns, "valid")
			c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != pb.Generation {
				return fmt.Errorf("Ready = %+v", c)
			}
			return nil
		})
		eventually(t, "one InvalidSpec event", func() error {
			if n := len(events(t, ns, "valid", v1alpha1.EventInvalidSpec)); n != 1 {
				return fmt.Errorf("%d events", n)
			}
			return nil
		})
		// Another change, still invalid: no second event.
		update(t, ns, "valid", func(pb *v1alpha1.PostgresBackup) { pb.Labels = map[string]string{"x": "y"} })
		time.Sleep(time.Second)
		if n := len(events(t, ns, "valid", v1alpha1.EventInvalidSpec)); n != 1 {
			t.Errorf("%d InvalidSpec events, want 1", n)
		}
		if cj, _ := getCronJob(ns, "valid"); cj.Spec.Schedule != "0 3 * * *" {
			t.Errorf("CronJob schedule changed to %q", cj.Spec.Schedule)
		}
		update(t, ns, "valid", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "@hourly" })
		eventually(t, "Ready again", func() error {
			cj, _ := getCronJob(ns, "valid")
			if !meta.IsStatusConditionTrue(getBackup(t, ns, "valid").Status.Conditions, v1alpha1.ConditionReady) || cj.Spec.Schedule != "@hourly" {
				return fmt.Errorf("schedule %q", cj.Spec.Schedule)
			}
			return nil
		})
	})
}

// finishJob sets a Job's status to finished (as the Job controller would)
// and, when message is not "-", creates its pod with the agent terminated
// with that termination message (as the kubelet would).
func finishJob(t *testing.T, job *batchv1.Job, succeeded bool, exit int32, message string) {
	t.Helper()
	endJob(t, job, succeeded, "BackoffLimitExceeded", exit, message)
}

// endJob is finishJob with the reason of the Job's Failed condition
// (BackoffLimitExceeded, DeadlineExceeded, ...).
func endJob(t *testing.T, job *batchv1.Job, succeeded bool, jobReason string, exit int32, message string) {
	t.Helper()
	ctx := context.Background()
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Minute))
	if message != "-" {
		tpl := job.Spec.Template
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: job.Namespace, Name: job.Name + "-x1",
				Labels:          mergeMaps(tpl.Labels, map[string]string{"batch.kubernetes.io/job-name": job.Name}),
				Annotations:     tpl.Annotations,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
			},
			Spec: tpl.Spec,
		}
		if err := k8s.Create(ctx, pod); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		reason, phase := "Completed", corev1.PodSucceeded
		if exit != 0 {
			reason, phase = "Error", corev1.PodFailed
		}
		pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
			Name: builder.ContainerName, Image: agentImage, ImageID: "sha256:0",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exit, Reason: reason, Message: message, StartedAt: start, FinishedAt: now,
			}},
		}}}
		if err := k8s.Status().Update(ctx, pod); err != nil {
			t.Fatalf("pod status: %v", err)
		}
	}
	if job.Status.StartTime == nil {
		job.Status.StartTime = &start
	}
	if succeeded {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
		}
	} else {
		job.Status.Failed = 1
		msg := "Job has reached the specified backoff limit"
		if jobReason == "DeadlineExceeded" {
			msg = "Job was active longer than specified deadline"
		}
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: jobReason, Message: msg, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: jobReason, Message: msg, LastTransitionTime: now, LastProbeTime: now},
		}
	}
	if err := k8s.Status().Update(ctx, job); err != nil {
		t.Fatalf("job status: %v", err)
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// startJob creates a Job from the backup's CronJob, as the CronJob
// controller (absent in envtest) would.
func startJob(t *testing.T, ns string) *batchv1.Job {
	const name = "orders"
	t.Helper()
	var job *batchv1.Job
	eventually(t, "start a Job", func() (err error) {
		job, err = trigger.Start(context.Background(), k8s, client.ObjectKey{Namespace: ns, Name: name}, time.Now())
		return err
	})
	time.Sleep(1100 * time.Millisecond) // Job names are per second
	return job
}

func TestStatusFromRuns(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))

	ok := startJob(t, ns)
	finishJob(t, ok, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":4096,"durationSeconds":12.4,"databases":["app"]}`)
	eventually(t, "success in status", func() error {
		st := getBackup(t, ns, "orders").Status
		s := st.LastSuccessfulBackup
		if s == nil || s.ID != "20260301T030000Z" || s.Bytes != 4096 || s.DurationSeconds != 12 || s.ObjectPrefix != "s3://backups/orders/20260301T030000Z/" {
			return fmt.Errorf("lastSuccessfulBackup %+v", s)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonSucceeded {
			return fmt.Errorf("condition %+v", c)
		}
		if len(st.RecentBackups) != 1 || st.RecentBackups[0].JobName != ok.Name {
			return fmt.Errorf("recentBackups %+v", st.RecentBackups)
		}
		if g := gaugeValue(t, "pgbackup_last_backup_succeeded", ns); g != 1 {
			return fmt.Errorf("pgbackup_last_backup_succeeded = %v, want 1", g)
		}
		return nil
	})

	bad := startJob(t, ns)
	finishJob(t, bad, false, 4, `{"result":"failed","reason":"DumpFailed","message":"pg_dump: error: query failed","bytes":0,"durationSeconds":3}`)
	eventually(t, "failure in status", func() error {
		st := getBackup(t, ns, "orders").Status
		if f := st.LastFailure; f == nil || f.Reason != "DumpFailed" || !strings.Contains(f.Message, "query failed") {
			return fmt.Errorf("lastFailure %+v", f)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Status != metav1.ConditionFalse || c.Reason != "DumpFailed" {
			return fmt.Errorf("condition %+v", c)
		}
		if st.LastSuccessfulBackup == nil || st.LastSuccessfulBackup.ID != "20260301T030000Z" {
			return fmt.Errorf("lastSuccessfulBackup lost: %+v", st.LastSuccessfulBackup)
		}
		if len(st.RecentBackups) != 2 || st.RecentBackups[0].JobName != bad.Name {
			return fmt.Errorf("recentBackups %+v", st.RecentBackups)
		}
		return nil
	})

	// No pod at all (the image could not be pulled, say): the Job's reason.
	gone := startJob(t, ns)
	finishJob(t, gone, false, 0, "-")
	eventually(t, "failure without a result", func() error {
		st := getBackup(t, ns, "orders").Status
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Reason != "BackoffLimitExceeded" {
			return fmt.Errorf("condition %+v", c)
		}
		if len(st.RecentBackups) != 3 {
			return fmt.Errorf("recentBackups %+v", st.RecentBackups)
		}
		return nil
	})

	// Each run was announced once, and counted once.
	eventually(t, "events", func() error {
		if s, f := len(events(t, ns, "orders", v1alpha1.EventBackupSucceeded)), len(events(t, ns, "orders", v1alpha1.EventBackupFailed)); s != 1 || f != 2 {
			return fmt.Errorf("%d BackupSucceeded and %d BackupFailed events", s, f)
		}
		return nil
	})
	if n := countRuns(t, ns); n != 3 {
		t.Errorf("pgbackup_backup_runs_total = %v, want 3", n)
	}
	if got := gaugeValue(t, "pgbackup_last_backup_size_bytes", ns); got != 4096 {
		t.Errorf("pgbackup_last_backup_size_bytes = %v", got)
	}
	// The last run failed: the alerts' gauge says so (the size is still the last success's).
	if got := gaugeValue(t, "pgbackup_last_backup_succeeded", ns); got != 0 {
		t.Errorf("pgbackup_last_backup_succeeded = %v, want 0", got)
	}
	for _, e := range append(events(t, ns, "orders", v1alpha1.EventBackupFailed), events(t, ns, "orders", v1alpha1.EventBackupSucceeded)...) {
		if e.Type == "" || e.Note == "" {
			t.Errorf("event %+v", e)
		}
	}
}

// countRuns sums pgbackup_backup_runs_total of the PostgresBackup "orders"
// in ns.
func countRuns(t *testing.T, ns string) float64 {
	const name = "orders"
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
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
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// gaugeValue reads a gauge of the PostgresBackup "orders" in ns; -1 when
// it has no such series.
func gaugeValue(t *testing.T, metric, ns string) float64 {
	const name = "orders"
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["name"] == name {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestBackupStale(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.MaxAge = &metav1.Duration{Duration: 3 * time.Second}
	create(t, pb)
	eventually(t, "fresh at first", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupStale)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonWithinMaxAge {
			return fmt.Errorf("BackupStale %+v", c)
		}
		return nil
	})
	// Nothing changes in the cluster: only RequeueAfter can notice.
	eventually(t, "stale after maxAge", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupStale)
		if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonMaxAgeExceeded {
			return fmt.Errorf("BackupStale %+v", c)
		}
		return nil
	})
	eventually(t, "BackupStale event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.EventBackupStale)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.MaxAge = &metav1.Duration{Duration: time.Hour} })
	job := startJob(t, ns)
	finishJob(t, job, true, 0, `{"result":"succeeded","backupId":"20260301T040000Z","bytes":1,"durationSeconds":1}`)
	eventually(t, "fresh after a success", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupStale)
		if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "last successful backup") {
			return fmt.Errorf("BackupStale %+v", c)
		}
		return nil
	})
}

func TestTrigger(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()

	pb := newBackup(ns, "broken")
	pb.Spec.Schedule = "0 0 3 * * *"
	create(t, pb)
	if _, err := trigger.Start(ctx, k8s, client.ObjectKey{Namespace: ns, Name: "broken"}, time.Now()); !errors.Is(err, trigger.ErrNoCronJob) {
		t.Errorf("trigger without a CronJob: %v", err)
	}
	if _, err := trigger.Start(ctx, k8s, client.ObjectKey{Namespace: ns, Name: "missing"}, time.Now()); !apierrors.IsNotFound(err) {
		t.Errorf("trigger of a missing resource: %v", err)
	}

	create(t, newBackup(ns, "orders"))
	job := startJob(t, ns)
	cj, err := getCronJob(ns, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != cj.UID || ref.Kind != "CronJob" {
		t.Errorf("Job owner %+v", ref)
	}
	if job.Annotations[builder.AnnotationInstantiate] != "manual" || job.Spec.Template.Spec.Containers[0].Image != agentImage {
		t.Errorf("Job %+v", job.ObjectMeta)
	}

	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := make(chan v1alpha1.BackupRun, 1)
	go func() {
		run, err := trigger.Wait(waitCtx, k8s, job, 100*time.Millisecond)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		done <- run
	}()
	time.Sleep(300 * time.Millisecond)
	live := &batchv1.Job{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
		t.Fatal(err)
	}
	finishJob(t, live, false, 3, `{"result":"failed","reason":"AuthFailed","message":"password authentication failed for user \"backup\"","bytes":0,"durationSeconds":0.2}`)
	run := <-done
	if run.Result != v1alpha1.ResultFailed || run.Reason != "AuthFailed" || run.JobName != job.Name {
		t.Errorf("run %+v", run)
	}
	eventually(t, "the controller records the triggered run", func() error {
		st := getBackup(t, ns, "orders").Status
		if st.LastFailure == nil || st.LastFailure.Reason != "AuthFailed" {
			return fmt.Errorf("lastFailure %+v", st.LastFailure)
		}
		return nil
	})
}
