package status

import (
	"fmt"
	"slices"
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

var t0 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

func at(min int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(min) * time.Minute)) }

// The backup of the Fold tests, and the CronJob it controls.
const (
	backupUID  = types.UID("pb-uid")
	cronJobUID = types.UID("cj-uid")
)

func cronJob() *batchv1.CronJob {
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: cronJobUID, OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "pgbackup.dev/v1alpha1", Kind: "PostgresBackup", Name: "orders", UID: backupUID, Controller: ptr.To(true)},
	}}}
}

// job is a finished Job (ctype Complete or Failed) ending at minute end,
// controlled by the backup's CronJob.
func job(name string, ctype batchv1.JobConditionType, end int, reason string) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "batch/v1", Kind: "CronJob", Name: "orders", UID: cronJobUID, Controller: ptr.To(true)},
	}}}
	start := at(end - 1)
	j.Status.StartTime = &start
	if ctype == "" {
		return j
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: ctype, Status: corev1.ConditionTrue, LastTransitionTime: at(end), Reason: reason, Message: "Job says " + reason}}
	if ctype == batchv1.JobComplete {
		c := at(end)
		j.Status.CompletionTime = &c
	}
	return j
}

// pod is a pod of j whose agent terminated at minute end with message.
func pod(j batchv1.Job, end int, exit int32, reason, message string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name:            fmt.Sprintf("%s-%d", j.Name, end),
		OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: j.Name, UID: j.UID, Controller: ptr.To(true)}},
	}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: exit, Reason: reason, Message: message, FinishedAt: at(end),
	}}}}
	return p
}

const okMsg = `{"result":"succeeded","backupId":"20260301T030000Z","bytes":1234,"durationSeconds":42.6,"databases":["app"]}`

func TestRun(t *testing.T) {
	done := job("b-1", batchv1.JobComplete, 10, "")
	failed := job("b-2", batchv1.JobFailed, 10, "BackoffLimitExceeded")
	tests := []struct {
		name    string
		job     batchv1.Job
		pods    []corev1.Pod
		wantOK  bool
		want    v1alpha1.BackupRun
		msgPart string
	}{
		{"running", job("b-0", "", 10, ""), nil, false, v1alpha1.BackupRun{}, ""},
		{"success with result", done, []corev1.Pod{pod(done, 10, 0, "Completed", okMsg)}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultSucceeded, ID: "20260301T030000Z", Bytes: 1234, DurationSeconds: 43}, ""},
		{"success without result", done, nil, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultFailed, Reason: "NoResult"}, "no terminated agent container"},
		{"success with a log tail instead of a result", done, []corev1.Pod{pod(done, 10, 0, "Completed", "done, I think")}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultFailed, Reason: "NoResult"}, "no successful result"},
		{"success with a failed result", done, []corev1.Pod{pod(done, 10, 0, "Completed", `{"result":"failed","reason":"DumpFailed","message":"x","bytes":0,"durationSeconds":1}`)}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultFailed, Reason: "NoResult", DurationSeconds: 1}, "it reported DumpFailed: x"},
		{"success with an unknown outcome", done, []corev1.Pod{pod(done, 10, 0, "Completed", `{"result":"maybe","backupId":"x","bytes":1,"durationSeconds":1}`)}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultFailed, Reason: "NoResult"}, ""},
		{"warnings copied", done, []corev1.Pod{pod(done, 10, 0, "Completed",
			`{"result":"succeeded","backupId":"20260301T030000Z","bytes":1,"durationSeconds":1,"warnings":["retention failed: access denied"," ","globals skipped: not superuser"]}`)}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultSucceeded, ID: "20260301T030000Z", Bytes: 1, DurationSeconds: 1,
				Warnings: []string{"retention failed: access denied", "globals skipped: not superuser"}}, ""},
		{"unknown agent reason is Internal", failed, []corev1.Pod{pod(failed, 9, 1, "Error", `{"result":"failed","reason":"Cosmic Rays","message":"bit flip","bytes":0,"durationSeconds":1}`)}, true,
			v1alpha1.BackupRun{JobName: "b-2", Result: v1alpha1.ResultFailed, Reason: "Internal", DurationSeconds: 1}, "bit flip"},
		{"deadline wins over the agent's Interrupted", job("b-4", batchv1.JobFailed, 10, "DeadlineExceeded"), []corev1.Pod{
			pod(job("b-4", batchv1.JobFailed, 10, ""), 9, 130, "Error", `{"result":"failed","reason":"Interrupted","message":"terminated","bytes":0,"durationSeconds":21600}`),
		}, true, v1alpha1.BackupRun{JobName: "b-4", Result: v1alpha1.ResultFailed, Reason: "DeadlineExceeded", DurationSeconds: 21600}, "agent: Interrupted: terminated"},
		{"unknown Job reason", job("b-5", batchv1.JobFailed, 10, "Something New"), nil, true,
			v1alpha1.BackupRun{JobName: "b-5", Result: v1alpha1.ResultFailed, Reason: "JobFailed"}, "Something New: Job says"},
		{"agent failure", failed, []corev1.Pod{
			pod(failed, 8, 5, "Error", `{"result":"failed","reason":"StorageFailed","message":"first try","bytes":0,"durationSeconds":1}`),
			pod(failed, 9, 4, "Error", `{"result":"failed","reason":"DumpFailed","message":"pg_dump: lock timeout","bytes":0,"durationSeconds":1}`),
		}, true, v1alpha1.BackupRun{JobName: "b-2", Result: v1alpha1.ResultFailed, Reason: "DumpFailed", DurationSeconds: 1}, "pg_dump: lock timeout"},
		{"log tail instead of result", failed, []corev1.Pod{pod(failed, 9, 1, "Error", "panic: something\ngoroutine 1")}, true,
			v1alpha1.BackupRun{JobName: "b-2", Result: v1alpha1.ResultFailed, Reason: "BackoffLimitExceeded"}, "agent exit code 1"},
		{"oom", failed, []corev1.Pod{pod(failed, 9, 137, "OOMKilled", "")}, true,
			v1alpha1.BackupRun{JobName: "b-2", Result: v1alpha1.ResultFailed, Reason: "OOMKilled"}, "memory"},
		{"no pod", job("b-3", batchv1.JobFailed, 10, "DeadlineExceeded"), nil, true,
			v1alpha1.BackupRun{JobName: "b-3", Result: v1alpha1.ResultFailed, Reason: "DeadlineExceeded"}, "Job says DeadlineExceeded"},
		{"pod of another job ignored", done, []corev1.Pod{pod(failed, 10, 0, "Completed", okMsg)}, true,
			v1alpha1.BackupRun{JobName: "b-1", Result: v1alpha1.ResultFailed, Reason: "NoResult"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Run(&tt.job, tt.pods)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if got.JobName != tt.want.JobName || got.Result != tt.want.Result || got.ID != tt.want.ID || got.Reason != tt.want.Reason ||
				got.Bytes != tt.want.Bytes || got.DurationSeconds != tt.want.DurationSeconds || !slices.Equal(got.Warnings, tt.want.Warnings) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !got.FinishTime.Equal(ptr.To(at(10))) {
				t.Errorf("finish %v", got.FinishTime)
			}
			if !strings.Contains(got.Message, tt.msgPart) {
				t.Errorf("message %q, want it to contain %q", got.Message, tt.msgPart)
			}
		})
	}
}

func TestFold(t *testing.T) {
	sched, _ := cron.ParseStandard("0 3 * * *")
	base := func() *v1alpha1.PostgresBackup {
		return &v1alpha1.PostgresBackup{
			ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID, Generation: 4, CreationTimestamp: metav1.NewTime(t0.Add(-48 * time.Hour))},
			Spec: v1alpha1.PostgresBackupSpec{Schedule: "0 3 * * *", Destination: v1alpha1.DestinationSpec{
				S3: v1alpha1.S3Destination{Bucket: "bk", Prefix: "p"},
			}},
		}
	}
	ok1 := job("orders-1", batchv1.JobComplete, 10, "")
	bad2 := job("orders-2", batchv1.JobFailed, 20, "BackoffLimitExceeded")
	warned := job("orders-5", batchv1.JobComplete, 50, "")
	pods := []corev1.Pod{pod(ok1, 10, 0, "Completed", okMsg), pod(bad2, 20, 3, "Error", `{"result":"failed","reason":"AuthFailed","message":"password authentication failed","bytes":0,"durationSeconds":0}`),
		pod(warned, 50, 0, "Completed", `{"result":"succeeded","backupId":"20260301T035000Z","bytes":1,"durationSeconds":1,"warnings":["retention failed: AccessDenied","globals skipped: not superuser"]}`)}
	for _, j := range foreignJobs() {
		pods = append(pods, pod(j, 10, 0, "Completed", okMsg))
	}

	tests := []struct {
		name  string
		edit  func(*v1alpha1.PostgresBackup)
		jobs  []batchv1.Job
		now   time.Time
		check func(t *testing.T, out Output)
	}{
		{"nothing yet", nil, nil, t0, func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionLastBackupSucceeded)
			if c.Status != metav1.ConditionUnknown || c.Reason != v1alpha1.ReasonNoBackupYet || c.ObservedGeneration != 4 {
				t.Errorf("condition %+v", c)
			}
			if s := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupStale); s.Reason != v1alpha1.ReasonMaxAgeUnset || out.RequeueAfter != 0 {
				t.Errorf("stale %+v requeue %v", s, out.RequeueAfter)
			}
			if out.Status.CronJobName != "orders" || !out.Status.NextScheduleTime.Equal(ptr.To(metav1.NewTime(t0.Add(24*time.Hour)))) {
				t.Errorf("cronjob %q next %v", out.Status.CronJobName, out.Status.NextScheduleTime)
			}
		}},
		{"success then failure", nil, []batchv1.Job{ok1, bad2, job("orders-3", "", 30, "")}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			st := out.Status
			if len(out.NewRuns) != 2 || out.NewRuns[0].JobName != "orders-1" || len(st.RecentBackups) != 2 || st.RecentBackups[0].JobName != "orders-2" {
				t.Fatalf("new %+v recent %+v", out.NewRuns, st.RecentBackups)
			}
			if s := st.LastSuccessfulBackup; s == nil || s.ID != "20260301T030000Z" || s.Bytes != 1234 || s.ObjectPrefix != "s3://bk/p/20260301T030000Z/" || !s.Time.Equal(ptr.To(at(10))) {
				t.Errorf("last success %+v", s)
			}
			if f := st.LastFailure; f == nil || f.Reason != "AuthFailed" || !f.Time.Equal(ptr.To(at(20))) {
				t.Errorf("last failure %+v", f)
			}
			c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionLastBackupSucceeded)
			if c.Status != metav1.ConditionFalse || c.Reason != "AuthFailed" || !strings.Contains(c.Message, "password authentication failed") {
				t.Errorf("condition %+v", c)
			}
		}},
		{"jobs already recorded are not new", func(pb *v1alpha1.PostgresBackup) {
			pb.Status.RecentBackups = []v1alpha1.BackupRun{{JobName: "orders-1", Result: v1alpha1.ResultSucceeded, FinishTime: at(10)}}
		}, []batchv1.Job{ok1}, t0, func(t *testing.T, out Output) {
			if len(out.NewRuns) != 0 || len(out.Status.RecentBackups) != 1 {
				t.Errorf("new %+v recent %+v", out.NewRuns, out.Status.RecentBackups)
			}
		}},
		{"bounded, newest first, deleted jobs kept", func(pb *v1alpha1.PostgresBackup) {
			for i := range MaxRecentBackups {
				pb.Status.RecentBackups = append(pb.Status.RecentBackups, v1alpha1.BackupRun{
					JobName: fmt.Sprintf("old-%d", i), Result: v1alpha1.ResultSucceeded, FinishTime: at(-i - 1)})
			}
		}, []batchv1.Job{ok1, job("ancient", batchv1.JobComplete, -100, "")}, t0, func(t *testing.T, out Output) {
			r := out.Status.RecentBackups
			if len(r) != MaxRecentBackups || r[0].JobName != "orders-1" || r[1].JobName != "old-0" || r[9].JobName != "old-8" {
				t.Errorf("recent %+v", r)
			}
			if len(out.NewRuns) != 1 {
				t.Errorf("a Job older than the whole list is not new: %+v", out.NewRuns)
			}
		}},
		{"older success does not replace newer", func(pb *v1alpha1.PostgresBackup) {
			pb.Status.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{ID: "newer", Time: at(500)}
		}, []batchv1.Job{ok1}, t0, func(t *testing.T, out Output) {
			if out.Status.LastSuccessfulBackup.ID != "newer" {
				t.Errorf("last success %+v", out.Status.LastSuccessfulBackup)
			}
		}},
		{"fresh within maxAge", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.MaxAge = &metav1.Duration{Duration: 26 * time.Hour}
		}, []batchv1.Job{ok1}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupStale)
			if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonWithinMaxAge {
				t.Errorf("stale %+v", c)
			}
			if want := 26*time.Hour - 50*time.Minute; out.RequeueAfter != want {
				t.Errorf("requeue after %v, want %v", out.RequeueAfter, want)
			}
		}},
		{"stale since the last success", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.MaxAge = &metav1.Duration{Duration: time.Hour}
		}, []batchv1.Job{ok1}, t0.Add(2 * time.Hour), func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupStale)
			if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonMaxAgeExceeded || out.RequeueAfter != 0 {
				t.Errorf("stale %+v requeue %v", c, out.RequeueAfter)
			}
		}},
		{"stale without any success", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.MaxAge = &metav1.Duration{Duration: 24 * time.Hour}
		}, []batchv1.Job{bad2}, t0, func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupStale)
			if c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "created") {
				t.Errorf("stale %+v", c)
			}
		}},
		{"foreign Jobs are not folded", nil, foreignJobs(), t0.Add(time.Hour), func(t *testing.T, out Output) {
			if len(out.NewRuns) != 1 || out.NewRuns[0].JobName != "triggered" {
				t.Errorf("new runs %+v, want only the Job triggered for this resource", out.NewRuns)
			}
			if out.Active != nil {
				t.Errorf("a foreign running Job counts as active: %+v", out.Active)
			}
		}},
		{"running", nil, []batchv1.Job{ok1, running("orders-3", 30)}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupRunning)
			if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonRunning || !strings.Contains(c.Message, "orders-3") {
				t.Errorf("running %+v", c)
			}
			if out.Active == nil || out.Active.JobName != "orders-3" || !out.Active.Start.Equal(at(30).Time) {
				t.Errorf("active %+v", out.Active)
			}
			// Default deadline 6h: too long 4h48m after the start (minute 30).
			if want := 288*time.Minute - 30*time.Minute; out.RequeueAfter != want {
				t.Errorf("requeue after %v, want %v", out.RequeueAfter, want)
			}
		}},
		{"running, stale first", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.MaxAge = &metav1.Duration{Duration: 2 * time.Hour}
		}, []batchv1.Job{ok1, running("orders-3", 30)}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			if want := 70 * time.Minute; out.RequeueAfter != want {
				t.Errorf("requeue after %v, want %v (the earlier of stale and too long)", out.RequeueAfter, want)
			}
		}},
		{"running too long", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600)
			pb.Spec.RunningTooLongSeconds = ptr.To[int64](600)
		}, []batchv1.Job{running("orders-3", 30), running("orders-4", 35)}, t0.Add(41 * time.Minute), func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupRunning)
			if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonRunningTooLong || !strings.Contains(c.Message, "orders-3") {
				t.Errorf("running %+v (the oldest run counts)", c)
			}
			if out.RequeueAfter != 0 {
				t.Errorf("requeue after %v: the Job finishing is an event", out.RequeueAfter)
			}
		}},
		{"idle", nil, []batchv1.Job{ok1}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupRunning)
			if c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonIdle || out.Active != nil {
				t.Errorf("running %+v active %+v", c, out.Active)
			}
			w := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupWarnings)
			if w.Status != metav1.ConditionFalse || w.Reason != v1alpha1.ReasonNoWarnings {
				t.Errorf("warnings %+v", w)
			}
		}},
		{"warnings of the newest run", nil, []batchv1.Job{ok1, warned}, t0.Add(time.Hour), func(t *testing.T, out Output) {
			w := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupWarnings)
			if w.Status != metav1.ConditionTrue || w.Reason != v1alpha1.ReasonWarningsReported || !strings.Contains(w.Message, "retention failed: AccessDenied") {
				t.Errorf("warnings %+v", w)
			}
			if r := out.Status.RecentBackups[0]; r.JobName != "orders-5" || len(r.Warnings) != 2 {
				t.Errorf("recent %+v", r)
			}
			if c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionLastBackupSucceeded); c.Status != metav1.ConditionTrue {
				t.Errorf("a run with warnings still succeeded: %+v", c)
			}
		}},
		{"suspended has no next run", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Suspend = ptr.To(true)
		}, nil, t0, func(t *testing.T, out Output) {
			if out.Status.NextScheduleTime != nil {
				t.Errorf("next %v", out.Status.NextScheduleTime)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := base()
			if tt.edit != nil {
				tt.edit(pb)
			}
			before := pb.DeepCopy()
			out := Fold(Input{Backup: pb, Jobs: tt.jobs, Pods: pods, CronJob: cronJob(), Schedule: sched, Location: time.UTC, Now: tt.now})
			tt.check(t, out)
			if len(pb.Status.RecentBackups) != len(before.Status.RecentBackups) {
				t.Error("Fold changed its input")
			}
			again := Fold(Input{Backup: &v1alpha1.PostgresBackup{ObjectMeta: pb.ObjectMeta, Spec: pb.Spec, Status: out.Status},
				Jobs: tt.jobs, Pods: pods, CronJob: cronJob(), Schedule: sched, Location: time.UTC, Now: tt.now})
			if len(again.NewRuns) != 0 {
				t.Errorf("folding twice reports runs again: %+v", again.NewRuns)
			}
		})
	}
}

// running is a Job of the backup's CronJob that started at minute start.
func running(name string, start int) batchv1.Job {
	return job(name, "", start+1, "")
}

// foreignJobs finished successfully, carry the backup's labels and name,
// but only "triggered" is the backup's own run.
func foreignJobs() []batchv1.Job {
	noOwner := job("no-owner", batchv1.JobComplete, 10, "")
	noOwner.OwnerReferences = nil
	otherCronJob := job("other-cronjob", batchv1.JobComplete, 10, "")
	otherCronJob.OwnerReferences[0].UID = "old-cj-uid" // a deleted resource's CronJob of the same name
	notController := job("not-controller", batchv1.JobComplete, 10, "")
	notController.OwnerReferences[0].Controller = nil
	otherUID := job("other-uid", batchv1.JobComplete, 10, "")
	otherUID.OwnerReferences = nil
	otherUID.Annotations = map[string]string{builder.AnnotationBackupUID: "old-pb-uid"}
	triggered := job("triggered", batchv1.JobComplete, 10, "")
	triggered.OwnerReferences = nil
	triggered.Annotations = map[string]string{builder.AnnotationBackupUID: string(backupUID)}
	stillRunning := running("foreign-running", 5)
	stillRunning.OwnerReferences = nil
	return []batchv1.Job{noOwner, otherCronJob, notController, otherUID, triggered, stillRunning}
}

func TestOwned(t *testing.T) {
	pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID}}
	foreignCronJob := cronJob()
	foreignCronJob.OwnerReferences[0].UID = "someone-else"
	ours := job("ours", batchv1.JobComplete, 10, "")
	tests := []struct {
		name string
		cj   *batchv1.CronJob
		job  batchv1.Job
		want bool
	}{
		{"controlled by our CronJob", cronJob(), ours, true},
		{"no CronJob seen yet", nil, ours, false},
		{"the CronJob is not ours", foreignCronJob, ours, false},
	}
	for _, j := range foreignJobs() {
		tests = append(tests, struct {
			name string
			cj   *batchv1.CronJob
			job  batchv1.Job
			want bool
		}{j.Name, cronJob(), j, j.Name == "triggered"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Owned(pb, tt.cj, &tt.job); got != tt.want {
				t.Errorf("Owned = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBoundWarnings(t *testing.T) {
	var many []string
	for i := range 12 {
		many = append(many, fmt.Sprintf("warning %d", i))
	}
	got := boundWarnings(append(many, strings.Repeat("é", 300)))
	if len(got) != maxWarnings || got[maxWarnings-1] != "6 more warnings" || got[0] != "warning 0" {
		t.Errorf("boundWarnings = %q", got)
	}
	if long := boundWarnings([]string{strings.Repeat("é", 300)})[0]; len(long) > maxWarningSize+len("…") || !strings.HasSuffix(long, "…") {
		t.Errorf("a long warning is %d bytes: %q", len(long), long)
	}
}

func TestConditionReason(t *testing.T) {
	for in, want := range map[string]string{"DumpFailed": "DumpFailed", "": "JobFailed", "bad reason": "JobFailed", "lower": "JobFailed"} {
		if got := conditionReason(in); got != want {
			t.Errorf("conditionReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitingPod is a pod of job whose agent waits to start, for reason.
func waitingPod(job string, created int, reason, message string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", job, created), CreationTimestamp: at(created),
		Labels: map[string]string{batchv1.JobNameLabel: job}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}}
	return p
}

// A run whose agent cannot start (a Secret it references is missing, its
// image cannot be pulled) says so at once in BackupRunning, with the
// kubelet's reason, instead of Running until the deadline.
func TestFoldCannotStart(t *testing.T) {
	pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Name: "orders", UID: backupUID, Generation: 2, CreationTimestamp: at(-60)},
		Spec: v1alpha1.PostgresBackupSpec{Schedule: "0 3 * * *"}}
	active := running("orders-3", 30)
	for _, tc := range []struct {
		name       string
		pods       []corev1.Pod
		wantReason string
		want       string
	}{
		{"missing Secret", []corev1.Pod{
			waitingPod("orders-3", 31, "CreateContainerConfigError", `secret "orders-db-superuser" not found`),
			waitingPod("other-job", 32, "ImagePullBackOff", "not ours"),
		}, v1alpha1.ReasonCannotStart, `cannot start its agent: CreateContainerConfigError: secret "orders-db-superuser" not found`},
		{"the newest pod counts", []corev1.Pod{
			waitingPod("orders-3", 31, "ErrImagePull", "old pod"),
			waitingPod("orders-3", 33, "ContainerCreating", ""),
		}, v1alpha1.ReasonRunning, "is running since"},
		{"image", []corev1.Pod{waitingPod("orders-3", 31, "ImagePullBackOff", `Back-off pulling image "registry.example/pgbackup-agent:v9"`)},
			v1alpha1.ReasonCannotStart, "ImagePullBackOff: Back-off pulling image"},
		{"starting normally", []corev1.Pod{waitingPod("orders-3", 31, "ContainerCreating", "")}, v1alpha1.ReasonRunning, "is running since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Fold(Input{Backup: pb, Jobs: []batchv1.Job{active}, Pods: tc.pods, CronJob: cronJob(), Now: at(40).Time, Location: time.UTC})
			c := meta.FindStatusCondition(out.Status.Conditions, v1alpha1.ConditionBackupRunning)
			if c.Status != metav1.ConditionTrue || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.want) {
				t.Errorf("BackupRunning %+v, want %s with %q", c, tc.wantReason, tc.want)
			}
		})
	}
}
