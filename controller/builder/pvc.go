package builder

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// SpoolPVC builds the PVC <name>-spool for pb, or returns nil when pb uses
// an existing claim or no PVC at all.
func SpoolPVC(pb *v1alpha1.PostgresBackup) *corev1.PersistentVolumeClaim {
	st := pb.Spec.Storage
	if st == nil || st.Size == nil || st.ExistingClaim != "" {
		return nil
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            SpoolClaimName(pb),
			Namespace:       pb.Namespace,
			Labels:          Labels(pb),
			OwnerReferences: []metav1.OwnerReference{OwnerReference(pb)},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: st.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: st.Size.DeepCopy()},
			},
		},
	}
}
