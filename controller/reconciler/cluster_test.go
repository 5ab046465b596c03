package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// createCluster makes an operator's cluster resource from YAML-like maps.
func createCluster(t *testing.T, ns, apiVersion, kind, name string, spec map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
}

func byRef(ns, name string, ref v1alpha1.ClusterRef, target v1alpha1.ClusterTarget) *v1alpha1.PostgresBackup {
	pb := newBackup(ns, name)
	pb.Spec.Postgres = v1alpha1.PostgresSpec{ClusterRef: &ref, Target: target}
	return pb
}

// agentVars is the backup CronJob's agent environment: plain values, and
// "secret:NAME/KEY" for Secret references.
func agentVars(cj *batchv1.CronJob) map[string]string {
	out := map[string]string{}
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			out[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return out
}

func waitReady(t *testing.T, ns, name string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	eventually(t, fmt.Sprintf("%s Ready %s/%s", name, status, reason), func() error {
		c = meta.FindStatusCondition(getBackup(t, ns, name).Status.Conditions, v1alpha1.ConditionReady)
		if c == nil || c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("Ready is %+v", c)
		}
		return nil
	})
	return c
}

// A clusterRef to CloudNativePG and Zalando clusters (their CRDs installed
// from test/crds) becomes a CronJob that reaches the cluster by each
// operator's conventions, with credentials as Secret references only;
// a reference the cluster cannot serve says why in Ready.
func TestClusterRef(t *testing.T) {
	ns := newNamespace(t)
	createCluster(t, ns, "postgresql.cnpg.io/v1", "Cluster", "orders-db", map[string]any{
		"instances": int64(3), "enableSuperuserAccess": true,
		"certificates": map[string]any{"serverCASecret": "orders-db-server-ca"},
	})
	createCluster(t, ns, "postgresql.cnpg.io/v1", "Cluster", "plain-db", map[string]any{"instances": int64(1)})
	createCluster(t, ns, "acid.zalan.do/v1", "postgresql", "acid-orders", map[string]any{
		"teamId": "acid", "numberOfInstances": int64(2), "users": map[string]any{"backup_user": []any{}},
		"postgresql": map[string]any{"version": "17"}, "volume": map[string]any{"size": "1Gi"},
	})

	for _, tc := range []struct {
		name   string
		pb     *v1alpha1.PostgresBackup
		want   map[string]string
		wantCA string
	}{
		{
			name: "cnpg-superuser-prefer-standby",
			pb:   byRef(ns, "cnpg-superuser-prefer-standby", v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: "orders-db", Credentials: "superuser"}, v1alpha1.TargetPreferStandby),
			want: map[string]string{"PGHOST": "orders-db-ro,orders-db-rw", "PGTARGETSESSIONATTRS": "prefer-standby", "PGPORT": "5432",
				"PGUSER": "secret:orders-db-superuser/username", "PGPASSWORD": "secret:orders-db-superuser/password", "PGSSLMODE": "verify-full",
				"PGSSLROOTCERT": "/etc/pgbackup/postgres-ca/ca.crt"},
			wantCA: "orders-db-server-ca",
		},
		{
			name:   "cnpg-app-primary",
			pb:     byRef(ns, "cnpg-app-primary", v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: "plain-db"}, ""),
			want:   map[string]string{"PGHOST": "plain-db-rw", "PGTARGETSESSIONATTRS": "primary", "PGUSER": "secret:plain-db-app/username", "PGSSLMODE": "verify-full"},
			wantCA: "plain-db-ca",
		},
		{
			name: "zalando-user-standby",
			pb:   byRef(ns, "zalando-user-standby", v1alpha1.ClusterRef{Kind: v1alpha1.ClusterZalando, Name: "acid-orders", User: "backup_user"}, v1alpha1.TargetStandby),
			want: map[string]string{"PGHOST": "acid-orders-repl", "PGTARGETSESSIONATTRS": "standby", "PGSSLMODE": "require",
				"PGUSER":     "secret:backup-user.acid-orders.credentials.postgresql.acid.zalan.do/username",
				"PGPASSWORD": "secret:backup-user.acid-orders.credentials.postgresql.acid.zalan.do/password"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create(t, tc.pb)
			waitReady(t, ns, tc.name, metav1.ConditionTrue, v1alpha1.ReasonReconciled)
			cj, err := getCronJob(ns, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			vars := agentVars(cj)
			for k, want := range tc.want {
				if vars[k] != want {
					t.Errorf("%s = %q, want %q", k, vars[k], want)
				}
			}
			var ca *corev1.Volume
			for i, v := range cj.Spec.JobTemplate.Spec.Template.Spec.Volumes {
				if v.Name == "postgres-ca" {
					ca = &cj.Spec.JobTemplate.Spec.Template.Spec.Volumes[i]
				}
			}
			if (tc.wantCA == "") != (ca == nil) || (ca != nil && ca.Secret.SecretName != tc.wantCA) {
				t.Errorf("CA volume %+v, want Secret %q", ca, tc.wantCA)
			}
		})
	}

	for _, tc := range []struct{ name, reason, message string }{
		{"missing-cluster", v1alpha1.ReasonClusterNotFound, "CloudNativePG Cluster " + ns + "/nope does not exist"},
		{"superuser-not-enabled", v1alpha1.ReasonClusterMisfit, "does not set enableSuperuserAccess"},
		{"zalando-unknown-user", v1alpha1.ReasonClusterMisfit, `has no user "nobody"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := map[string]v1alpha1.ClusterRef{
				"missing-cluster":       {Kind: v1alpha1.ClusterCNPG, Name: "nope"},
				"superuser-not-enabled": {Kind: v1alpha1.ClusterCNPG, Name: "plain-db", Credentials: "superuser"},
				"zalando-unknown-user":  {Kind: v1alpha1.ClusterZalando, Name: "acid-orders", User: "nobody"},
			}[tc.name]
			create(t, byRef(ns, tc.name, ref, ""))
			c := waitReady(t, ns, tc.name, metav1.ConditionFalse, tc.reason)
			if !strings.Contains(c.Message, tc.message) {
				t.Errorf("Ready message %q lacks %q", c.Message, tc.message)
			}
			// The CronJob is there anyway, by convention: the cluster may
			// come, or be fixed, later.
			if _, err := getCronJob(ns, tc.name); err != nil {
				t.Errorf("no CronJob: %v", err)
			}
		})
	}

	t.Run("the cluster appears", func(t *testing.T) {
		createCluster(t, ns, "postgresql.cnpg.io/v1", "Cluster", "nope", map[string]any{"instances": int64(1)})
		update(t, ns, "missing-cluster", func(pb *v1alpha1.PostgresBackup) { pb.Spec.Schedule = "0 4 * * *" })
		waitReady(t, ns, "missing-cluster", metav1.ConditionTrue, v1alpha1.ReasonReconciled)
	})

	for _, tc := range []struct {
		name, want string
		edit       func(*v1alpha1.PostgresSpec)
	}{
		{"host-and-ref", "set exactly one of host and clusterRef", func(p *v1alpha1.PostgresSpec) { p.Host = "pg" }},
		{"ref-and-user", "leave user and passwordSecretRef unset", func(p *v1alpha1.PostgresSpec) { p.User = "backup" }},
		{"credentials-for-zalando", "credentials is for kind Cluster", func(p *v1alpha1.PostgresSpec) {
			p.ClusterRef = &v1alpha1.ClusterRef{Kind: v1alpha1.ClusterZalando, Name: "a", Credentials: "app"}
		}},
		{"user-for-cnpg", "user is for kind postgresql", func(p *v1alpha1.PostgresSpec) {
			p.ClusterRef = &v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: "a", User: "x"}
		}},
		{"target-without-ref", "target needs clusterRef", func(p *v1alpha1.PostgresSpec) {
			p.ClusterRef, p.Host, p.User, p.Target = nil, "pg", "backup", v1alpha1.TargetStandby
		}},
		{"neither", "set exactly one of host and clusterRef", func(p *v1alpha1.PostgresSpec) { p.ClusterRef, p.User = nil, "backup" }},
		{"unknown-kind", "Unsupported value", func(p *v1alpha1.PostgresSpec) {
			p.ClusterRef = &v1alpha1.ClusterRef{Kind: "PerconaPGCluster", Name: "a"}
		}},
	} {
		pb := byRef(ns, tc.name, v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: "orders-db"}, "")
		tc.edit(&pb.Spec.Postgres)
		if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want Invalid with %q", tc.name, err, tc.want)
		}
	}
}
