package reconciler_test

// Issue 14: scheduled restore verification, controller side.

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
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

func withVerify(ns string) *v1alpha1.PostgresBackup {
	pb := newBackup(ns, "orders")
	pb.Spec.Verify = &v1alpha1.VerifySpec{
		Schedule: "0 6 * * 0",
		Checks:   []v1alpha1.VerifyCheck{{Name: "has-orders", Database: "shop", SQL: "SELECT count(*) > 0 FROM orders"}},
	}
	return pb
}

func TestVerifyCronJobLifecycle(t *testing.T) {
	ns := newNamespace(t)
	create(t, withVerify(ns))

	var vcj *batchv1.CronJob
	eventually(t, "verify CronJob created", func() (err error) {
		vcj, err = getCronJob(ns, "orders-verify")
		return err
	})
	live := getBackup(t, ns, "orders")
	assertOwned(t, vcj, live)
	if vcj.Spec.Schedule != "0 6 * * 0" || vcj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || vcj.Labels[builder.LabelRole] != builder.RoleVerify ||
		vcj.Spec.JobTemplate.Spec.Template.Labels[builder.LabelRole] != builder.RoleVerify {
		t.Errorf("verify CronJob %+v", vcj)
	}
	p := vcj.Spec.JobTemplate.Spec.Template.Spec
	if p.InitContainers[0].Image != "postgres:18" || ptr.Deref(p.InitContainers[0].RestartPolicy, "") != corev1.ContainerRestartPolicyAlways ||
		p.Containers[0].Image != agentImage || p.Containers[0].Args[0] != "verify" {
		t.Errorf("verify pod %+v", p)
	}
	// The backup CronJob is still the backup's, unchanged by verification.
	if cj, err := getCronJob(ns, "orders"); err != nil || cj.Labels[builder.LabelRole] != "" || cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args[0] != "backup" {
		t.Errorf("backup CronJob %v %+v", err, cj)
	}
	eventually(t, "status", func() error {
		st := getBackup(t, ns, "orders").Status
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified)
		if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != v1alpha1.ReasonNotYetVerified || c.ObservedGeneration != live.Generation {
			return fmt.Errorf("Verified %+v", c)
		}
		if st.VerifyCronJobName != "orders-verify" {
			return fmt.Errorf("verifyCronJobName %q", st.VerifyCronJobName)
		}
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || !strings.Contains(ready.Message, "verify CronJob orders-verify") {
			return fmt.Errorf("Ready %+v", ready)
		}
		return nil
	})
	if g := gaugeValue(t, "pgbackup_verify_max_age_seconds", ns); g != 8*24*3600 {
		t.Errorf("pgbackup_verify_max_age_seconds = %v, want 8 days", g)
	}

	// Updated with the spec.
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) {
		pb.Spec.Verify.Schedule = "@daily"
		pb.Spec.Verify.PostgresImage = "mirror/postgres:17.2"
		pb.Spec.Verify.Checks = nil
	})
	eventually(t, "verify CronJob updated", func() error {
		cj, err := getCronJob(ns, "orders-verify")
		if err != nil {
			return err
		}
		c := cj.Spec.JobTemplate.Spec.Template.Spec
		if cj.Spec.Schedule != "@daily" || c.InitContainers[0].Image != "mirror/postgres:17.2" {
			return fmt.Errorf("schedule %q image %q", cj.Spec.Schedule, c.InitContainers[0].Image)
		}
		for _, e := range c.Containers[0].Env {
			if e.Name == "PGBACKUP_CHECKS" {
				return errors.New("PGBACKUP_CHECKS still set after the checks were removed")
			}
		}
		return nil
	})

	// Removed with spec.verify, and the condition with it.
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Verify = nil })
	eventually(t, "verify CronJob deleted", func() error {
		if _, err := getCronJob(ns, "orders-verify"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get verify CronJob: %w", err)
		}
		st := getBackup(t, ns, "orders").Status
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified); c != nil || st.VerifyCronJobName != "" {
			return fmt.Errorf("Verified %+v verifyCronJobName %q", c, st.VerifyCronJobName)
		}
		return nil
	})
	if g := gaugeValue(t, "pgbackup_verify_max_age_seconds", ns); g != -1 {
		t.Errorf("pgbackup_verify_max_age_seconds = %v after spec.verify was removed", g)
	}
	if _, err := getCronJob(ns, "orders"); err != nil {
		t.Errorf("backup CronJob: %v", err)
	}
}

// A CronJob named like the verify CronJob but not the resource's is never
// deleted.
func TestForeignVerifyCronJobKept(t *testing.T) {
	ns := newNamespace(t)
	foreign := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders-verify", Labels: map[string]string{builder.LabelBackup: "orders"}},
		Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "x", Image: "x"}}},
		}}}},
	}
	if err := k8s.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	create(t, newBackup(ns, "orders"))
	eventually(t, "Ready", func() error {
		if c := readyCondition(t, ns); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	if _, err := getCronJob(ns, "orders-verify"); err != nil {
		t.Errorf("the foreign CronJob was deleted: %v", err)
	}
}

func TestVerifyNeedsIdentityForEncryptedBackups(t *testing.T) {
	ns := newNamespace(t)
	pb := withVerify(ns)
	pb.Spec.Encryption = &v1alpha1.EncryptionSpec{AgeRecipients: []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}}
	create(t, pb)
	eventually(t, "Ready says what is missing", func() error {
		c := readyCondition(t, ns)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonVerifyIdentityMissing || !strings.Contains(c.Message, "ageIdentitySecretRef") {
			return fmt.Errorf("Ready %+v", c)
		}
		if len(events(t, ns, "orders", v1alpha1.EventInvalidSpec)) == 0 {
			return errors.New("no InvalidSpec event")
		}
		return nil
	})
	if _, err := getCronJob(ns, "orders-verify"); !apierrors.IsNotFound(err) {
		t.Errorf("verify CronJob made without the identity: %v", err)
	}
	// Backups go on.
	if _, err := getCronJob(ns, "orders"); err != nil {
		t.Errorf("backup CronJob: %v", err)
	}

	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) {
		pb.Spec.Verify.AgeIdentitySecretRef = &v1alpha1.SecretKeyRef{Name: "age", Key: "identity"}
	})
	eventually(t, "verify CronJob with the identity", func() error {
		cj, err := getCronJob(ns, "orders-verify")
		if err != nil {
			return err
		}
		for _, v := range cj.Spec.JobTemplate.Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "age" {
				return nil
			}
		}
		return errors.New("no identity volume")
	})
	eventually(t, "Ready", func() error {
		if c := readyCondition(t, ns); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
}

// startVerifyJob creates a Job from the verify CronJob, as the CronJob
// controller (absent in envtest) would.
func startVerifyJob(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	var cj *batchv1.CronJob
	eventually(t, "verify CronJob", func() (err error) { cj, err = getCronJob(ns, "orders-verify"); return err })
	job := builder.ManualJob(cj, time.Now())
	job.Name = name
	delete(job.Annotations, builder.AnnotationBackupUID) // a scheduled run: trusted through its owner
	if err := k8s.Create(context.Background(), job); err != nil {
		t.Fatalf("create Job %s: %v", name, err)
	}
	return job
}

// finishVerifyJob is finishJob for a verify Job: the pod's verify
// container terminated with message.
func finishVerifyJob(t *testing.T, job *batchv1.Job, succeeded bool, exit int32, message string) {
	t.Helper()
	ctx := context.Background()
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Minute))
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
	pod.Status = corev1.PodStatus{Phase: phase,
		InitContainerStatuses: []corev1.ContainerStatus{{
			Name: builder.ScratchContainerName, Image: "postgres:17", ImageID: "sha256:1",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: now}},
		}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: builder.VerifyContainerName, Image: agentImage, ImageID: "sha256:0",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exit, Reason: reason, Message: message, StartedAt: start, FinishedAt: now,
			}},
		}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("pod status: %v", err)
	}
	job.Status.StartTime = &start
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
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: msg, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: msg, LastTransitionTime: now, LastProbeTime: now},
		}
	}
	if err := k8s.Status().Update(ctx, job); err != nil {
		t.Fatalf("job status: %v", err)
	}
}

func TestVerificationStatus(t *testing.T) {
	ns := newNamespace(t)
	create(t, withVerify(ns))

	// A backup run fills the backup status only, with the server's version,
	// which picks the scratch server's image.
	backup := startJob(t, ns)
	finishJob(t, backup, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":10,"durationSeconds":1,"serverVersionNum":160004}`)
	eventually(t, "backup folded", func() error {
		st := getBackup(t, ns, "orders").Status
		if s := st.LastSuccessfulBackup; s == nil || s.ServerVersionNum != 160004 {
			return fmt.Errorf("lastSuccessfulBackup %+v", s)
		}
		if st.LastVerification != nil || st.LastVerifiedBackup != nil {
			return fmt.Errorf("a backup folded as a verification: %+v %+v", st.LastVerification, st.LastVerifiedBackup)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified); c == nil || c.Reason != v1alpha1.ReasonNotYetVerified {
			return fmt.Errorf("Verified %+v", c)
		}
		cj, err := getCronJob(ns, "orders-verify")
		if err != nil {
			return err
		}
		if img := cj.Spec.JobTemplate.Spec.Template.Spec.InitContainers[0].Image; img != "postgres:16" {
			return fmt.Errorf("scratch image %q, want the backed-up server's major", img)
		}
		return nil
	})

	lastBackup := getBackup(t, ns, "orders").Status.LastSuccessfulBackup

	ok := startVerifyJob(t, ns, "orders-verify-1")
	finishVerifyJob(t, ok, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":0,"durationSeconds":31,"serverVersionNum":160004,`+
		`"verification":{"restoreSeconds":20.2,"tablesChecked":12,"tablesMismatched":0,"checksFailed":0,"recorded":true}}`)
	eventually(t, "verification folded", func() error {
		st := getBackup(t, ns, "orders").Status
		if l := st.LastVerification; l == nil || l.JobName != ok.Name || l.Result != v1alpha1.ResultSucceeded || l.TablesChecked != 12 {
			return fmt.Errorf("lastVerification %+v", l)
		}
		if b := st.LastVerifiedBackup; b == nil || b.ID != "20260301T030000Z" || b.RestoreSeconds != 21 {
			return fmt.Errorf("lastVerifiedBackup %+v", b)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified); c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonVerified {
			return fmt.Errorf("Verified %+v", c)
		}
		if len(events(t, ns, "orders", v1alpha1.EventVerificationSucceeded)) != 1 {
			return errors.New("no VerificationSucceeded event")
		}
		return nil
	})
	// The verification is not a backup.
	st := getBackup(t, ns, "orders").Status
	if len(st.RecentBackups) != 1 || st.RecentBackups[0].JobName != backup.Name || !equality.Semantic.DeepEqual(st.LastSuccessfulBackup, lastBackup) {
		t.Errorf("backup status touched by a verification: recent %+v last %+v, was %+v", st.RecentBackups, st.LastSuccessfulBackup, lastBackup)
	}
	if n := countRuns(t, ns); n != 1 {
		t.Errorf("pgbackup_backup_runs_total = %v, want 1: verifications are not backup runs", n)
	}
	for metric, want := range map[string]float64{
		"pgbackup_last_verification_succeeded": 1, "pgbackup_restore_seconds": 21,
		"pgbackup_last_verified_timestamp_seconds": float64(st.LastVerifiedBackup.Time.Unix()),
	} {
		if got := gaugeValue(t, metric, ns); got != want {
			t.Errorf("%s = %v, want %v", metric, got, want)
		}
	}
	if e := events(t, ns, "orders", v1alpha1.EventVerificationSucceeded); !strings.Contains(e[0].Note, "20260301T030000Z") || !strings.Contains(e[0].Note, "21s") {
		t.Errorf("event %q", e[0].Note)
	}

	time.Sleep(1100 * time.Millisecond) // finish times are per second
	bad := startVerifyJob(t, ns, "orders-verify-2")
	finishVerifyJob(t, bad, false, 6, `{"result":"failed","backupId":"20260301T030000Z","reason":"VerificationFailed",`+
		`"message":"public.orders: 10 rows restored, the manifest says 12","bytes":0,"durationSeconds":25,`+
		`"verification":{"restoreSeconds":19,"tablesChecked":12,"tablesMismatched":1,"checksFailed":0,"recorded":true}}`)
	eventually(t, "failure folded", func() error {
		st := getBackup(t, ns, "orders").Status
		if l := st.LastVerification; l == nil || l.JobName != bad.Name || l.Reason != "VerificationFailed" || l.TablesMismatched != 1 {
			return fmt.Errorf("lastVerification %+v", l)
		}
		if b := st.LastVerifiedBackup; b == nil || b.RestoreSeconds != 21 {
			return fmt.Errorf("lastVerifiedBackup %+v: the last success stays", b)
		}
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified)
		if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonVerificationFailed || !strings.Contains(c.Message, "manifest says 12") {
			return fmt.Errorf("Verified %+v", c)
		}
		if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("LastBackupSucceeded %+v: a failed verification is not a failed backup", c)
		}
		if st.LastFailure != nil {
			return fmt.Errorf("lastFailure %+v", st.LastFailure)
		}
		if e := events(t, ns, "orders", v1alpha1.EventVerificationFailed); len(e) != 1 || e[0].Type != corev1.EventTypeWarning ||
			!strings.Contains(e[0].Note, "VerificationFailed") {
			return fmt.Errorf("VerificationFailed events %+v", e)
		}
		return nil
	})
	if g := gaugeValue(t, "pgbackup_last_verification_succeeded", ns); g != 0 {
		t.Errorf("pgbackup_last_verification_succeeded = %v, want 0", g)
	}
	if n := len(events(t, ns, "orders", v1alpha1.EventVerificationSucceeded)); n != 1 {
		t.Errorf("%d VerificationSucceeded events: each run is announced once", n)
	}
	if n := countRuns(t, ns); n != 1 {
		t.Errorf("pgbackup_backup_runs_total = %v, want 1", n)
	}
}

// The CRD bounds spec.verify.
func TestVerifyValidated(t *testing.T) {
	ns := newNamespace(t)
	tests := []struct {
		name string
		edit func(*v1alpha1.VerifySpec)
		want string
	}{
		{"class without size", func(v *v1alpha1.VerifySpec) {
			v.Storage = &v1alpha1.VerifyStorageSpec{StorageClassName: ptr.To("fast")}
		}, "needs verify.storage.size"},
		{"duplicate check", func(v *v1alpha1.VerifySpec) {
			v.Checks = append(v.Checks, v.Checks[0])
		}, "Duplicate value"},
		{"check name", func(v *v1alpha1.VerifySpec) { v.Checks[0].Name = "Has Orders" }, "name"},
		{"long sql", func(v *v1alpha1.VerifySpec) { v.Checks[0].SQL = strings.Repeat("x", 4097) }, "sql"},
		{"too many checks", func(v *v1alpha1.VerifySpec) {
			v.Checks = nil
			for i := range 33 {
				v.Checks = append(v.Checks, v1alpha1.VerifyCheck{Name: fmt.Sprintf("c%d", i), Database: "d", SQL: "SELECT true"})
			}
		}, "checks"},
		{"zero maxAge", func(v *v1alpha1.VerifySpec) { v.MaxAge = &metav1.Duration{} }, "verify.maxAge must be positive"},
		{"no schedule", func(v *v1alpha1.VerifySpec) { v.Schedule = "" }, "exactly one of verify.schedule and verify.everyNth"},
		{"schedule and everyNth", func(v *v1alpha1.VerifySpec) { v.EveryNth = ptr.To[int32](1) }, "exactly one of verify.schedule and verify.everyNth"},
		{"everyNth 0", func(v *v1alpha1.VerifySpec) { v.Schedule, v.EveryNth = "", ptr.To[int32](0) }, "everyNth"},
		{"everyNth beyond recentBackups", func(v *v1alpha1.VerifySpec) { v.Schedule, v.EveryNth = "", ptr.To[int32](11) }, "everyNth"},
		{"zero deadline", func(v *v1alpha1.VerifySpec) { v.ActiveDeadlineSeconds = ptr.To[int64](0) }, "activeDeadlineSeconds"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := withVerify(ns)
			pb.Name = fmt.Sprintf("invalid-%d", i)
			tt.edit(pb.Spec.Verify)
			if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("create: %v, want Invalid mentioning %q", err, tt.want)
			}
		})
	}
	pb := withVerify(ns)
	pb.Spec.Verify.Storage = &v1alpha1.VerifyStorageSpec{Size: ptr.To(resource.MustParse("5Gi")), StorageClassName: ptr.To("fast")}
	create(t, pb)
	if live := getBackup(t, ns, "orders"); ptr.Deref(live.Spec.Verify.ActiveDeadlineSeconds, 0) != 21600 {
		t.Errorf("verify.activeDeadlineSeconds default %v", live.Spec.Verify.ActiveDeadlineSeconds)
	}
}

// verify.everyNth: after a successful backup the controller starts a
// verification of exactly that backup from the (suspended) verify
// CronJob, once; the next one follows the next backup.
func TestVerifyEveryNthStartsAVerificationAfterABackup(t *testing.T) {
	ns := newNamespace(t)
	pb := newBackup(ns, "orders")
	pb.Spec.Verify = &v1alpha1.VerifySpec{EveryNth: ptr.To[int32](1)}
	create(t, pb)
	var vcj *batchv1.CronJob
	eventually(t, "suspended verify CronJob", func() (err error) {
		if vcj, err = getCronJob(ns, "orders-verify"); err == nil && !ptr.Deref(vcj.Spec.Suspend, false) {
			err = fmt.Errorf("verify CronJob not suspended: %+v", vcj.Spec)
		}
		return err
	})
	verifyJobs := func() []batchv1.Job {
		var jobs batchv1.JobList
		if err := k8s.List(context.Background(), &jobs, client.InNamespace(ns), client.MatchingLabels{builder.LabelRole: builder.RoleVerify}); err != nil {
			t.Fatal(err)
		}
		return jobs.Items
	}
	if n := len(verifyJobs()); n != 0 {
		t.Fatalf("%d verification Jobs before any backup", n)
	}

	backup := startJob(t, ns)
	finishJob(t, backup, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":10,"durationSeconds":1}`)
	var vjob batchv1.Job
	eventually(t, "verification Job started", func() error {
		jobs := verifyJobs()
		if len(jobs) != 1 {
			return fmt.Errorf("%d verification Jobs", len(jobs))
		}
		vjob = jobs[0]
		return nil
	})
	if owner := metav1.GetControllerOf(&vjob); owner == nil || owner.UID != vcj.UID || vjob.Annotations[builder.AnnotationVerifyBackupID] != "20260301T030000Z" {
		t.Fatalf("verification Job %s: owner %+v annotations %v", vjob.Name, owner, vjob.Annotations)
	}
	env := vjob.Spec.Template.Spec.Containers[0].Env
	if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == "PGBACKUP_BACKUP" && e.Value == "20260301T030000Z" }) {
		t.Errorf("the verification does not name its backup: %+v", env)
	}

	finishVerifyJob(t, &vjob, true, 0, `{"result":"succeeded","backupId":"20260301T030000Z","bytes":0,"durationSeconds":3,`+
		`"verification":{"restoreSeconds":2,"tablesChecked":1,"tablesMismatched":0,"checksFailed":0,"recorded":true}}`)
	eventually(t, "verified", func() error {
		if c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionVerified); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Verified %+v", c)
		}
		return nil
	})
	// Reconciles after the verification start nothing new for that backup.
	time.Sleep(2 * time.Second)
	if n := len(verifyJobs()); n != 1 {
		t.Fatalf("%d verification Jobs for one backup", n)
	}

	next := startJob(t, ns)
	finishJob(t, next, true, 0, `{"result":"succeeded","backupId":"20260302T030000Z","bytes":10,"durationSeconds":1}`)
	eventually(t, "second verification Job", func() error {
		for _, j := range verifyJobs() {
			if j.Annotations[builder.AnnotationVerifyBackupID] == "20260302T030000Z" {
				return nil
			}
		}
		return errors.New("no verification of the second backup")
	})
}
