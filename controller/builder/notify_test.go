package builder

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgbackup/pgbackup/backup-agent/notify"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/internal/envflag"
)

func staleBackup() *v1alpha1.PostgresBackup {
	pb := minimal()
	pb.Spec.MaxAge = &metav1.Duration{Duration: 26 * time.Hour}
	pb.Spec.Notify = &v1alpha1.NotifySpec{Webhook: &v1alpha1.WebhookSpec{
		URLSecretRef: v1alpha1.SecretKeyRef{Name: "hooks", Key: "url"},
		Events:       []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed, v1alpha1.NotifyStale},
	}}
	return pb
}

// The stale notification Job: once per stale spell (its name follows
// from the newest success), the URL as a secretKeyRef, the backup pod's
// security, none of the backup labels, and an environment the agent's
// notify command reads back exactly.
func TestStaleNotifyJob(t *testing.T) {
	pb := staleBackup()
	never := StaleNotifyJob(pb, Options{AgentImage: "img"}, "no backup yet")
	if again := StaleNotifyJob(pb, Options{AgentImage: "img"}, "another message"); again.Name != never.Name {
		t.Errorf("the same spell got two names: %s, %s", never.Name, again.Name)
	}
	pb.Status.LastSuccessfulBackup = &v1alpha1.SuccessfulBackup{ID: "20261201T030000Z", Time: metav1.NewTime(time.Date(2026, 12, 1, 3, 0, 5, 0, time.UTC))}
	job := StaleNotifyJob(pb, Options{AgentImage: "img"}, "no backup for 6d")
	if job.Name == never.Name || !strings.HasPrefix(job.Name, "orders-stale-") || len(job.Name) > MaxLabelValue {
		t.Errorf("names %s and %s: want a new one per spell, orders-stale-<hash>", never.Name, job.Name)
	}
	long := staleBackup()
	long.Name = strings.Repeat("n", 253)
	if n := StaleNotifyJob(long, Options{AgentImage: "img"}, "").Name; len(n) > MaxLabelValue {
		t.Errorf("name %q is longer than %d", n, MaxLabelValue)
	}
	if _, ok := job.Labels[LabelBackup]; ok || job.OwnerReferences[0].Kind != "PostgresBackup" {
		t.Errorf("labels %v, owners %+v: want no backup label, owned by the PostgresBackup", job.Labels, job.OwnerReferences)
	}
	spec := job.Spec.Template.Spec
	c := spec.Containers[0]
	if *spec.AutomountServiceAccountToken || !*spec.SecurityContext.RunAsNonRoot || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		strings.Join(c.Args, " ") != "notify --event stale" || c.Image != "img" {
		t.Errorf("pod %+v", spec)
	}

	for _, e := range os.Environ() {
		if name, _, _ := strings.Cut(e, "="); strings.HasPrefix(name, envflag.Prefix) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	var o notify.StaleOptions
	fs := pflag.NewFlagSet("notify", pflag.ContinueOnError)
	o.AddFlags(fs)
	for _, e := range c.Env {
		if fs.Lookup(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e.Name, envflag.Prefix), "_", "-"))) == nil {
			t.Errorf("%s is no flag of pgbackup notify", e.Name)
		}
		if e.Name == "PGBACKUP_NOTIFY_URL" {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "hooks" || e.ValueFrom.SecretKeyRef.Key != "url" {
				t.Errorf("PGBACKUP_NOTIFY_URL = %+v, want a secretKeyRef to hooks/url", e)
			}
			t.Setenv(e.Name, "https://hooks.example.com/x") // what the kubelet resolves
			continue
		}
		t.Setenv(e.Name, e.Value)
	}
	if err := envflag.Apply(fs); err != nil {
		t.Fatal(err)
	}
	cfg, st, err := o.Staleness()
	if err != nil {
		t.Fatalf("the notify command refuses the Job's environment: %v", err)
	}
	if cfg.Source != "db/orders" || o.Destination != "s3://backups/prod/orders" || st.LastBackupID != "20261201T030000Z" ||
		st.LastSuccess == nil || !st.LastSuccess.Equal(pb.Status.LastSuccessfulBackup.Time.Time) || st.MaxAge != "26h0m0s" ||
		st.Message != "no backup for 6d" || strings.Join(o.Events, ",") != "failed,stale" {
		t.Errorf("read back: config %+v, options %+v, staleness %+v", cfg, o, st)
	}
}
