package status

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

const verifyCronJobUID = types.UID("vcj-uid")

// verifyCronJob is the backup's verification CronJob, created at t0.
func verifyCronJob() *batchv1.CronJob {
	cj := cronJob()
	cj.Name, cj.UID = "orders-verify", verifyCronJobUID
	cj.Labels = map[string]string{builder.LabelRole: builder.RoleVerify}
	cj.CreationTimestamp = at(0)
	return cj
}

// verifyJob is a finished Job of the verification CronJob.
func verifyJob(name string, ctype batchv1.JobConditionType, end int, reason string) batchv1.Job {
	j := job(name, ctype, end, reason)
	j.Labels = map[string]string{builder.LabelRole: builder.RoleVerify}
	j.OwnerReferences[0].Name, j.OwnerReferences[0].UID = "orders-verify", verifyCronJobUID
	return j
}

// verifyPodOf is a pod of j whose verify container terminated at minute
// end with message; a scratch server sidecar ran beside it.
func verifyPodOf(j batchv1.Job, end int, exit int32, message string) corev1.Pod {
	p := pod(j, end, exit, "Completed", message)
	p.Status.ContainerStatuses[0].Name = builder.VerifyContainerName
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: builder.ScratchContainerName, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", Message: "server stopped", FinishedAt: at(end)},
	}}}
	return p
}

const verifiedMsg = `{"result":"succeeded","backupId":"20260301T030000Z","bytes":0,"durationSeconds":30.2,"serverVersionNum":170002,` +
	`"verification":{"restoreSeconds":12.1,"tablesChecked":7,"tablesMismatched":0,"checksFailed":0,"recorded":true}}`

const mismatchMsg = `{"result":"failed","backupId":"20260301T030000Z","reason":"VerificationFailed","message":"public.orders: 10 rows, manifest says 12",` +
	`"bytes":0,"durationSeconds":20,"verification":{"restoreSeconds":9,"tablesChecked":7,"tablesMismatched":1,"checksFailed":0,"recorded":true}}`

func TestVerifyRun(t *testing.T) {
	ok := verifyJob("v-1", batchv1.JobComplete, 10, "")
	failed := verifyJob("v-2", batchv1.JobFailed, 10, "BackoffLimitExceeded")
	tests := []struct {
		name    string
		job     batchv1.Job
		pods    []corev1.Pod
		want    v1alpha1.VerificationRun
		msgPart string
	}{
		{"verified", ok, []corev1.Pod{verifyPodOf(ok, 10, 0, verifiedMsg)}, v1alpha1.VerificationRun{
			JobName: "v-1", Result: v1alpha1.ResultSucceeded, ID: "20260301T030000Z", DurationSeconds: 30,
			RestoreSeconds: 13, TablesChecked: 7, ServerVersionNum: 170002,
		}, ""},
		{"mismatch", failed, []corev1.Pod{verifyPodOf(failed, 10, 6, mismatchMsg)}, v1alpha1.VerificationRun{
			JobName: "v-2", Result: v1alpha1.ResultFailed, ID: "20260301T030000Z", Reason: "VerificationFailed", DurationSeconds: 20,
			RestoreSeconds: 9, TablesChecked: 7, TablesMismatched: 1,
		}, "manifest says 12"},
		{"restore failed", failed, []corev1.Pod{verifyPodOf(failed, 10, 4,
			`{"result":"failed","reason":"RestoreFailed","message":"pg_restore: error","bytes":0,"durationSeconds":3}`)},
			v1alpha1.VerificationRun{JobName: "v-2", Result: v1alpha1.ResultFailed, Reason: "RestoreFailed", DurationSeconds: 3}, "pg_restore"},
		{"unknown reason", failed, []corev1.Pod{verifyPodOf(failed, 10, 1,
			`{"result":"failed","reason":"Gremlins","message":"x","bytes":0,"durationSeconds":1}`)},
			v1alpha1.VerificationRun{JobName: "v-2", Result: v1alpha1.ResultFailed, Reason: "Internal", DurationSeconds: 1}, "Gremlins"},
		{"deadline", verifyJob("v-3", batchv1.JobFailed, 10, "DeadlineExceeded"), nil,
			v1alpha1.VerificationRun{JobName: "v-3", Result: v1alpha1.ResultFailed, Reason: "DeadlineExceeded"}, "activeDeadlineSeconds"},
		// The backup container's name is not read in a verify pod.
		{"an agent container is not the verify container", ok, []corev1.Pod{pod(ok, 10, 0, "Completed", verifiedMsg)},
			v1alpha1.VerificationRun{JobName: "v-1", Result: v1alpha1.ResultFailed, Reason: "NoResult"}, "no terminated agent container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := VerifyRun(&tt.job, tt.pods)
			if !ok {
				t.Fatal("not finished")
			}
			w := tt.want
			if got.JobName != w.JobName || got.Result != w.Result || got.ID != w.ID || got.Reason != w.Reason ||
				got.DurationSeconds != w.DurationSeconds || got.RestoreSeconds != w.RestoreSeconds || got.TablesChecked != w.TablesChecked ||
				got.TablesMismatched != w.TablesMismatched || got.ChecksFailed != w.ChecksFailed || got.ServerVersionNum != w.ServerVersionNum {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if !strings.Contains(got.Message, tt.msgPart) || !got.FinishTime.Equal(ptr.To(at(10))) {
				t.Errorf("message %q (want %q) finish %v", got.Message, tt.msgPart, got.FinishTime)
			}
		})
	}
	if _, ok := VerifyRun(ptr.To(verifyJob("v-0", "", 10, "")), nil); ok {
		t.Error("a running Job is finished")
	}
}

func TestOwnedVerify(t *testing.T) {
	pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID}}
	ours := verifyJob("v", batchv1.JobComplete, 10, "")
	backup := job("b", batchv1.JobComplete, 10, "")
	manual := verifyJob("v-manual", batchv1.JobComplete, 10, "")
	manual.OwnerReferences = nil
	manual.Annotations = map[string]string{builder.AnnotationBackupUID: string(backupUID)}
	manualBackup := job("b-manual", batchv1.JobComplete, 10, "")
	manualBackup.OwnerReferences = nil
	manualBackup.Annotations = map[string]string{builder.AnnotationBackupUID: string(backupUID)}
	oldCronJob := verifyJob("v-old", batchv1.JobComplete, 10, "")
	oldCronJob.OwnerReferences[0].UID = "deleted-verify-cj"
	unlabelled := verifyJob("v-unlabelled", batchv1.JobComplete, 10, "")
	unlabelled.Labels = nil
	foreignVCJ := verifyCronJob()
	foreignVCJ.OwnerReferences[0].UID = "someone-else"
	tests := []struct {
		name               string
		vcj                *batchv1.CronJob
		job                batchv1.Job
		wantVerify, wantBk bool
	}{
		{"verify Job of our verify CronJob", verifyCronJob(), ours, true, false},
		{"backup Job of our CronJob", verifyCronJob(), backup, false, true},
		{"verify Job started by hand for us", verifyCronJob(), manual, true, false},
		{"backup Job started by hand for us", verifyCronJob(), manualBackup, false, true},
		{"verify Job of a deleted verify CronJob", verifyCronJob(), oldCronJob, false, false},
		{"verify CronJob not seen yet", nil, ours, false, false},
		{"verify CronJob not ours", foreignVCJ, ours, false, false},
		// Without the role label a verify Job is nobody's: not a backup
		// (its owner is not the backup CronJob), not a verification.
		{"verify Job without its label", verifyCronJob(), unlabelled, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OwnedVerify(pb, tt.vcj, &tt.job); got != tt.wantVerify {
				t.Errorf("OwnedVerify = %v, want %v", got, tt.wantVerify)
			}
			// The backup CronJob and the verify CronJob are both passed
			// the other way round: the wrong CronJob never makes a Job ours.
			if got := Owned(pb, cronJob(), &tt.job); got != tt.wantBk {
				t.Errorf("Owned = %v, want %v", got, tt.wantBk)
			}
			if tt.vcj != nil && Owned(pb, tt.vcj, &tt.job) && tt.job.Name == "v" {
				t.Error("a verify Job counts as a backup run of the verify CronJob")
			}
		})
	}
}

func TestFoldVerification(t *testing.T) {
	sched, _ := cron.ParseStandard("0 3 * * *")
	base := func() *v1alpha1.PostgresBackup {
		return &v1alpha1.PostgresBackup{
			ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID, Generation: 7, CreationTimestamp: metav1.NewTime(t0.Add(-48 * time.Hour))},
			Spec: v1alpha1.PostgresBackupSpec{
				Schedule:    "0 3 * * *",
				Destination: v1alpha1.DestinationSpec{S3: v1alpha1.S3Destination{Bucket: "bk", Prefix: "p"}},
				Verify:      &v1alpha1.VerifySpec{Schedule: "0 6 * * *", MaxAge: &metav1.Duration{Duration: 24 * time.Hour}},
			},
		}
	}
	v1 := verifyJob("orders-verify-1", batchv1.JobComplete, 10, "")
	v2 := verifyJob("orders-verify-2", batchv1.JobFailed, 20, "BackoffLimitExceeded")
	b1 := job("orders-1", batchv1.JobComplete, 5, "")
	pods := []corev1.Pod{
		verifyPodOf(v1, 10, 0, verifiedMsg), verifyPodOf(v2, 20, 6, mismatchMsg),
		pod(b1, 5, 0, "Completed", `{"result":"succeeded","backupId":"20260301T025500Z","bytes":5,"durationSeconds":1,"serverVersionNum":160003}`),
	}
	verified := func(out Output) *metav1.Condition {
		return meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionVerified)
	}
	tests := []struct {
		name  string
		edit  func(*v1alpha1.PostgresBackup)
		jobs  []batchv1.Job
		vcj   *batchv1.CronJob
		now   time.Time
		check func(t *testing.T, out Output)
	}{
		{"not set: condition and records removed", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Verify = nil
			pb.Status.VerifyCronJobName = "orders-verify"
			pb.Status.LastVerification = &v1alpha1.VerificationRun{JobName: "x", Result: v1alpha1.ResultSucceeded, FinishTime: at(1)}
			pb.Status.LastVerifiedBackup = &v1alpha1.VerifiedBackup{ID: "x", Time: at(1)}
			pb.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionVerified, Status: metav1.ConditionTrue, Reason: "Verified"}}
		}, []batchv1.Job{v1}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			st := out.Status
			if verified(out) != nil || st.VerifyCronJobName != "" || st.LastVerification != nil || st.LastVerifiedBackup != nil {
				t.Errorf("verification status left: %+v", st)
			}
			if len(out.NewVerifications) != 0 || !out.VerifyEnabled.IsZero() {
				t.Errorf("new %+v enabled %v", out.NewVerifications, out.VerifyEnabled)
			}
		}},
		{"never run, no CronJob seen yet", nil, nil, nil, t0, func(t *testing.T, out Output) {
			c := verified(out)
			if c.Status != metav1.ConditionUnknown || c.Reason != v1alpha1.ReasonNotYetVerified || c.ObservedGeneration != 7 {
				t.Errorf("Verified %+v", c)
			}
			if out.Status.VerifyCronJobName != "orders-verify" || out.RequeueAfter != 0 || !out.VerifyEnabled.IsZero() {
				t.Errorf("name %q requeue %v enabled %v", out.Status.VerifyCronJobName, out.RequeueAfter, out.VerifyEnabled)
			}
		}},
		{"never run, enabled recently", nil, nil, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			c := verified(out)
			if c.Status != metav1.ConditionUnknown || c.Reason != v1alpha1.ReasonNotYetVerified || !strings.Contains(c.Message, "2026-03-02T03:00:00Z") {
				t.Errorf("Verified %+v", c)
			}
			if out.RequeueAfter != 23*time.Hour || !out.VerifyEnabled.Equal(t0) {
				t.Errorf("requeue %v enabled %v", out.RequeueAfter, out.VerifyEnabled)
			}
		}},
		{"never run within maxAge of enabling", nil, nil, verifyCronJob(), t0.Add(25 * time.Hour), func(t *testing.T, out Output) {
			if c := verified(out); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonVerificationStale || !strings.Contains(c.Message, "enabled") {
				t.Errorf("Verified %+v", c)
			}
		}},
		{"verified", nil, []batchv1.Job{v1, b1}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			st := out.Status
			if len(out.NewVerifications) != 1 || out.NewVerifications[0].JobName != v1.Name {
				t.Fatalf("new verifications %+v", out.NewVerifications)
			}
			if l := st.LastVerification; l == nil || l.JobName != v1.Name || l.Result != v1alpha1.ResultSucceeded || l.RestoreSeconds != 13 || l.TablesChecked != 7 {
				t.Errorf("lastVerification %+v", l)
			}
			if b := st.LastVerifiedBackup; b == nil || b.ID != "20260301T030000Z" || b.RestoreSeconds != 13 || !b.Time.Equal(ptr.To(at(10))) {
				t.Errorf("lastVerifiedBackup %+v", b)
			}
			c := verified(out)
			if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonVerified || c.ObservedGeneration != 7 || !strings.Contains(c.Message, "20260301T030000Z") {
				t.Errorf("Verified %+v", c)
			}
			if want := 24*time.Hour - 50*time.Minute; out.RequeueAfter != want {
				t.Errorf("requeue %v, want %v (when the verification turns stale)", out.RequeueAfter, want)
			}
			// The backup Job is a backup: it fills the backup status only.
			if len(out.NewRuns) != 1 || out.NewRuns[0].JobName != b1.Name || len(st.RecentBackups) != 1 {
				t.Errorf("backup runs %+v recent %+v", out.NewRuns, st.RecentBackups)
			}
			if s := st.LastSuccessfulBackup; s == nil || s.ID != "20260301T025500Z" || s.ServerVersionNum != 160003 {
				t.Errorf("lastSuccessfulBackup %+v: the backup's, with its server version", s)
			}
		}},
		{"verify Jobs are not backups", nil, []batchv1.Job{v1, v2}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			st := out.Status
			if len(out.NewRuns) != 0 || len(st.RecentBackups) != 0 || st.LastSuccessfulBackup != nil || st.LastFailure != nil {
				t.Errorf("verify Jobs folded as backups: new %+v status %+v", out.NewRuns, st)
			}
			if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Reason != v1alpha1.ReasonNoBackupYet {
				t.Errorf("LastBackupSucceeded %+v", c)
			}
		}},
		{"backup Jobs are not verifications", nil, []batchv1.Job{b1}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			if st := out.Status; st.LastVerification != nil || st.LastVerifiedBackup != nil || len(out.NewVerifications) != 0 {
				t.Errorf("a backup folded as a verification: %+v", st)
			}
			if c := verified(out); c.Reason != v1alpha1.ReasonNotYetVerified {
				t.Errorf("Verified %+v", c)
			}
		}},
		{"failure after success", nil, []batchv1.Job{v1, v2}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			st := out.Status
			if len(out.NewVerifications) != 2 || out.NewVerifications[0].JobName != v1.Name || out.NewVerifications[1].JobName != v2.Name {
				t.Fatalf("new verifications %+v (oldest first)", out.NewVerifications)
			}
			if l := st.LastVerification; l.JobName != v2.Name || l.Result != v1alpha1.ResultFailed || l.TablesMismatched != 1 {
				t.Errorf("lastVerification %+v", l)
			}
			if b := st.LastVerifiedBackup; b == nil || !b.Time.Equal(ptr.To(at(10))) {
				t.Errorf("lastVerifiedBackup %+v: the last success stays", b)
			}
			c := verified(out)
			if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonVerificationFailed || !strings.Contains(c.Message, "manifest says 12") {
				t.Errorf("Verified %+v", c)
			}
			if out.RequeueAfter != 0 {
				t.Errorf("requeue %v: a failure changes with the next run only", out.RequeueAfter)
			}
		}},
		{"other failure reasons", nil, []batchv1.Job{verifyJob("orders-verify-3", batchv1.JobFailed, 30, "DeadlineExceeded")}, verifyCronJob(), t0.Add(time.Hour),
			func(t *testing.T, out Output) {
				if c := verified(out); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonDeadlineExceeded {
					t.Errorf("Verified %+v", c)
				}
			}},
		{"stale", nil, []batchv1.Job{v1}, verifyCronJob(), t0.Add(25 * time.Hour), func(t *testing.T, out Output) {
			c := verified(out)
			if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonVerificationStale || !strings.Contains(c.Message, "20260301T030000Z") {
				t.Errorf("Verified %+v", c)
			}
		}},
		{"default maxAge is 8 days", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Verify.MaxAge = nil
		}, []batchv1.Job{v1}, verifyCronJob(), t0.Add(7 * 24 * time.Hour), func(t *testing.T, out Output) {
			if c := verified(out); c.Status != metav1.ConditionTrue {
				t.Errorf("Verified %+v", c)
			}
		}},
		{"recorded runs are not new", func(pb *v1alpha1.PostgresBackup) {
			pb.Status.LastVerification = &v1alpha1.VerificationRun{JobName: v2.Name, Result: v1alpha1.ResultFailed, Reason: "VerificationFailed", FinishTime: at(20)}
		}, []batchv1.Job{v1, v2}, verifyCronJob(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			if len(out.NewVerifications) != 0 || out.Status.LastVerification.JobName != v2.Name {
				t.Errorf("new %+v last %+v", out.NewVerifications, out.Status.LastVerification)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := base()
			if tt.edit != nil {
				tt.edit(pb)
			}
			in := Input{Backup: pb, Jobs: tt.jobs, Pods: pods, CronJob: cronJob(), VerifyCronJob: tt.vcj, Schedule: sched, Location: time.UTC, Now: tt.now}
			out := Fold(in)
			tt.check(t, out)
			in.Backup = &v1alpha1.PostgresBackup{ObjectMeta: pb.ObjectMeta, Spec: pb.Spec, Status: out.Status}
			if again := Fold(in); len(again.NewVerifications) != 0 || len(again.NewRuns) != 0 {
				t.Errorf("folding twice reports runs again: %+v %+v", again.NewVerifications, again.NewRuns)
			}
		})
	}
}

// verify.everyNth asks for a verification of the newest successful backup
// once N successful backups newer than the last verified one finished,
// never while a verification runs, never twice for one backup.
func TestVerifyDue(t *testing.T) {
	run := func(id string, ok bool) v1alpha1.BackupRun {
		r := v1alpha1.BackupRun{ID: id, Result: v1alpha1.ResultSucceeded}
		if !ok {
			r.Result = v1alpha1.ResultFailed
		}
		return r
	}
	recent := []v1alpha1.BackupRun{ // newest first, as in status
		run("20260301T040000Z", true), run("20260301T030000Z-1", false), run("20260301T030000Z", true), run("20260301T020000Z", true),
	}
	last := &v1alpha1.SuccessfulBackup{ID: "20260301T040000Z"}
	verified := func(id string) *v1alpha1.VerificationRun {
		return &v1alpha1.VerificationRun{ID: id, Result: v1alpha1.ResultSucceeded}
	}
	running := verifyJob("orders-verify-x", "", 0, "")
	tests := []struct {
		name     string
		everyNth int32
		suspend  bool
		lastVer  *v1alpha1.VerificationRun
		jobs     []batchv1.Job
		vcj      *batchv1.CronJob
		want     string
	}{
		{"first, every backup", 1, false, nil, nil, verifyCronJob(), "20260301T040000Z"},
		{"one new since the last verified", 1, false, verified("20260301T030000Z"), nil, verifyCronJob(), "20260301T040000Z"},
		{"every 2nd: one new is not enough", 2, false, verified("20260301T030000Z"), nil, verifyCronJob(), ""},
		{"every 2nd: failed runs do not count", 2, false, verified("20260301T020000Z"), nil, verifyCronJob(), "20260301T040000Z"},
		{"every 3rd", 3, false, verified("20260301T020000Z"), nil, verifyCronJob(), ""},
		{"already verified", 1, false, verified("20260301T040000Z"), nil, verifyCronJob(), ""},
		{"its verification failed: not retried", 1, false, &v1alpha1.VerificationRun{ID: "20260301T040000Z", Result: v1alpha1.ResultFailed}, nil, verifyCronJob(), ""},
		{"a verification runs", 1, false, nil, []batchv1.Job{running}, verifyCronJob(), ""},
		{"a foreign running Job does not block", 1, false, nil, []batchv1.Job{job("orders-1", "", 0, "")}, verifyCronJob(), "20260301T040000Z"},
		{"suspended", 1, true, nil, nil, verifyCronJob(), ""},
		{"no verify CronJob yet", 1, false, nil, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID},
				Spec: v1alpha1.PostgresBackupSpec{Verify: &v1alpha1.VerifySpec{EveryNth: ptr.To(tt.everyNth), Suspend: ptr.To(tt.suspend)}}}
			st := &v1alpha1.PostgresBackupStatus{RecentBackups: recent, LastSuccessfulBackup: last, LastVerification: tt.lastVer}
			if got := verifyDue(Input{Backup: pb, Jobs: tt.jobs, VerifyCronJob: tt.vcj}, st); got != tt.want {
				t.Errorf("verifyDue = %q, want %q", got, tt.want)
			}
		})
	}
	pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID},
		Spec: v1alpha1.PostgresBackupSpec{Verify: &v1alpha1.VerifySpec{Schedule: "@daily"}}}
	if got := verifyDue(Input{Backup: pb, VerifyCronJob: verifyCronJob()}, &v1alpha1.PostgresBackupStatus{RecentBackups: recent, LastSuccessfulBackup: last}); got != "" {
		t.Errorf("a scheduled verification is due after a backup: %q", got)
	}
}
