package status

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// MaxRecentBackups bounds status.recentBackups.
const MaxRecentBackups = 10

// maxMessage bounds a message copied into the status.
const maxMessage = 1024

// Run reads the outcome of a finished Job: the agent's result from the
// termination message of the Job's newest terminated agent container, or,
// when there is none, the Job's own conditions. ok is false while the Job
// runs.
func Run(job *batchv1.Job, pods []corev1.Pod) (run v1alpha1.BackupRun, ok bool) {
	var finished *batchv1.JobCondition
	outcome := v1alpha1.ResultSucceeded
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			finished = c
		case batchv1.JobFailed:
			finished, outcome = c, v1alpha1.ResultFailed
		}
	}
	if finished == nil {
		return run, false
	}
	run = v1alpha1.BackupRun{
		JobName:    job.Name,
		Result:     outcome,
		StartTime:  job.Status.StartTime,
		FinishTime: finished.LastTransitionTime,
	}
	if job.Status.CompletionTime != nil {
		run.FinishTime = *job.Status.CompletionTime
	}
	term := lastTerminated(job, pods)
	res, parsed := agentResult(term)
	if parsed {
		run.ID = res.BackupID
		run.Bytes = res.Bytes
		run.DurationSeconds = int64(math.Round(res.DurationSeconds))
	}
	if outcome == v1alpha1.ResultSucceeded {
		return run, true
	}
	switch {
	case parsed && res.Result == result.Failed && res.Reason != "":
		run.Reason, run.Message = string(res.Reason), res.Message
	case term != nil && term.Reason == "OOMKilled":
		run.Reason = "OOMKilled"
		run.Message = fmt.Sprintf("the agent ran out of memory (exit code %d): raise resources.limits.memory", term.ExitCode)
	default:
		// No result from the agent: it never started (image, volume,
		// secret missing) or was killed. The Job says why it gave up.
		run.Reason, run.Message = finished.Reason, finished.Message
		if run.Reason == "" {
			run.Reason = "JobFailed"
		}
		if term != nil {
			run.Message = strings.TrimSpace(fmt.Sprintf("%s (agent exit code %d)", run.Message, term.ExitCode))
		}
	}
	run.Message = truncate(run.Message, maxMessage)
	return run, true
}

// lastTerminated returns the agent container's state in the Job's pod that
// terminated last: with retries, the last attempt decides.
func lastTerminated(job *batchv1.Job, pods []corev1.Pod) *corev1.ContainerStateTerminated {
	var last *corev1.ContainerStateTerminated
	for i := range pods {
		if !metav1.IsControlledBy(&pods[i], job) {
			continue
		}
		for j := range pods[i].Status.ContainerStatuses {
			cs := &pods[i].Status.ContainerStatuses[j]
			t := cs.State.Terminated
			if cs.Name != builder.ContainerName || t == nil {
				continue
			}
			if last == nil || last.FinishedAt.Before(&t.FinishedAt) {
				last = t
			}
		}
	}
	return last
}

// agentResult parses the agent's result line. With FallbackToLogsOnError
// the message may be the end of the log instead: that is not copied
// anywhere, it is only recognised as "no result".
func agentResult(t *corev1.ContainerStateTerminated) (result.Result, bool) {
	var r result.Result
	if t == nil || t.Message == "" {
		return r, false
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(t.Message)), &r); err != nil {
		return r, false
	}
	return r, r.Result == result.Succeeded || r.Result == result.Failed
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Input is what Fold reads.
type Input struct {
	Backup *v1alpha1.PostgresBackup
	Jobs   []batchv1.Job
	Pods   []corev1.Pod
	// CronJob is the live CronJob, nil when there is none yet.
	CronJob *batchv1.CronJob
	// Schedule and Location are the parsed spec.schedule and timeZone.
	Schedule cron.Schedule
	Location *time.Location
	Now      time.Time
}

// Output is the folded status and what changed.
type Output struct {
	Status v1alpha1.PostgresBackupStatus
	// NewRuns are the runs seen for the first time, oldest first: each
	// gets an event and is counted in the metrics once.
	NewRuns []v1alpha1.BackupRun
	// RequeueAfter is when BackupStale must be looked at again (0: never).
	RequeueAfter time.Duration
}

// Fold folds the finished Jobs into a copy of the backup's status: the
// recent runs (each Job once, newest first, bounded), the last success and
// failure, the schedule times and the LastBackupSucceeded and BackupStale
// conditions. Runs already recorded are kept after the CronJob deleted
// their Jobs.
func Fold(in Input) Output {
	pb := in.Backup
	st := *pb.Status.DeepCopy()
	var out Output

	known := make(map[string]bool, len(st.RecentBackups))
	for _, r := range st.RecentBackups {
		known[r.JobName] = true
	}
	var oldest *metav1.Time
	if n := len(st.RecentBackups); n >= MaxRecentBackups {
		oldest = &st.RecentBackups[n-1].FinishTime
	}
	for i := range in.Jobs {
		run, ok := Run(&in.Jobs[i], in.Pods)
		if !ok || known[run.JobName] {
			continue
		}
		if oldest != nil && !oldest.Before(&run.FinishTime) {
			continue // trimmed from the list long ago: not new
		}
		known[run.JobName] = true
		out.NewRuns = append(out.NewRuns, run)
	}
	slices.SortStableFunc(out.NewRuns, func(a, b v1alpha1.BackupRun) int {
		return a.FinishTime.Compare(b.FinishTime.Time)
	})
	all := append(slices.Clone(out.NewRuns), st.RecentBackups...)
	slices.SortStableFunc(all, func(a, b v1alpha1.BackupRun) int {
		return b.FinishTime.Compare(a.FinishTime.Time) // newest first
	})
	if len(all) > MaxRecentBackups {
		all = all[:MaxRecentBackups]
	}
	st.RecentBackups = all

	for _, r := range out.NewRuns {
		if r.Result == v1alpha1.ResultSucceeded {
			if st.LastSuccessfulBackup == nil || st.LastSuccessfulBackup.Time.Before(&r.FinishTime) {
				st.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{
					ID: r.ID, Time: r.FinishTime, Bytes: r.Bytes, DurationSeconds: r.DurationSeconds,
					ObjectPrefix: objectPrefix(pb, r.ID),
				}
			}
		} else if st.LastFailure == nil || st.LastFailure.Time.Before(&r.FinishTime) {
			st.LastFailure = &v1alpha1.BackupFailure{Time: r.FinishTime, Reason: r.Reason, Message: r.Message}
		}
	}

	st.CronJobName = builder.CronJobName(pb)
	st.LastScheduleTime, st.NextScheduleTime = nil, nil
	if in.CronJob != nil {
		st.LastScheduleTime = in.CronJob.Status.LastScheduleTime
	}
	if in.Schedule != nil && (pb.Spec.Suspend == nil || !*pb.Spec.Suspend) {
		next := in.Schedule.Next(in.Now.In(in.Location))
		if !next.IsZero() {
			st.NextScheduleTime = &metav1.Time{Time: next.UTC().Truncate(time.Second)}
		}
	}

	meta.SetStatusCondition(&st.Conditions, lastBackupCondition(st.RecentBackups, pb.Generation))
	var stale metav1.Condition
	stale, out.RequeueAfter = staleCondition(pb, st.LastSuccessfulBackup, in.Now)
	meta.SetStatusCondition(&st.Conditions, stale)
	out.Status = st
	return out
}

func lastBackupCondition(runs []v1alpha1.BackupRun, gen int64) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionLastBackupSucceeded, ObservedGeneration: gen}
	switch {
	case len(runs) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonNoBackupYet, "No backup has finished yet"
	case runs[0].Result == v1alpha1.ResultSucceeded:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonSucceeded
		c.Message = fmt.Sprintf("Backup %s of Job %s succeeded", runs[0].ID, runs[0].JobName)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, conditionReason(runs[0].Reason)
		c.Message = truncate(fmt.Sprintf("Job %s failed: %s", runs[0].JobName, runs[0].Message), maxMessage)
	}
	return c
}

// conditionReason makes sure a reason fits a condition's reason format
// (a CamelCase identifier), whatever the agent or the Job said.
func conditionReason(r string) string {
	ok := r != "" && len(r) <= 64 && r[0] >= 'A' && r[0] <= 'Z'
	for _, c := range r {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !alnum {
			ok = false
		}
	}
	if !ok {
		return "JobFailed"
	}
	return r
}

// staleCondition compares the last success (or, before the first one, the
// creation of the resource) with maxAge, and says when that changes.
func staleCondition(pb *v1alpha1.PostgresBackup, last *v1alpha1.SuccessfulBackup, now time.Time) (metav1.Condition, time.Duration) {
	c := metav1.Condition{Type: v1alpha1.ConditionBackupStale, ObservedGeneration: pb.Generation}
	if pb.Spec.MaxAge == nil || pb.Spec.MaxAge.Duration <= 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonMaxAgeUnset, "spec.maxAge is not set"
		return c, 0
	}
	maxAge := pb.Spec.MaxAge.Duration
	since, what := pb.CreationTimestamp.Time, "the resource was created"
	if last != nil {
		since, what = last.Time.Time, "the last successful backup"
	}
	deadline := since.Add(maxAge)
	if now.Before(deadline) {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonWithinMaxAge
		// No relative times here: the message must not change between
		// reconciles, or every status write would cause another.
		c.Message = fmt.Sprintf("%s was at %s; stale after %s (maxAge %s)", capitalise(what),
			since.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339), maxAge)
		return c, deadline.Sub(now)
	}
	c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonMaxAgeExceeded
	c.Message = fmt.Sprintf("No successful backup within maxAge %s: %s was at %s", maxAge, what, since.UTC().Format(time.RFC3339))
	return c, 0
}

func capitalise(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// objectPrefix is where a backup's objects are: s3://BUCKET/PREFIX/<id>/.
func objectPrefix(pb *v1alpha1.PostgresBackup, id string) string {
	if id == "" {
		return ""
	}
	return builder.Destination(pb) + "/" + id + "/"
}
