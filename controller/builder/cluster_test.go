package builder

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

func TestClusterRefConnection(t *testing.T) {
	cnpg := &v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: "orders-db"}
	zalando := &v1alpha1.ClusterRef{Kind: v1alpha1.ClusterZalando, Name: "acid-orders"}
	for _, tc := range []struct {
		name  string
		edit  func(*v1alpha1.PostgresSpec)
		facts ClusterFacts
		// want are the agent's variables: plain values, or "secret:NAME/KEY".
		want map[string]string
		// wantCA is the Secret mounted as PGSSLROOTCERT ("" for none).
		wantCA string
	}{
		{
			name: "host and user as given",
			edit: func(p *v1alpha1.PostgresSpec) {
				p.Host, p.User, p.SSLMode = "pg.db.svc", "backup", "require"
				p.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "pg", Key: "password"}
			},
			want: map[string]string{"PGHOST": "pg.db.svc", "PGUSER": "backup", "PGPASSWORD": "secret:pg/password", "PGSSLMODE": "require", "PGTARGETSESSIONATTRS": ""},
		},
		{
			name:   "CloudNativePG primary: -rw, the app Secret, verify-full with the cluster's CA",
			edit:   func(p *v1alpha1.PostgresSpec) { p.ClusterRef = cnpg },
			want:   map[string]string{"PGHOST": "orders-db-rw", "PGUSER": "secret:orders-db-app/username", "PGPASSWORD": "secret:orders-db-app/password", "PGSSLMODE": "verify-full", "PGTARGETSESSIONATTRS": "primary"},
			wantCA: "orders-db-ca",
		},
		{
			name: "CloudNativePG superuser from a standby, with a CA Secret of the user's",
			edit: func(p *v1alpha1.PostgresSpec) {
				ref := *cnpg
				ref.Credentials = "superuser"
				p.ClusterRef, p.Target = &ref, v1alpha1.TargetStandby
			},
			facts:  ClusterFacts{CASecret: "my-server-ca"},
			want:   map[string]string{"PGHOST": "orders-db-ro", "PGUSER": "secret:orders-db-superuser/username", "PGPASSWORD": "secret:orders-db-superuser/password", "PGSSLMODE": "verify-full", "PGTARGETSESSIONATTRS": "standby"},
			wantCA: "my-server-ca",
		},
		{
			name:   "CloudNativePG prefer-standby: replicas first, then the primary",
			edit:   func(p *v1alpha1.PostgresSpec) { p.ClusterRef, p.Target = cnpg, v1alpha1.TargetPreferStandby },
			want:   map[string]string{"PGHOST": "orders-db-ro,orders-db-rw", "PGTARGETSESSIONATTRS": "prefer-standby"},
			wantCA: "orders-db-ca",
		},
		{
			name: "CloudNativePG with an explicit sslMode require: no CA is forced on it",
			edit: func(p *v1alpha1.PostgresSpec) { p.ClusterRef, p.SSLMode = cnpg, "require" },
			want: map[string]string{"PGSSLMODE": "require"},
		},
		{
			name: "CloudNativePG with an explicit CA: it wins",
			edit: func(p *v1alpha1.PostgresSpec) {
				p.ClusterRef, p.SSLMode = cnpg, "verify-ca"
				p.SSLRootCertRef = &v1alpha1.CertificateRef{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "corp-ca", Key: "ca.crt"}}
			},
			want:   map[string]string{"PGSSLMODE": "verify-ca"},
			wantCA: "corp-ca",
		},
		{
			name: "Zalando primary: the cluster's service, postgres's Secret, require",
			edit: func(p *v1alpha1.PostgresSpec) { p.ClusterRef = zalando },
			want: map[string]string{"PGHOST": "acid-orders", "PGUSER": "secret:postgres.acid-orders.credentials.postgresql.acid.zalan.do/username",
				"PGPASSWORD": "secret:postgres.acid-orders.credentials.postgresql.acid.zalan.do/password", "PGSSLMODE": "require", "PGTARGETSESSIONATTRS": "primary"},
		},
		{
			name: "Zalando user with an underscore, prefer-standby",
			edit: func(p *v1alpha1.PostgresSpec) {
				ref := *zalando
				ref.User = "backup_user"
				p.ClusterRef, p.Target = &ref, v1alpha1.TargetPreferStandby
			},
			want: map[string]string{"PGHOST": "acid-orders-repl,acid-orders", "PGTARGETSESSIONATTRS": "prefer-standby",
				"PGUSER": "secret:backup-user.acid-orders.credentials.postgresql.acid.zalan.do/username"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pb := minimal()
			pb.Spec.Postgres = v1alpha1.PostgresSpec{Port: 5432}
			tc.edit(&pb.Spec.Postgres)
			spec := CronJob(pb, Options{AgentImage: "img", Cluster: tc.facts}).Spec.JobTemplate.Spec.Template.Spec
			vars := env(spec.Containers[0])
			for name, want := range tc.want {
				got := vars[name]
				value := got.Value
				if ref := got.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
					value = "secret:" + ref.SecretKeyRef.Name + "/" + ref.SecretKeyRef.Key
				}
				if value != want {
					t.Errorf("%s = %q, want %q", name, value, want)
				}
			}
			if vars["PGPORT"].Value != "5432" {
				t.Errorf("PGPORT = %+v", vars["PGPORT"])
			}
			v := volumeByName(spec, "postgres-ca")
			switch {
			case tc.wantCA == "" && v != nil:
				t.Errorf("a CA is mounted: %+v", v)
			case tc.wantCA != "" && (v == nil || v.Secret == nil || v.Secret.SecretName != tc.wantCA || vars["PGSSLROOTCERT"].Value != PostgresCADir+"/ca.crt"):
				t.Errorf("postgres-ca volume %+v, PGSSLROOTCERT %+v: want Secret %s", v, vars["PGSSLROOTCERT"], tc.wantCA)
			}
			if v != nil && v.Secret != nil && v.Secret.Items[0].Key != corev1.ServiceAccountRootCAKey {
				t.Errorf("the CA key is %q, want ca.crt", v.Secret.Items[0].Key)
			}
		})
	}
}
