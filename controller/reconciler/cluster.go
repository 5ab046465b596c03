package reconciler

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// The operators' cluster resources a clusterRef names.
var (
	cnpgCluster     = schema.GroupVersionKind{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Cluster"}
	zalandoPostgres = schema.GroupVersionKind{Group: "acid.zalan.do", Version: "v1", Kind: "postgresql"}
)

// +kubebuilder:rbac:groups=postgresql.cnpg.io,resources=clusters,verbs=get
// +kubebuilder:rbac:groups=acid.zalan.do,resources=postgresqls,verbs=get

// readCluster reads the cluster a clusterRef names, once per reconcile
// (an unstructured Get goes to the API server: no informer, no watch, so
// an operator that is not installed costs nothing). It returns what the
// CronJob is built with, and Ready's verdict on the reference: a missing
// or unreadable cluster, or one that cannot serve the reference, makes
// Ready False but still leaves a CronJob built by convention (the cluster
// may come later). The error is for a retry.
func (r *Reconciler) readCluster(ctx context.Context, pb *v1alpha1.PostgresBackup) (builder.ClusterFacts, verdict, error) {
	ref := pb.Spec.Postgres.ClusterRef
	if ref == nil {
		return builder.ClusterFacts{}, verdict{ok: true}, nil
	}
	gvk, what := cnpgCluster, "CloudNativePG Cluster"
	if ref.Kind == v1alpha1.ClusterZalando {
		gvk, what = zalandoPostgres, "Zalando postgresql"
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := r.Get(ctx, client.ObjectKey{Namespace: pb.Namespace, Name: ref.Name}, u)
	switch {
	case meta.IsNoMatchError(err):
		return builder.ClusterFacts{}, verdict{reason: v1alpha1.ReasonClusterNotFound,
			message: fmt.Sprintf("clusterRef: the API server does not know %s (%s): is that operator installed?", gvk.Kind, gvk.GroupVersion())}, nil
	case apierrors.IsNotFound(err):
		return builder.ClusterFacts{}, verdict{reason: v1alpha1.ReasonClusterNotFound,
			message: fmt.Sprintf("clusterRef: %s %s/%s does not exist", what, pb.Namespace, ref.Name)}, nil
	case apierrors.IsForbidden(err):
		return builder.ClusterFacts{}, verdict{reason: v1alpha1.ReasonClusterUnreadable,
			message: fmt.Sprintf("clusterRef: the controller may not get %s %s/%s (the chart's ClusterRole grants it): %v", what, pb.Namespace, ref.Name, err)}, nil
	case err != nil:
		return builder.ClusterFacts{}, verdict{reason: v1alpha1.ReasonClusterUnreadable, message: fmt.Sprintf("clusterRef: read %s %s/%s: %v", what, pb.Namespace, ref.Name, err)}, err
	}
	if ref.Kind == v1alpha1.ClusterZalando {
		return builder.ClusterFacts{}, zalandoVerdict(u, ref), nil
	}
	return cnpgFacts(u, ref)
}

// cnpgFacts reads a CloudNativePG Cluster: the CA of its server
// certificates, and whether the superuser Secret exists.
func cnpgFacts(u *unstructured.Unstructured, ref *v1alpha1.ClusterRef) (builder.ClusterFacts, verdict, error) {
	var facts builder.ClusterFacts
	facts.CASecret, _, _ = unstructured.NestedString(u.Object, "spec", "certificates", "serverCASecret")
	if ref.Credentials == "superuser" {
		if on, _, _ := unstructured.NestedBool(u.Object, "spec", "enableSuperuserAccess"); !on {
			return facts, verdict{reason: v1alpha1.ReasonClusterMisfit,
				message: fmt.Sprintf("clusterRef: credentials superuser, but Cluster %s does not set enableSuperuserAccess, so the Secret %s-superuser does not exist", ref.Name, ref.Name)}, nil
		}
	}
	return facts, verdict{ok: true}, nil
}

// zalandoVerdict checks that a Zalando cluster has the user whose
// credentials Secret the reference names (postgres always exists).
func zalandoVerdict(u *unstructured.Unstructured, ref *v1alpha1.ClusterRef) verdict {
	if ref.User == "" || ref.User == "postgres" {
		return verdict{ok: true}
	}
	users, _, _ := unstructured.NestedMap(u.Object, "spec", "users")
	if _, ok := users[ref.User]; !ok {
		return verdict{reason: v1alpha1.ReasonClusterMisfit,
			message: fmt.Sprintf("clusterRef: postgresql %s has no user %q in spec.users, so the operator makes no credentials Secret for it", ref.Name, ref.User)}
	}
	return verdict{ok: true}
}
