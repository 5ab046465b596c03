package builder

import (
	"maps"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationInstantiate marks a Job started by hand, as `kubectl create job
// --from=cronjob/...` does.
const AnnotationInstantiate = "cronjob.kubernetes.io/instantiate"

// ManualJob builds a Job from the CronJob's template, like `kubectl create
// job --from=cronjob/NAME`: owned by the CronJob, so the CronJob's history
// limits and the controller's status see it like a scheduled run, and
// annotated with the PostgresBackup's UID (AnnotationBackupUID). Its name
// is the CronJob's with a suffix from now.
func ManualJob(cj *batchv1.CronJob, now time.Time) *batchv1.Job {
	annotations := maps.Clone(cj.Spec.JobTemplate.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationInstantiate] = "manual"
	// The CronJob's owner is the PostgresBackup: recording its UID lets the
	// controller recognise the Job even if it is not owned by the CronJob.
	if ref := metav1.GetControllerOf(cj); ref != nil && ref.Kind == "PostgresBackup" {
		annotations[AnnotationBackupUID] = string(ref.UID)
	}
	name := Shorten(cj.Name+"-manual-"+strconv.FormatInt(now.Unix(), 36), MaxLabelValue)
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   cj.Namespace,
			Labels:      maps.Clone(cj.Spec.JobTemplate.Labels),
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob")),
			},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
}
