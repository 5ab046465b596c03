package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// foldVerification folds the verification Jobs into st: lastVerification,
// lastVerifiedBackup and the Verified condition. It returns the runs seen
// for the first time (oldest first), when verification was enabled (zero:
// not known) and when Verified turns stale (0: no such moment ahead).
// Without spec.verify the verification status is cleared: it describes
// the verification the spec asks for, and a later one starts afresh.
func foldVerification(in Input, st *v1alpha1.PostgresBackupStatus) ([]v1alpha1.VerificationRun, time.Time, time.Duration) {
	pb := in.Backup
	if pb.Spec.Verify == nil {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionVerified)
		st.VerifyCronJobName, st.LastVerification, st.LastVerifiedBackup = "", nil, nil
		return nil, time.Time{}, 0
	}
	st.VerifyCronJobName = builder.VerifyCronJobName(pb)
	var runs []v1alpha1.VerificationRun
	for i := range in.Jobs {
		job := &in.Jobs[i]
		if !OwnedVerify(pb, in.VerifyCronJob, job) {
			continue
		}
		if run, ok := VerifyRun(job, in.Pods); ok && after(run, st.LastVerification) {
			runs = append(runs, run)
		}
	}
	slices.SortFunc(runs, func(a, b v1alpha1.VerificationRun) int {
		if c := a.FinishTime.Compare(b.FinishTime.Time); c != 0 {
			return c
		}
		return strings.Compare(a.JobName, b.JobName)
	})
	for _, r := range runs {
		st.LastVerification = r.DeepCopy()
		if r.Result == v1alpha1.ResultSucceeded {
			st.LastVerifiedBackup = &v1alpha1.VerifiedBackup{ID: r.ID, Time: r.FinishTime, RestoreSeconds: r.RestoreSeconds}
		}
	}
	var enabled time.Time
	if vcj := in.VerifyCronJob; vcj != nil && metav1.IsControlledBy(vcj, pb) {
		enabled = vcj.CreationTimestamp.Time
	}
	c, staleAfter := verifiedCondition(pb, st, enabled, in.Now)
	meta.SetStatusCondition(&st.Conditions, c)
	return runs, enabled, staleAfter
}

// after says whether run is newer than the recorded last: later, or as
// late and after it by name. Only the newest run is kept, so this order
// is what makes each run new exactly once, also after a restart.
func after(run v1alpha1.VerificationRun, last *v1alpha1.VerificationRun) bool {
	if last == nil {
		return true
	}
	if c := run.FinishTime.Compare(last.FinishTime.Time); c != 0 {
		return c > 0
	}
	return run.JobName > last.JobName
}

// verifiedCondition is the Verified condition: the outcome of the newest
// verification, and whether the newest success (or, before the first,
// the enabling of verification) is within maxAge.
func verifiedCondition(pb *v1alpha1.PostgresBackup, st *v1alpha1.PostgresBackupStatus, enabled, now time.Time) (metav1.Condition, time.Duration) {
	c := metav1.Condition{Type: v1alpha1.ConditionVerified, ObservedGeneration: pb.Generation}
	maxAge := builder.VerifyMaxAge(pb.Spec.Verify)
	last, verified := st.LastVerification, st.LastVerifiedBackup
	// Absolute times only: the message must not change between reconciles.
	format := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case last != nil && last.Result != v1alpha1.ResultSucceeded:
		c.Status, c.Reason = metav1.ConditionFalse, conditionReason(last.Reason)
		c.Message = truncate(fmt.Sprintf("Verification Job %s failed: %s", last.JobName, last.Message), maxMessage)
		return c, 0
	case verified != nil:
		deadline := verified.Time.Add(maxAge)
		if now.Before(deadline) {
			c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonVerified
			c.Message = fmt.Sprintf("Backup %s was restored and checked at %s (restore %ds); stale after %s (verify.maxAge %s)",
				verified.ID, format(verified.Time.Time), verified.RestoreSeconds, format(deadline), maxAge)
			return c, deadline.Sub(now)
		}
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonVerificationStale
		c.Message = fmt.Sprintf("No verification succeeded within verify.maxAge %s: the last one (backup %s) was at %s",
			maxAge, verified.ID, format(verified.Time.Time))
		return c, 0
	case enabled.IsZero():
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.ReasonNotYetVerified, "No verification has finished yet"
		return c, 0
	}
	deadline := enabled.Add(maxAge)
	if now.Before(deadline) {
		c.Status, c.Reason = metav1.ConditionUnknown, v1alpha1.ReasonNotYetVerified
		c.Message = fmt.Sprintf("No verification has finished yet; verification was enabled at %s, unverified after %s (verify.maxAge %s)",
			format(enabled), format(deadline), maxAge)
		return c, deadline.Sub(now)
	}
	c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonVerificationStale
	c.Message = fmt.Sprintf("No verification succeeded within verify.maxAge %s since verification was enabled at %s", maxAge, format(enabled))
	return c, 0
}

// verifyDue returns the backup to verify now under verify.everyNth: the
// newest successful backup, once everyNth successful backups newer than
// the last verified one (by id) have finished, no verification Job is
// running, and that backup has not been verified yet. Only the newest is
// verified: backups missed while the controller was down are not queued.
func verifyDue(in Input, st *v1alpha1.PostgresBackupStatus) string {
	v := in.Backup.Spec.Verify
	if v == nil || v.EveryNth == nil || in.VerifyCronJob == nil || st.LastSuccessfulBackup == nil || ptr.Deref(v.Suspend, false) {
		return ""
	}
	for i := range in.Jobs {
		job := &in.Jobs[i]
		if c, _ := finishedCondition(job); c == nil && OwnedVerify(in.Backup, in.VerifyCronJob, job) {
			return "" // one at a time, like the CronJob's Forbid
		}
	}
	since := ""
	if l := st.LastVerification; l != nil {
		since = l.ID
	}
	newer := 0
	for _, r := range st.RecentBackups {
		if r.Result == v1alpha1.ResultSucceeded && r.ID != "" && (since == "" || manifest.CompareIDs(r.ID, since) > 0) {
			newer++
		}
	}
	id := st.LastSuccessfulBackup.ID
	if id == "" || newer < int(*v.EveryNth) || (since != "" && manifest.CompareIDs(id, since) <= 0) {
		return ""
	}
	return id
}
