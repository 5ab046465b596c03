package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// A run whose agent cannot start (the kubelet reports
// CreateContainerConfigError: a Secret it references is missing) turns
// BackupRunning to CannotStart with the kubelet's message, and a warning
// event, as soon as the pod says so: not RunningTooLong hours later.
func TestCannotStartReported(t *testing.T) {
	ns := newNamespace(t)
	create(t, newBackup(ns, "orders"))
	job := startJob(t, ns)
	ctx := context.Background()
	tpl := job.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: job.Name + "-x1",
			Labels:          mergeMaps(tpl.Labels, map[string]string{"batch.kubernetes.io/job-name": job.Name}),
			Annotations:     tpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: tpl.Spec,
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Running first", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupRunning)
		if c == nil || c.Reason != v1alpha1.ReasonRunning {
			return fmt.Errorf("BackupRunning %+v", c)
		}
		return nil
	})
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: builder.ContainerName, Image: agentImage,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: `secret "pg" not found`}},
	}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CannotStart", func() error {
		c := meta.FindStatusCondition(getBackup(t, ns, "orders").Status.Conditions, v1alpha1.ConditionBackupRunning)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonCannotStart ||
			!strings.Contains(c.Message, `CreateContainerConfigError: secret "pg" not found`) {
			return fmt.Errorf("BackupRunning %+v", c)
		}
		return nil
	})
	eventually(t, "BackupCannotStart event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.EventBackupCannotStart)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})
}
