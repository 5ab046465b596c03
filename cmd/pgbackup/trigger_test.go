package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/manager"
)

// TestTriggerRefusesWhileAJobIsActive checks what the command makes of
// trigger's refusal (the refusal itself is tested against envtest in
// controller/trigger): exit code 7, the Job named, the way out suggested.
func TestTriggerRefusesWhileAJobIsActive(t *testing.T) {
	pb := &v1alpha1.PostgresBackup{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders", UID: "b6a1e5d0-0000-4000-8000-000000000001"}}
	cj := builder.CronJob(pb, builder.Options{AgentImage: "pgbackup-agent:test"})
	cj.UID = "b6a1e5d0-0000-4000-8000-000000000002"
	active := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Namespace: "shop", Name: "orders-29000000",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
	}}
	c := fake.NewClientBuilder().WithScheme(manager.Scheme()).WithObjects(pb, cj, active).Build()

	var stdout, stderr bytes.Buffer
	err := runTrigger(context.Background(), c, &stdout, &stderr, "orders", triggerOptions{namespace: "shop", output: "text"})
	if code := result.ExitCode(err); code != result.ExitRefused {
		t.Fatalf("exit code %d (%v), want %d", code, err, result.ExitRefused)
	}
	for _, want := range []string{"orders-29000000", "still active", "--wait-for-active"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var jobs batchv1.JobList
	if err := c.List(context.Background(), &jobs); err != nil || len(jobs.Items) != 1 {
		t.Errorf("Jobs after the refusal: %d (%v), want only the active one", len(jobs.Items), err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q after a refusal", stdout.String())
	}
}
