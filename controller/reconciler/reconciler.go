package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/metrics"
	"github.com/pgbackup/pgbackup/controller/status"
)

// FieldOwner is the controller's server-side apply field manager.
const FieldOwner = client.FieldOwner("pgbackup-controller")

// Reconciler makes a PostgresBackup's CronJobs (backup and verification)
// and PVC match its spec and folds their finished runs into its status.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	Metrics  *metrics.Metrics
	Options  builder.Options
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=pgbackup.dev,resources=postgresbackups,verbs=get;list;watch
// +kubebuilder:rbac:groups=pgbackup.dev,resources=postgresbackups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile handles one PostgresBackup. The CronJob owns the timing; this
// only reacts to changes of the resource and its children, and requeues
// itself only for a known moment (the backup turning stale, a run turning
// too long). The status is written once, in a deferred patch, on every
// path: a spec that cannot be applied, a failed apply or a failed read
// still leave their mark on Ready.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	pb := &v1alpha1.PostgresBackup{}
	if err := r.Get(ctx, req.NamespacedName, pb); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.Forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pb.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references take the CronJob and PVC with it
	}
	before := pb.DeepCopy()
	var out *status.Output
	defer func() {
		// res and retErr are what the body decided; the write may add to them.
		err := r.patchStatus(ctx, before, pb)
		switch {
		case errors.Is(err, errStale):
			// The watch event of the newer version brings a fresh
			// reconcile; the requeue is a safety net.
			logf.FromContext(ctx).V(1).Info("Status is stale, requeueing")
			res, retErr = ctrl.Result{RequeueAfter: time.Second}, nil
		case err != nil:
			retErr = errors.Join(retErr, err)
		default:
			r.announce(ctx, before, pb, out)
		}
	}()

	sched, loc, specErr := builder.Schedule(&pb.Spec)
	var ready verdict
	var applyErr error
	if specErr != nil {
		// Leave the existing CronJob alone: it keeps the last valid schedule.
		ready = specVerdict(specErr)
	} else {
		ready, applyErr = r.applyChildren(ctx, pb)
	}
	// Verification follows its own part of the spec: a problem there must
	// not stop the backups, nor the other way round.
	verifyReady, verifyErr := r.applyVerify(ctx, pb)
	ready, applyErr = ready.and(verifyReady), errors.Join(applyErr, verifyErr)
	// Runs are folded whatever became of the apply: a failure of the spec
	// or of an apply must not hide the runs that finished meanwhile.
	in, err := r.observe(ctx, pb)
	if err != nil {
		setReady(pb, ready)
		return ctrl.Result{}, errors.Join(applyErr, err)
	}
	in.Schedule, in.Location, in.Now = sched, loc, r.now()
	folded := status.Fold(in)
	out = &folded
	pb.Status = folded.Status
	setReady(pb, ready)
	if folded.VerifyDue != "" {
		applyErr = errors.Join(applyErr, r.startVerification(ctx, in.VerifyCronJob, folded.VerifyDue))
	}
	applyErr = errors.Join(applyErr, r.notifyStale(ctx, pb))
	if applyErr != nil {
		return ctrl.Result{}, applyErr // the retry's backoff replaces any requeue
	}
	requeue := folded.RequeueAfter
	if clusterPending(ready) && (requeue == 0 || requeue > clusterRecheck) {
		// Nothing watches the operator's cluster: look again later.
		requeue = clusterRecheck
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// clusterRecheck is how often a reference to a cluster that is missing or
// unfit is looked at again.
const clusterRecheck = time.Minute

// clusterPending says whether Ready is False because of the clusterRef.
func clusterPending(v verdict) bool {
	switch v.reason {
	case v1alpha1.ReasonClusterNotFound, v1alpha1.ReasonClusterUnreadable, v1alpha1.ReasonClusterMisfit:
		return !v.ok
	}
	return false
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// verdict is the Ready condition's content before it is set.
type verdict struct {
	ok              bool
	reason, message string
}

// and combines the backup's verdict a with the verification's b: Ready
// says the first problem, and names the other's too.
func (a verdict) and(b verdict) verdict {
	switch {
	case a.ok && b.ok:
		return verdict{ok: true, message: a.message + b.message}
	case a.ok:
		if a.message != "" {
			b.message += " (backups are not affected: " + a.message + ")"
		}
		return b
	case !b.ok:
		a.message += "; " + b.message
	}
	return a
}

func specVerdict(err error) verdict {
	reason := v1alpha1.ReasonInvalidSchedule
	if se, ok := errors.AsType[*builder.SpecError](err); ok {
		reason = se.Reason
	}
	return verdict{reason: reason, message: err.Error()}
}

// setReady writes the Ready condition and the observed generation.
func setReady(pb *v1alpha1.PostgresBackup, v verdict) {
	c := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v.reason,
		Message: v.message, ObservedGeneration: pb.Generation}
	if v.ok {
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonReconciled
	}
	pb.Status.ObservedGeneration = pb.Generation
	meta.SetStatusCondition(&pb.Status.Conditions, c)
}

// applyChildren applies the spool PVC (when the controller makes one) and
// the CronJob with server-side apply: the controller owns exactly the
// fields it sets, so a field removed from the spec is removed from the
// object, and an unchanged object is not written. A failed PVC apply does
// not stop the CronJob's: the schedule and the agent's settings stay up
// to date even while the claim cannot follow the spec. The verdict is
// Ready's; the error is for a retry, and is nil when retrying cannot help
// (a change the API server rejects as invalid, such as a new storage class
// for an existing claim: the next spec change brings a reconcile).
func (r *Reconciler) applyChildren(ctx context.Context, pb *v1alpha1.PostgresBackup) (verdict, error) {
	var errs []error
	var claimFailed string
	if pvc := builder.SpoolPVC(pb); pvc != nil {
		if err := r.apply(ctx, pvc); err != nil {
			claimFailed = fmt.Sprintf("apply PVC %s: %v", pvc.Name, err)
			if !apierrors.IsInvalid(err) {
				errs = append(errs, fmt.Errorf("apply PVC %s: %w", pvc.Name, err))
			}
		}
	}
	facts, clusterVerdict, clusterErr := r.readCluster(ctx, pb)
	if clusterErr != nil {
		errs = append(errs, clusterErr)
	}
	opts := r.Options
	opts.Cluster = facts
	cj := builder.CronJob(pb, opts)
	if err := r.apply(ctx, cj); err != nil {
		msg := fmt.Sprintf("apply CronJob %s: %v", cj.Name, err)
		if claimFailed != "" {
			msg += "; " + claimFailed
		}
		return verdict{reason: v1alpha1.ReasonCronJobApplyFailed, message: msg},
			errors.Join(append(errs, fmt.Errorf("apply CronJob %s: %w", cj.Name, err))...)
	}
	if claimFailed != "" {
		return verdict{reason: v1alpha1.ReasonClaimApplyFailed, message: claimFailed + " (the CronJob " + cj.Name + " is up to date)"},
			errors.Join(errs...)
	}
	if !clusterVerdict.ok {
		clusterVerdict.message += " (the CronJob " + cj.Name + " is applied by the operator's conventions)"
		return clusterVerdict, errors.Join(errs...)
	}
	v, err := r.checkClaim(ctx, pb)
	if v.ok {
		v.message = "CronJob " + cj.Name + " is up to date" + v.message
	}
	return v, errors.Join(append(errs, err)...)
}

// applyVerify makes the verification CronJob follow spec.verify: applied
// (server-side, like the backup CronJob) when set and valid, deleted when
// unset. An invalid spec.verify leaves an existing CronJob alone, as an
// invalid schedule does the backup CronJob. The verdict's message is
// appended to the backup's.
func (r *Reconciler) applyVerify(ctx context.Context, pb *v1alpha1.PostgresBackup) (verdict, error) {
	if pb.Spec.Verify == nil {
		if err := r.deleteVerifyCronJob(ctx, pb); err != nil {
			return verdict{reason: v1alpha1.ReasonVerifyCronJobApplyFailed, message: err.Error()}, err
		}
		return verdict{ok: true}, nil
	}
	if err := builder.ValidateVerify(&pb.Spec); err != nil {
		return specVerdict(err), nil
	}
	cj := builder.VerifyCronJob(pb, r.Options)
	if err := r.apply(ctx, cj); err != nil {
		v := verdict{reason: v1alpha1.ReasonVerifyCronJobApplyFailed, message: fmt.Sprintf("apply verify CronJob %s: %v", cj.Name, err)}
		if apierrors.IsInvalid(err) {
			return v, nil // a retry gets the same answer; the next spec change brings a reconcile
		}
		return v, fmt.Errorf("apply verify CronJob %s: %w", cj.Name, err)
	}
	return verdict{ok: true, message: "; verify CronJob " + cj.Name + " is up to date"}, nil
}

// notifyStale starts the Job that tells the webhook that backups are
// stale, when they are and the webhook asks for it. The Job's name follows
// from the stale spell, so it is created once per spell.
func (r *Reconciler) notifyStale(ctx context.Context, pb *v1alpha1.PostgresBackup) error {
	c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionBackupStale)
	if c == nil || c.Status != metav1.ConditionTrue || !builder.WantsStale(pb) {
		return nil
	}
	job := builder.StaleNotifyJob(pb, r.Options, c.Message)
	err := r.Create(ctx, job, FieldOwner)
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("create stale notification Job %s: %w", job.Name, err)
	}
	logf.FromContext(ctx).Info("Started the stale notification", "job", job.Name)
	r.Recorder.Eventf(pb, job, corev1.EventTypeNormal, v1alpha1.EventStaleNotified, "Notify", "Job %s tells the webhook that backups are stale", job.Name)
	return nil
}

// startVerification starts the verification of backup id that
// verify.everyNth asks for. The Job's name follows from the id: a second
// attempt (a retried reconcile) finds it and does nothing.
func (r *Reconciler) startVerification(ctx context.Context, vcj *batchv1.CronJob, id string) error {
	job := builder.VerifyAfterBackupJob(vcj, id)
	err := r.Create(ctx, job, FieldOwner)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start verification Job %s: %w", job.Name, err)
	}
	logf.FromContext(ctx).Info("Started a verification after a backup (verify.everyNth)", "job", job.Name, "backupId", id)
	return nil
}

// deleteVerifyCronJob deletes the verification CronJob when pb controls
// it; its Jobs and Pods follow through their owner references. A CronJob
// of that name that is not pb's is left alone.
func (r *Reconciler) deleteVerifyCronJob(ctx context.Context, pb *v1alpha1.PostgresBackup) error {
	cj := &batchv1.CronJob{}
	err := r.Get(ctx, client.ObjectKey{Namespace: pb.Namespace, Name: builder.VerifyCronJobName(pb)}, cj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get verify CronJob: %w", err)
	}
	if !metav1.IsControlledBy(cj, pb) {
		return nil
	}
	// The UID precondition: never a CronJob of the same name made since.
	err = r.Delete(ctx, cj, client.Preconditions{UID: &cj.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete verify CronJob %s: %w", cj.Name, err)
	}
	logf.FromContext(ctx).Info("Deleted the verify CronJob: spec.verify is unset", "cronJob", cj.Name)
	return nil
}

// checkClaim looks at the spool claim: an existing claim must exist, and
// no claim may be Lost. A Pending claim is fine: with a WaitForFirstConsumer
// storage class it binds only when the first run's pod is scheduled.
func (r *Reconciler) checkClaim(ctx context.Context, pb *v1alpha1.PostgresBackup) (verdict, error) {
	name := builder.SpoolClaimName(pb)
	if name == "" {
		return verdict{ok: true}, nil
	}
	existing := pb.Spec.Storage.ExistingClaim != ""
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, client.ObjectKey{Namespace: pb.Namespace, Name: name}, pvc)
	switch {
	case apierrors.IsNotFound(err) && existing:
		return verdict{reason: v1alpha1.ReasonClaimMissing, message: fmt.Sprintf(
			"spec.storage.existingClaim %s does not exist in namespace %s: create it, or set storage.size instead", name, pb.Namespace)}, nil
	case apierrors.IsNotFound(err):
		// Just applied; the cache has not seen it yet, its event follows.
		return verdict{ok: true, message: "; spool claim " + name + " created"}, nil
	case err != nil:
		// Not the claim's fault: Ready keeps the CronJob's verdict, and the
		// error brings a retry.
		return verdict{ok: true}, fmt.Errorf("get PVC %s: %w", name, err)
	case pvc.Status.Phase == corev1.ClaimLost:
		return verdict{reason: v1alpha1.ReasonClaimLost, message: fmt.Sprintf(
			"spool claim %s is Lost: its volume is gone; delete the claim so a new one is made, or name another", name)}, nil
	}
	phase := pvc.Status.Phase
	if phase == "" {
		phase = corev1.ClaimPending
	}
	return verdict{ok: true, message: fmt.Sprintf("; spool claim %s is %s", name, phase)}, nil
}

// observe lists the backup's CronJobs, Jobs and their Pods from the cache.
// The Jobs are candidates (labelled for the backup's name); status.Fold
// keeps those the resource owns.
func (r *Reconciler) observe(ctx context.Context, pb *v1alpha1.PostgresBackup) (status.Input, error) {
	in := status.Input{Backup: pb}
	cj := &batchv1.CronJob{}
	err := r.Get(ctx, client.ObjectKey{Namespace: pb.Namespace, Name: builder.CronJobName(pb)}, cj)
	switch {
	case err == nil:
		in.CronJob = cj
	case !apierrors.IsNotFound(err):
		return in, fmt.Errorf("get CronJob: %w", err)
	}
	if pb.Spec.Verify != nil {
		vcj := &batchv1.CronJob{}
		err := r.Get(ctx, client.ObjectKey{Namespace: pb.Namespace, Name: builder.VerifyCronJobName(pb)}, vcj)
		switch {
		case err == nil:
			in.VerifyCronJob = vcj
		case !apierrors.IsNotFound(err):
			return in, fmt.Errorf("get verify CronJob: %w", err)
		}
	}
	sel := client.MatchingLabels{builder.LabelBackup: builder.LabelValue(pb.Name)}
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(pb.Namespace), sel); err != nil {
		return in, fmt.Errorf("list Jobs: %w", err)
	}
	in.Jobs = jobs.Items
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(pb.Namespace), sel); err != nil {
		return in, fmt.Errorf("list Pods: %w", err)
	}
	in.Pods = pods.Items
	return in, nil
}

// errStale means the cached PostgresBackup was older than the API server's.
var errStale = errors.New("stale cache")

// patchStatus writes the status with a merge patch when it changed. The
// patch carries the resourceVersion it was computed from: a reconcile that
// read a cached copy older than the last status write would otherwise fold
// the same runs in again and announce them twice.
func (r *Reconciler) patchStatus(ctx context.Context, before, pb *v1alpha1.PostgresBackup) error {
	if equality.Semantic.DeepEqual(before.Status, pb.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, pb, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return errStale
	}
	if err != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// announce emits events and metrics for what the status write made
// official: new runs, warnings, a backup turning stale, a run turning too
// long, Ready turning False. It runs after the write so a failed write,
// retried, does not announce twice. out is nil when nothing was folded.
func (r *Reconciler) announce(ctx context.Context, before, pb *v1alpha1.PostgresBackup, out *status.Output) {
	r.announceReady(ctx, before, pb)
	if out == nil {
		return
	}
	for i := range out.NewRuns {
		run := &out.NewRuns[i]
		r.Metrics.CountRun(pb.Namespace, pb.Name, run)
		if run.Result == v1alpha1.ResultSucceeded {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeNormal, v1alpha1.EventBackupSucceeded, "Backup",
				"Backup %s succeeded (Job %s, %d bytes, %ds)", run.ID, run.JobName, run.Bytes, run.DurationSeconds)
		} else {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupFailed, "Backup",
				"Backup failed (Job %s): %s: %s", run.JobName, run.Reason, run.Message)
		}
		if len(run.Warnings) > 0 {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupWarnings, "Backup",
				"Job %s reported %d warning(s): %s", run.JobName, len(run.Warnings), strings.Join(run.Warnings, "; "))
		}
	}
	if turnedTrue(before, pb, v1alpha1.ConditionBackupStale) {
		c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionBackupStale)
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupStale, "Check", "%s", c.Message)
	}
	running := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionBackupRunning)
	old := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionBackupRunning)
	if running != nil && running.Reason == v1alpha1.ReasonRunningTooLong && (old == nil || old.Reason != running.Reason) {
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupRunningTooLong, "Check", "%s", running.Message)
	}
	if running != nil && running.Reason == v1alpha1.ReasonCannotStart && (old == nil || old.Reason != running.Reason) {
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupCannotStart, "Check", "%s", running.Message)
	}
	r.announceVerifications(before, pb, out)
	r.Metrics.Observe(pb.Namespace, pb.Name, &pb.Status)
	r.Metrics.ObserveVerification(pb.Namespace, pb.Name, pb.Spec.Verify, &pb.Status, out.VerifyEnabled)
	var start time.Time
	if out.Active != nil {
		start = out.Active.Start
	}
	r.Metrics.ObserveRunning(pb.Namespace, pb.Name, start, builder.RunningTooLong(&pb.Spec))
}

// announceVerifications emits an event for each new verification run and
// one when Verified turns stale.
func (r *Reconciler) announceVerifications(before, pb *v1alpha1.PostgresBackup, out *status.Output) {
	for i := range out.NewVerifications {
		run := &out.NewVerifications[i]
		if run.Result == v1alpha1.ResultSucceeded {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeNormal, v1alpha1.EventVerificationSucceeded, "Verify",
				"Backup %s verified (Job %s): restored in %ds, %d tables checked", run.ID, run.JobName, run.RestoreSeconds, run.TablesChecked)
		} else {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventVerificationFailed, "Verify",
				"Verification failed (Job %s): %s: %s", run.JobName, run.Reason, run.Message)
		}
	}
	c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionVerified)
	old := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionVerified)
	if c != nil && c.Reason == v1alpha1.ReasonVerificationStale && (old == nil || old.Reason != c.Reason) {
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventVerificationStale, "Check", "%s", c.Message)
	}
}

// announceReady emits one event when Ready turns False or says something
// new while False: InvalidSpec for a spec the controller cannot act on,
// else the condition's reason (CronJobApplyFailed, ClaimMissing, ...).
func (r *Reconciler) announceReady(ctx context.Context, before, pb *v1alpha1.PostgresBackup) {
	c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse {
		return
	}
	old := ptr.Deref(meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReady), metav1.Condition{})
	if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
		return
	}
	reason, action := c.Reason, "Apply"
	if reason == v1alpha1.ReasonInvalidSchedule || reason == v1alpha1.ReasonInvalidTimeZone || reason == v1alpha1.ReasonVerifyIdentityMissing {
		reason, action = v1alpha1.EventInvalidSpec, "Validate"
	}
	logf.FromContext(ctx).Info("Not ready", "reason", c.Reason, "message", c.Message)
	r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, reason, action, "%s", c.Message)
}

func turnedTrue(before, pb *v1alpha1.PostgresBackup, condition string) bool {
	return meta.IsStatusConditionTrue(pb.Status.Conditions, condition) &&
		!meta.IsStatusConditionTrue(before.Status.Conditions, condition)
}
