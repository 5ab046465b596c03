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
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// MaxRecentBackups bounds status.recentBackups.
const MaxRecentBackups = 10

// maxMessage bounds a message copied into the status.
const maxMessage = 1024

// Run reads the outcome of a finished backup Job: the agent's result from
// the termination message of the Job's newest terminated agent container,
// or, when there is none, the Job's own conditions. ok is false while the
// Job runs.
//
// A run succeeded only when the Job completed and the agent's result says
// succeeded: a Job that completed without one failed with NoResult. A Job
// failed by activeDeadlineSeconds failed with DeadlineExceeded, whatever
// the agent (then SIGTERMed: Interrupted) wrote. Reasons are bounded: an
// agent reason outside the documented set becomes Internal, a Job reason
// the controller does not know becomes JobFailed.
func Run(job *batchv1.Job, pods []corev1.Pod) (run v1alpha1.BackupRun, ok bool) {
	o, ok := readOutcome(job, pods, builder.ContainerName)
	return o.run, ok
}

// VerifyRun reads the outcome of a finished verification Job the way Run
// reads a backup's, from the verify container, with the agent's
// verification summary.
func VerifyRun(job *batchv1.Job, pods []corev1.Pod) (v1alpha1.VerificationRun, bool) {
	o, ok := readOutcome(job, pods, builder.VerifyContainerName)
	if !ok {
		return v1alpha1.VerificationRun{}, false
	}
	r := o.run
	run := v1alpha1.VerificationRun{
		JobName: r.JobName, Result: r.Result, ID: r.ID, Reason: r.Reason, Message: r.Message,
		Warnings: r.Warnings, StartTime: r.StartTime, FinishTime: r.FinishTime,
		DurationSeconds: r.DurationSeconds, ServerVersionNum: r.ServerVersionNum,
	}
	if v := o.res.Verification; o.parsed && v != nil {
		run.RestoreSeconds = int64(math.Ceil(max(v.RestoreSeconds, 0)))
		run.TablesChecked = clampInt32(v.TablesChecked)
		run.TablesMismatched = clampInt32(v.TablesMismatched)
		run.ChecksFailed = clampInt32(v.ChecksFailed)
	}
	return run, true
}

func clampInt32(n int) int32 {
	return int32(min(max(n, 0), math.MaxInt32))
}

// outcome is a finished Job's run and the agent's result it came from.
type outcome struct {
	run    v1alpha1.BackupRun
	res    result.Result
	parsed bool
}

// readOutcome is Run for the Job's agent container named container.
func readOutcome(job *batchv1.Job, pods []corev1.Pod, container string) (o outcome, ok bool) {
	finished, complete := finishedCondition(job)
	if finished == nil {
		return o, false
	}
	run := v1alpha1.BackupRun{
		JobName:    job.Name,
		Result:     v1alpha1.ResultFailed,
		StartTime:  job.Status.StartTime,
		FinishTime: finished.LastTransitionTime,
	}
	if job.Status.CompletionTime != nil {
		run.FinishTime = *job.Status.CompletionTime
	}
	term := lastTerminated(job, pods, container)
	res, parsed := agentResult(term)
	o.res, o.parsed = res, parsed
	if parsed {
		run.ID = res.BackupID
		run.Bytes = res.Bytes
		run.DurationSeconds = int64(math.Round(res.DurationSeconds))
		run.Warnings = boundWarnings(res.Warnings)
		run.ServerVersionNum = clampInt32(res.ServerVersionNum)
	}
	switch {
	case complete && parsed && res.Result == result.Succeeded:
		run.Result = v1alpha1.ResultSucceeded
		o.run = run
		return o, true
	case complete:
		run.Reason = v1alpha1.ReasonNoResult
		run.Message = "the Job completed, but the agent reported no successful result"
		if parsed {
			run.Message += fmt.Sprintf(" (it reported %s: %s)", res.Reason, res.Message)
		} else if term == nil {
			run.Message += " (no terminated agent container found)"
		}
	case finished.Reason == v1alpha1.ReasonDeadlineExceeded:
		run.Reason = v1alpha1.ReasonDeadlineExceeded
		run.Message = strings.TrimSpace(fmt.Sprintf("the run took longer than activeDeadlineSeconds (%ds): %s",
			ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0), finished.Message))
		if parsed && res.Result == result.Failed {
			run.Message += fmt.Sprintf(" (agent: %s: %s)", agentReason(res.Reason), res.Message)
		}
	case parsed && res.Result == result.Failed && res.Reason != "":
		run.Reason, run.Message = agentReason(res.Reason), res.Message
		if run.Reason != string(res.Reason) {
			run.Message = fmt.Sprintf("(agent reason %.64q) %s", res.Reason, run.Message)
		}
	case term != nil && term.Reason == v1alpha1.ReasonOOMKilled:
		run.Reason = v1alpha1.ReasonOOMKilled
		run.Message = fmt.Sprintf("the agent ran out of memory (exit code %d): raise resources.limits.memory", term.ExitCode)
	default:
		// No result from the agent: it never started (image, volume,
		// secret missing) or was killed. The Job says why it gave up.
		run.Reason, run.Message = jobReason(finished.Reason), finished.Message
		if run.Reason != finished.Reason && finished.Reason != "" {
			run.Message = strings.TrimSpace(finished.Reason + ": " + run.Message)
		}
		if term != nil {
			run.Message = strings.TrimSpace(fmt.Sprintf("%s (agent exit code %d)", run.Message, term.ExitCode))
		}
	}
	run.Message = truncate(run.Message, maxMessage)
	o.run = run
	return o, true
}

// finishedCondition returns the Job's Complete or Failed condition, and
// whether it completed; nil while the Job runs.
func finishedCondition(job *batchv1.Job) (c *batchv1.JobCondition, complete bool) {
	for i := range job.Status.Conditions {
		jc := &job.Status.Conditions[i]
		if jc.Status != corev1.ConditionTrue {
			continue
		}
		switch jc.Type {
		case batchv1.JobComplete:
			c, complete = jc, true
		case batchv1.JobFailed:
			return jc, false // a Job is never both; Failed wins if it were
		}
	}
	return c, complete
}

// agentReasons are the reasons of DESIGN section 2: the only ones copied
// from a termination message, so status and metric labels stay bounded.
var agentReasons = map[result.Reason]bool{
	result.ReasonInternal: true, result.ReasonConfigInvalid: true, result.ReasonConnectionFailed: true,
	result.ReasonAuthFailed: true, result.ReasonDumpFailed: true, result.ReasonRestoreFailed: true,
	result.ReasonStorageFailed: true, result.ReasonIntegrityFailed: true, result.ReasonRefused: true,
	result.ReasonInterrupted: true, result.ReasonVerificationFailed: true,
}

func agentReason(r result.Reason) string {
	if agentReasons[r] {
		return string(r)
	}
	return string(result.ReasonInternal)
}

// jobReason keeps the Job controller's reasons the controller documents.
func jobReason(r string) string {
	switch r {
	case v1alpha1.ReasonBackoffLimitExceeded, v1alpha1.ReasonDeadlineExceeded, v1alpha1.ReasonPodFailurePolicy:
		return r
	default:
		return v1alpha1.ReasonJobFailed
	}
}

// Bounds of the warnings copied into a run.
const (
	maxWarnings    = 8
	maxWarningSize = 256
)

func boundWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if len(out) == maxWarnings {
			out[maxWarnings-1] = truncate(fmt.Sprintf("%d more warnings", len(ws)-maxWarnings+1), maxWarningSize)
			break
		}
		out = append(out, truncate(w, maxWarningSize))
	}
	return out
}

// lastTerminated returns the state of the agent container (named
// container) in the Job's pod that terminated last: with retries, the last
// attempt decides.
func lastTerminated(job *batchv1.Job, pods []corev1.Pod, container string) *corev1.ContainerStateTerminated {
	var last *corev1.ContainerStateTerminated
	for i := range pods {
		if !metav1.IsControlledBy(&pods[i], job) {
			continue
		}
		for j := range pods[i].Status.ContainerStatuses {
			cs := &pods[i].Status.ContainerStatuses[j]
			t := cs.State.Terminated
			if cs.Name != container || t == nil {
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
	// Jobs are the candidate Jobs (labelled for the backup); Fold keeps
	// only those Owned says are the backup's.
	Jobs []batchv1.Job
	Pods []corev1.Pod
	// CronJob is the live CronJob, nil when there is none yet.
	CronJob *batchv1.CronJob
	// VerifyCronJob is the live verification CronJob, nil when there is
	// none.
	VerifyCronJob *batchv1.CronJob
	// Schedule and Location are the parsed spec.schedule and timeZone; a
	// nil Schedule (an invalid spec) leaves nextScheduleTime unset.
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
	// Active is the oldest running Job of the backup, nil when none runs.
	Active *ActiveRun
	// NewVerifications are the verification runs seen for the first time,
	// oldest first: each gets an event.
	NewVerifications []v1alpha1.VerificationRun
	// VerifyEnabled is when verification was enabled (the verification
	// CronJob was created); zero while spec.verify is unset or the CronJob
	// is not seen yet.
	VerifyEnabled time.Time
	// VerifyDue is the backup id verify.everyNth asks to verify now; empty
	// when none.
	VerifyDue string
	// RequeueAfter is the next moment a condition changes without any
	// object changing (BackupStale or BackupRunning turning True, Verified
	// turning stale); 0: none.
	RequeueAfter time.Duration
}

// ActiveRun is a Job of the backup that has not finished.
type ActiveRun struct {
	JobName string
	// Start is the Job's startTime (its creation before the Job
	// controller set one).
	Start time.Time
	// Stuck says why the agent container of the Job's pod cannot start
	// ("" when it can, or is not known not to).
	Stuck string
}

// cannotStart are the waiting reasons of a container that will not start
// without a change: a missing Secret or key (CreateContainerConfigError),
// an image that cannot be pulled.
var cannotStart = map[string]bool{
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
}

// CannotStart says whether a container waiting for reason will not start
// without a change.
func CannotStart(reason string) bool { return cannotStart[reason] }

// stuckAgent returns why the agent container of job's newest pod cannot
// start, as "<reason>: <kubelet's message>", or "". The message names the
// missing Secret or key, never a value.
func stuckAgent(job string, pods []corev1.Pod) string {
	var newest *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Labels[batchv1.JobNameLabel] != job && p.Labels["job-name"] != job {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	if newest == nil {
		return ""
	}
	for _, cs := range newest.Status.ContainerStatuses {
		if cs.Name != builder.ContainerName || cs.State.Waiting == nil || !cannotStart[cs.State.Waiting.Reason] {
			continue
		}
		return truncate(cs.State.Waiting.Reason+": "+cs.State.Waiting.Message, 512)
	}
	return ""
}

// Owned says whether job is one of pb's runs: controlled by the CronJob pb
// controls (the owner UID chain), or started by hand for pb (annotated
// with pb's UID). Labels and the name annotation are not enough: a
// resource deleted and created again under the same name, or anyone
// copying the labels, would leave Jobs that are not this resource's runs.
//
// cj is the backup CronJob; a Job of the verification CronJob is never a
// backup run, nor is one started by hand from it (role label verify).
func Owned(pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob, job *batchv1.Job) bool {
	return owned(pb, cj, job, false)
}

// OwnedVerify says whether job is one of pb's verification runs, by the
// same rules as Owned with the verification CronJob vcj: controlled by
// vcj (which pb controls), or started by hand from it (annotated with
// pb's UID and labelled with the verify role).
func OwnedVerify(pb *v1alpha1.PostgresBackup, vcj *batchv1.CronJob, job *batchv1.Job) bool {
	return owned(pb, vcj, job, true)
}

func owned(pb *v1alpha1.PostgresBackup, cj *batchv1.CronJob, job *batchv1.Job, verify bool) bool {
	if pb.UID == "" {
		return false
	}
	// The label only sorts the trusted Jobs into backups and verifications:
	// trust comes from the UID below.
	if isVerify := job.Labels[builder.LabelRole] == builder.RoleVerify; isVerify != verify {
		return false
	}
	if job.Annotations[builder.AnnotationBackupUID] == string(pb.UID) {
		return true
	}
	if cj == nil || cj.UID == "" {
		return false
	}
	cjOwner := metav1.GetControllerOf(cj)
	jobOwner := metav1.GetControllerOf(job)
	return cjOwner != nil && cjOwner.UID == pb.UID &&
		jobOwner != nil && jobOwner.Kind == "CronJob" && jobOwner.UID == cj.UID
}

// Fold folds the backup's Jobs into a copy of its status: the recent runs
// (each Job once, newest first, bounded), the last success and failure,
// the schedule times and the LastBackupSucceeded, BackupStale,
// BackupRunning and BackupWarnings conditions. Runs already recorded are
// kept after the CronJob deleted their Jobs. Fold leaves Ready alone.
func Fold(in Input) Output {
	pb := in.Backup
	st := *pb.Status.DeepCopy()
	var out Output
	var jobs []*batchv1.Job
	for i := range in.Jobs {
		if Owned(pb, in.CronJob, &in.Jobs[i]) {
			jobs = append(jobs, &in.Jobs[i])
		}
	}
	out.NewRuns = foldRuns(&st, jobs, in.Pods)
	for _, r := range out.NewRuns {
		if r.Result == v1alpha1.ResultSucceeded {
			if st.LastSuccessfulBackup == nil || st.LastSuccessfulBackup.Time.Before(&r.FinishTime) {
				st.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{
					ID: r.ID, Time: r.FinishTime, Bytes: r.Bytes, DurationSeconds: r.DurationSeconds,
					ObjectPrefix: objectPrefix(pb, r.ID), ServerVersionNum: r.ServerVersionNum,
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
	meta.SetStatusCondition(&st.Conditions, warningsCondition(st.RecentBackups, pb.Generation))
	stale, staleAfter := staleCondition(pb, st.LastSuccessfulBackup, in.Now)
	meta.SetStatusCondition(&st.Conditions, stale)
	out.Active = activeRun(jobs)
	if out.Active != nil {
		out.Active.Stuck = stuckAgent(out.Active.JobName, in.Pods)
	}
	running, runningAfter := runningCondition(pb, out.Active, in.Now)
	meta.SetStatusCondition(&st.Conditions, running)
	var verifyAfter time.Duration
	out.NewVerifications, out.VerifyEnabled, verifyAfter = foldVerification(in, &st)
	out.VerifyDue = verifyDue(in, &st)
	out.RequeueAfter = earliest(earliest(staleAfter, runningAfter), verifyAfter)
	out.Status = st
	return out
}

// foldRuns adds the finished Jobs not seen before to st.RecentBackups and
// returns them, oldest first.
func foldRuns(st *v1alpha1.PostgresBackupStatus, jobs []*batchv1.Job, pods []corev1.Pod) []v1alpha1.BackupRun {
	known := make(map[string]bool, len(st.RecentBackups))
	for _, r := range st.RecentBackups {
		known[r.JobName] = true
	}
	var oldest *metav1.Time
	if n := len(st.RecentBackups); n >= MaxRecentBackups {
		oldest = &st.RecentBackups[n-1].FinishTime
	}
	var runs []v1alpha1.BackupRun
	for _, job := range jobs {
		run, ok := Run(job, pods)
		if !ok || known[run.JobName] {
			continue
		}
		if oldest != nil && !oldest.Before(&run.FinishTime) {
			continue // trimmed from the list long ago: not new
		}
		known[run.JobName] = true
		runs = append(runs, run)
	}
	slices.SortStableFunc(runs, func(a, b v1alpha1.BackupRun) int {
		return a.FinishTime.Compare(b.FinishTime.Time)
	})
	all := append(slices.Clone(runs), st.RecentBackups...)
	slices.SortStableFunc(all, func(a, b v1alpha1.BackupRun) int {
		return b.FinishTime.Compare(a.FinishTime.Time) // newest first
	})
	if len(all) > MaxRecentBackups {
		all = all[:MaxRecentBackups]
	}
	st.RecentBackups = all
	return runs
}

// activeRun returns the oldest unfinished Job: under Forbid there is at
// most one, but a Job started by hand may overlap.
func activeRun(jobs []*batchv1.Job) *ActiveRun {
	var active *ActiveRun
	for _, job := range jobs {
		if c, _ := finishedCondition(job); c != nil {
			continue
		}
		start := job.CreationTimestamp.Time
		if job.Status.StartTime != nil {
			start = job.Status.StartTime.Time
		}
		if active == nil || start.Before(active.Start) {
			active = &ActiveRun{JobName: job.Name, Start: start}
		}
	}
	return active
}

// runningCondition says whether a run is active and whether it has run
// longer than runningTooLongSeconds, and when it will have.
func runningCondition(pb *v1alpha1.PostgresBackup, active *ActiveRun, now time.Time) (metav1.Condition, time.Duration) {
	c := metav1.Condition{Type: v1alpha1.ConditionBackupRunning, ObservedGeneration: pb.Generation}
	if active == nil {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonIdle, "No backup is running"
		return c, 0
	}
	limit := builder.RunningTooLong(&pb.Spec)
	tooLong := active.Start.Add(limit)
	c.Status = metav1.ConditionTrue
	// Absolute times only: the message must not change between reconciles.
	since := active.Start.UTC().Format(time.RFC3339)
	if active.Stuck != "" {
		// It will not start by itself; the Job fails at its deadline.
		c.Reason = v1alpha1.ReasonCannotStart
		c.Message = fmt.Sprintf("Job %s (since %s) cannot start its agent: %s; it is failed at activeDeadlineSeconds %d",
			active.JobName, since, active.Stuck, int64(builder.ActiveDeadline(&pb.Spec).Seconds()))
		return c, 0
	}
	if now.Before(tooLong) {
		c.Reason = v1alpha1.ReasonRunning
		c.Message = fmt.Sprintf("Job %s is running since %s; running too long after %s (runningTooLongSeconds %d, activeDeadlineSeconds %d)",
			active.JobName, since, tooLong.UTC().Format(time.RFC3339), int64(limit.Seconds()), int64(builder.ActiveDeadline(&pb.Spec).Seconds()))
		return c, tooLong.Sub(now)
	}
	c.Reason = v1alpha1.ReasonRunningTooLong
	c.Message = fmt.Sprintf("Job %s is running since %s, longer than runningTooLongSeconds %d; it is failed at activeDeadlineSeconds %d",
		active.JobName, since, int64(limit.Seconds()), int64(builder.ActiveDeadline(&pb.Spec).Seconds()))
	return c, 0
}

// warningsCondition reports the warnings of the newest finished run.
func warningsCondition(runs []v1alpha1.BackupRun, gen int64) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionBackupWarnings, ObservedGeneration: gen}
	switch {
	case len(runs) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonNoBackupYet, "No backup has finished yet"
	case len(runs[0].Warnings) == 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonNoWarnings
		c.Message = fmt.Sprintf("The last run (Job %s) reported no warnings", runs[0].JobName)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonWarningsReported
		c.Message = truncate(fmt.Sprintf("The last run (Job %s) reported %d warning(s): %s",
			runs[0].JobName, len(runs[0].Warnings), strings.Join(runs[0].Warnings, "; ")), maxMessage)
	}
	return c
}

// earliest is the smaller positive duration; 0 when neither is.
func earliest(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	default:
		return min(a, b)
	}
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
		since, what = last.Time.Time, "the last successful backup was"
	}
	deadline := since.Add(maxAge)
	if now.Before(deadline) {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonWithinMaxAge
		// No relative times here: the message must not change between
		// reconciles, or every status write would cause another.
		c.Message = fmt.Sprintf("%s at %s; stale after %s (maxAge %s)", capitalise(what),
			since.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339), maxAge)
		return c, deadline.Sub(now)
	}
	c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonMaxAgeExceeded
	c.Message = fmt.Sprintf("No successful backup within maxAge %s: %s at %s", maxAge, what, since.UTC().Format(time.RFC3339))
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
