package reconciler

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	pgbuilder "github.com/pgbackup/pgbackup/controller/builder"
)

// SetupWithManager registers the controller: it watches PostgresBackups,
// their CronJobs and PVCs, and the Jobs and Pods of their runs (which the
// CronJob, not the PostgresBackup, owns: they are mapped back through the
// annotation holding the PostgresBackup's name).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toBackup := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		name := obj.GetAnnotations()[pgbuilder.AnnotationBackup]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("postgresbackup").
		For(&v1alpha1.PostgresBackup{}).
		Owns(&batchv1.CronJob{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Watches(&batchv1.Job{}, toBackup, builder.WithPredicates(predicate.NewPredicateFuncs(jobFinished))).
		Watches(&corev1.Pod{}, toBackup, builder.WithPredicates(predicate.NewPredicateFuncs(agentTerminated))).
		Complete(r)
}

// jobFinished passes Jobs that completed or failed: running ones change
// nothing in the status.
func jobFinished(obj client.Object) bool {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return false
	}
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// agentTerminated passes Pods whose agent has ended: their termination
// message may arrive after the Job's condition.
func agentTerminated(obj client.Object) bool {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == pgbuilder.ContainerName && cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

// apply server-side applies a typed object the builder made. The builder's
// objects are complete desired states, so their JSON form is the apply
// configuration, less the fields the server owns.
func (r *Reconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("convert %T: %w", obj, err)
	}
	delete(u, "status")
	pruneNulls(u)
	ac := client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u})
	return r.Apply(ctx, ac, FieldOwner, client.ForceOwnership)
}

// pruneNulls removes null values (unset timestamps of embedded object
// metadata), which apply would read as "remove this field".
func pruneNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneNulls(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					pruneNulls(em)
				}
			}
		}
	}
}
