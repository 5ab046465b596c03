package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// NotifyContainerName is the container of a stale notification Job.
const NotifyContainerName = "notify"

// WantsStale reports whether pb's webhook asks to be told that backups
// are stale.
func WantsStale(pb *v1alpha1.PostgresBackup) bool {
	n := pb.Spec.Notify
	return n != nil && n.Webhook != nil && slices.Contains(n.Webhook.Events, v1alpha1.NotifyStale)
}

// StaleNotifyJob builds the one-shot Job that tells pb's webhook that no
// backup succeeded within maxAge (`pgbackup notify --event stale`). Its
// name follows from the stale episode (the newest success it is stale
// after, or none), so the controller creates it once per episode however
// often it reconciles, and a new episode gets a new Job. It is owned by
// pb, carries none of the backup labels (its result is not a backup's),
// gets the URL as a secretKeyRef and runs like the backup pod: no API
// token, non-root, read-only root filesystem.
func StaleNotifyJob(pb *v1alpha1.PostgresBackup, opts Options, message string) *batchv1.Job {
	w := pb.Spec.Notify.Webhook
	episode := "never"
	var lastSuccess, lastID string
	if ls := pb.Status.LastSuccessfulBackup; ls != nil {
		lastSuccess, lastID = ls.Time.UTC().Format(time.RFC3339), ls.ID
		episode = lastSuccess
	}
	sum := sha256.Sum256([]byte(string(pb.UID) + "/" + episode))
	name := Shorten(CronJobName(pb), MaxLabelValue-len("-stale-")-hashLen) + "-stale-" + hex.EncodeToString(sum[:])[:hashLen]
	maxAge := ""
	if pb.Spec.MaxAge != nil {
		maxAge = pb.Spec.MaxAge.Duration.String()
	}
	events := make([]string, len(w.Events))
	for i, e := range w.Events {
		events[i] = string(e)
	}
	env := []corev1.EnvVar{
		secretEnv("PGBACKUP_NOTIFY_URL", w.URLSecretRef.Name, w.URLSecretRef.Key, false),
		{Name: "PGBACKUP_NOTIFY_EVENTS", Value: strings.Join(events, ",")},
		{Name: "PGBACKUP_NOTIFY_SOURCE", Value: pb.Namespace + "/" + pb.Name},
		{Name: "PGBACKUP_DESTINATION", Value: Destination(pb)},
		{Name: "PGBACKUP_LAST_SUCCESS", Value: lastSuccess},
		{Name: "PGBACKUP_LAST_BACKUP_ID", Value: lastID},
		{Name: "PGBACKUP_MAX_AGE", Value: maxAge},
		{Name: "PGBACKUP_MESSAGE", Value: message},
	}
	o := overrides(pb)
	labels := map[string]string{
		"app.kubernetes.io/name":       "pgbackup",
		"app.kubernetes.io/instance":   LabelValue(pb.Name),
		"app.kubernetes.io/component":  "notify",
		"app.kubernetes.io/managed-by": "pgbackup-controller",
	}
	meta := podMeta(pb, o, maps.Clone(labels))
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pb.Namespace, Labels: labels,
			Annotations:     map[string]string{AnnotationBackup: pb.Name},
			OwnerReferences: []metav1.OwnerReference{OwnerReference(pb)},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](3),
			ActiveDeadlineSeconds:   ptr.To[int64](300),
			TTLSecondsAfterFinished: ptr.To[int32](86400),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: meta,
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr.To(false),
					ServiceAccountName:           o.ServiceAccountName,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](nonRootID), RunAsGroup: ptr.To[int64](nonRootID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            NotifyContainerName,
						Image:           opts.AgentImage,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"notify", "--event", "stale"},
						Env:             env,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
						}, Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
						SecurityContext: agentSecurityContext(),
					}},
					NodeSelector:      maps.Clone(o.NodeSelector),
					Tolerations:       o.Tolerations,
					Affinity:          o.Affinity,
					ImagePullSecrets:  o.ImagePullSecrets,
					PriorityClassName: o.PriorityClassName,
				},
			},
		},
	}
}
