package reconciler

import (
	"context"
	"errors"
	"fmt"
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

// Reconciler makes a PostgresBackup's CronJob and PVC match its spec and
// folds its finished runs into its status.
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
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile handles one PostgresBackup. The CronJob owns the timing; this
// only reacts to changes of the resource and its children, and requeues
// itself only for the moment the backup turns stale.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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
	sched, loc, err := builder.Schedule(&pb.Spec)
	if err != nil {
		// Leave the existing CronJob alone: it keeps the last valid schedule.
		return ctrl.Result{}, r.rejectSpec(ctx, pb, before, err)
	}
	if err := r.applyChildren(ctx, pb); err != nil {
		return ctrl.Result{}, err
	}
	in, err := r.observe(ctx, pb)
	if err != nil {
		return ctrl.Result{}, err
	}
	in.Schedule, in.Location, in.Now = sched, loc, r.now()
	out := status.Fold(in)
	pb.Status = out.Status
	pb.Status.ObservedGeneration = pb.Generation
	meta.SetStatusCondition(&pb.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled,
		Message: "CronJob " + pb.Status.CronJobName + " is up to date", ObservedGeneration: pb.Generation,
	})
	if err := r.patchStatus(ctx, before, pb); errors.Is(err, errStale) {
		// The watch event of the newer version brings a fresh reconcile;
		// the requeue is a safety net.
		logf.FromContext(ctx).V(1).Info("Status is stale, requeueing")
		return ctrl.Result{RequeueAfter: time.Second}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	r.announce(before, pb, out.NewRuns)
	return ctrl.Result{RequeueAfter: out.RequeueAfter}, nil
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// rejectSpec records an invalid spec: Ready=False with the reason, and one
// event when that verdict is new.
func (r *Reconciler) rejectSpec(ctx context.Context, pb, before *v1alpha1.PostgresBackup, err error) error {
	reason := v1alpha1.ReasonInvalidSchedule
	if se, ok := errors.AsType[*builder.SpecError](err); ok {
		reason = se.Reason
	}
	// A copy: SetStatusCondition updates the condition in place.
	old := ptr.Deref(meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionReady), metav1.Condition{})
	pb.Status.ObservedGeneration = pb.Generation
	meta.SetStatusCondition(&pb.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason,
		Message: err.Error(), ObservedGeneration: pb.Generation,
	})
	if perr := r.patchStatus(ctx, before, pb); errors.Is(perr, errStale) {
		return nil // the newer version is reconciled next
	} else if perr != nil {
		return perr
	}
	if old.Reason != reason || old.Message != err.Error() {
		logf.FromContext(ctx).Info("Spec rejected", "reason", reason, "message", err.Error())
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventInvalidSpec, "Validate", "%s", err.Error())
	}
	return nil // retrying cannot help; the next spec change triggers a reconcile
}

// applyChildren applies the spool PVC (when the controller makes one) and
// the CronJob with server-side apply: the controller owns exactly the
// fields it sets, so a field removed from the spec is removed from the
// object, and an unchanged object is not written.
func (r *Reconciler) applyChildren(ctx context.Context, pb *v1alpha1.PostgresBackup) error {
	if pvc := builder.SpoolPVC(pb); pvc != nil {
		if err := r.apply(ctx, pvc); err != nil {
			return fmt.Errorf("apply PVC %s: %w", pvc.Name, err)
		}
	}
	cj := builder.CronJob(pb, r.Options)
	if err := r.apply(ctx, cj); err != nil {
		return fmt.Errorf("apply CronJob %s: %w", cj.Name, err)
	}
	return nil
}

// observe lists the backup's CronJob, Jobs and their Pods from the cache.
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
	sel := client.MatchingLabels{builder.LabelBackup: builder.LabelValue(pb.Name)}
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(pb.Namespace), sel); err != nil {
		return in, fmt.Errorf("list Jobs: %w", err)
	}
	for _, j := range jobs.Items {
		// A shortened label may be shared; the annotation has the full name.
		if j.Annotations[builder.AnnotationBackup] == pb.Name {
			in.Jobs = append(in.Jobs, j)
		}
	}
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
// official: new runs and a backup turning stale. It runs after the write so
// a failed write, retried, does not announce twice.
func (r *Reconciler) announce(before, pb *v1alpha1.PostgresBackup, runs []v1alpha1.BackupRun) {
	for i := range runs {
		run := &runs[i]
		r.Metrics.CountRun(pb.Namespace, pb.Name, run)
		if run.Result == v1alpha1.ResultSucceeded {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeNormal, v1alpha1.EventBackupSucceeded, "Backup",
				"Backup %s succeeded (Job %s, %d bytes, %ds)", run.ID, run.JobName, run.Bytes, run.DurationSeconds)
		} else {
			r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupFailed, "Backup",
				"Backup failed (Job %s): %s: %s", run.JobName, run.Reason, run.Message)
		}
	}
	if meta.IsStatusConditionTrue(pb.Status.Conditions, v1alpha1.ConditionBackupStale) &&
		!meta.IsStatusConditionTrue(before.Status.Conditions, v1alpha1.ConditionBackupStale) {
		c := meta.FindStatusCondition(pb.Status.Conditions, v1alpha1.ConditionBackupStale)
		r.Recorder.Eventf(pb, nil, corev1.EventTypeWarning, v1alpha1.EventBackupStale, "Check", "%s", c.Message)
	}
	r.Metrics.Observe(pb.Namespace, pb.Name, &pb.Status)
}
