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
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	pgbuilder "github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/status"
)

// indexExistingClaim indexes PostgresBackups by spec.storage.existingClaim,
// so a claim appearing (or changing) reconciles the resources naming it.
const indexExistingClaim = "spec.storage.existingClaim"

// SetupWithManager registers the controller: it watches PostgresBackups,
// their CronJobs (backup and verification) and PVCs, the claims they name as existingClaim, and the
// Jobs and Pods of their runs (which the CronJob, not the PostgresBackup,
// owns: they are mapped back through the annotation holding the
// PostgresBackup's name).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.PostgresBackup{}, indexExistingClaim,
		func(obj client.Object) []string {
			pb, ok := obj.(*v1alpha1.PostgresBackup)
			if !ok || pb.Spec.Storage == nil || pb.Spec.Storage.ExistingClaim == "" {
				return nil
			}
			return []string{pb.Spec.Storage.ExistingClaim}
		})
	if err != nil {
		return fmt.Errorf("index %s: %w", indexExistingClaim, err)
	}
	toBackup := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		name := obj.GetAnnotations()[pgbuilder.AnnotationBackup]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	})
	claimUsers := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list v1alpha1.PostgresBackupList
		if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{indexExistingClaim: obj.GetName()}); err != nil {
			logf.FromContext(ctx).Error(err, "Cannot list the PostgresBackups using a claim", "claim", client.ObjectKeyFromObject(obj))
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, pb := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pb)})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("postgresbackup").
		For(&v1alpha1.PostgresBackup{}).
		Owns(&batchv1.CronJob{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Watches(&corev1.PersistentVolumeClaim{}, claimUsers).
		// Every Job event: a Job starting is a run becoming active (the
		// BackupRunning condition and the running gauge), one finishing a
		// run to fold.
		Watches(&batchv1.Job{}, toBackup).
		Watches(&corev1.Pod{}, toBackup, builder.WithPredicates(predicate.NewPredicateFuncs(agentTerminated))).
		Complete(r)
}

// agentTerminated passes Pods whose agent (backup or verify) has ended
// (their termination message may arrive after the Job's condition), or
// cannot start (BackupRunning says so at once).
func agentTerminated(obj client.Object) bool {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		agent := cs.Name == pgbuilder.ContainerName || cs.Name == pgbuilder.VerifyContainerName
		if agent && (cs.State.Terminated != nil || (cs.State.Waiting != nil && status.CannotStart(cs.State.Waiting.Reason))) {
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
