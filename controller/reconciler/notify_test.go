package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// notifyJobs lists the stale notification Jobs of a namespace.
func notifyJobs(t *testing.T, ns string) []batchv1.Job {
	t.Helper()
	var jobs batchv1.JobList
	if err := k8s.List(context.Background(), &jobs, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/component": "notify"}); err != nil {
		t.Fatal(err)
	}
	return jobs.Items
}

// When backups turn stale and the webhook asks for stale, the controller
// starts one notification Job for the spell, however often it reconciles;
// a webhook that does not ask gets none; stale without maxAge is refused.
func TestStaleNotification(t *testing.T) {
	ns := newNamespace(t)
	webhook := func(events ...v1alpha1.NotifyEvent) *v1alpha1.NotifySpec {
		return &v1alpha1.NotifySpec{Webhook: &v1alpha1.WebhookSpec{URLSecretRef: v1alpha1.SecretKeyRef{Name: "hooks", Key: "url"}, Events: events}}
	}
	pb := newBackup(ns, "no-max-age")
	pb.Spec.Notify = webhook(v1alpha1.NotifyStale)
	if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "stale needs maxAge") {
		t.Errorf("stale without maxAge: %v", err)
	}

	quiet := newBackup(ns, "quiet")
	quiet.Spec.MaxAge = &metav1.Duration{Duration: 2 * time.Second}
	quiet.Spec.Notify = webhook(v1alpha1.NotifyFailed)
	create(t, quiet)
	pb = newBackup(ns, "orders")
	pb.Spec.MaxAge = &metav1.Duration{Duration: 2 * time.Second}
	pb.Spec.Notify = webhook(v1alpha1.NotifyFailed, v1alpha1.NotifyStale)
	create(t, pb)

	var job batchv1.Job
	eventually(t, "a stale notification Job", func() error {
		jobs := notifyJobs(t, ns)
		if len(jobs) != 1 {
			return fmt.Errorf("%d notification Jobs", len(jobs))
		}
		job = jobs[0]
		return nil
	})
	if !strings.HasPrefix(job.Name, "orders-stale-") || job.OwnerReferences[0].Name != "orders" {
		t.Errorf("Job %s owned by %+v", job.Name, job.OwnerReferences)
	}
	env := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if env["PGBACKUP_NOTIFY_URL"] != "secret:hooks/url" || env["PGBACKUP_NOTIFY_SOURCE"] != ns+"/orders" || env["PGBACKUP_MAX_AGE"] != "2s" ||
		env["PGBACKUP_LAST_SUCCESS"] != "" || !strings.Contains(env["PGBACKUP_MESSAGE"], "No successful backup within maxAge 2s: the resource was created at") {
		t.Errorf("Job env %v", env)
	}
	eventually(t, "StaleNotified event", func() error {
		if n := len(events(t, ns, "orders", v1alpha1.EventStaleNotified)); n != 1 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})
	// More reconciles of the same spell start nothing more.
	update(t, ns, "orders", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "0 4 * * *" })
	update(t, ns, "quiet", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "0 4 * * *" })
	time.Sleep(3 * time.Second)
	if jobs := notifyJobs(t, ns); len(jobs) != 1 {
		t.Errorf("%d notification Jobs after more reconciles, want 1 (and none for a webhook without stale)", len(jobs))
	}
}
