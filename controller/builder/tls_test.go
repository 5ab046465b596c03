package builder

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// volumeByName and mountByName find what the pod template holds.
func volumeByName(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

func mountByName(c corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func TestTLSFilesMounted(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*v1alpha1.PostgresBackup)
		// want: variable -> path; volumes that must exist or not.
		want        map[string]string
		wantVolumes []string
		noVolumes   []string
	}{
		{
			name:      "nothing set: no certificate volume, no variable",
			edit:      func(*v1alpha1.PostgresBackup) {},
			noVolumes: []string{"postgres-ca", "postgres-client-cert", "s3-ca"},
		},
		{
			name: "CA from a Secret, client certificate, S3 CA from a ConfigMap",
			edit: func(pb *v1alpha1.PostgresBackup) {
				pb.Spec.Postgres.SSLMode = "verify-full"
				pb.Spec.Postgres.SSLRootCertRef = &v1alpha1.CertificateRef{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "orders-ca", Key: "ca.crt"}}
				pb.Spec.Postgres.SSLClientCertSecretRef = &v1alpha1.SecretRef{Name: "orders-backup-tls"}
				pb.Spec.Destination.S3.CABundleRef = &v1alpha1.CertificateRef{ConfigMapKeyRef: &v1alpha1.ConfigMapKeyRef{Name: "minio-ca", Key: "bundle.pem"}}
			},
			want: map[string]string{
				"PGSSLROOTCERT": "/etc/pgbackup/postgres-ca/ca.crt",
				"PGSSLCERT":     "/etc/pgbackup/postgres-client/tls.crt",
				"PGSSLKEY":      "/etc/pgbackup/postgres-client/tls.key",
				"AWS_CA_BUNDLE": "/etc/pgbackup/s3-ca/ca.crt",
			},
			wantVolumes: []string{"postgres-ca", "postgres-client-cert", "s3-ca"},
		},
		{
			name: "CA from a ConfigMap only",
			edit: func(pb *v1alpha1.PostgresBackup) {
				pb.Spec.Postgres.SSLMode = "verify-ca"
				pb.Spec.Postgres.SSLRootCertRef = &v1alpha1.CertificateRef{ConfigMapKeyRef: &v1alpha1.ConfigMapKeyRef{Name: "kube-root-ca.crt", Key: "ca.crt"}}
			},
			want:        map[string]string{"PGSSLROOTCERT": "/etc/pgbackup/postgres-ca/ca.crt"},
			wantVolumes: []string{"postgres-ca"},
			noVolumes:   []string{"postgres-client-cert", "s3-ca"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pb := minimal()
			tc.edit(pb)
			spec := CronJob(pb, Options{AgentImage: "img"}).Spec.JobTemplate.Spec.Template.Spec
			c := spec.Containers[0]
			vars := env(c)
			for name, path := range tc.want {
				if got := vars[name]; got.Value != path || got.ValueFrom != nil {
					t.Errorf("%s = %+v, want %s", name, got, path)
				}
			}
			for _, name := range []string{"PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "AWS_CA_BUNDLE"} {
				if _, ok := tc.want[name]; !ok {
					if _, set := vars[name]; set {
						t.Errorf("%s is set without its reference", name)
					}
				}
			}
			for _, name := range tc.wantVolumes {
				v, m := volumeByName(spec, name), mountByName(c, name)
				if v == nil || m == nil || !m.ReadOnly {
					t.Fatalf("volume %s = %+v, mount %+v: want both, read-only", name, v, m)
				}
			}
			for _, v := range spec.Volumes {
				// Optional: a missing Secret or key must not hold the pod in
				// ContainerCreating; the agent names what is missing.
				if (v.Secret != nil && (v.Name == "postgres-ca" || v.Name == "postgres-client-cert" || v.Name == "s3-ca") && !ptr.Deref(v.Secret.Optional, false)) ||
					(v.ConfigMap != nil && !ptr.Deref(v.ConfigMap.Optional, false)) {
					t.Errorf("volume %s is not optional", v.Name)
				}
			}
			for _, name := range tc.noVolumes {
				if volumeByName(spec, name) != nil {
					t.Errorf("volume %s exists without its reference", name)
				}
			}
			if v := volumeByName(spec, "postgres-client-cert"); v != nil {
				// libpq takes a root-owned key only with mode 0640 or less;
				// fsGroup gives the agent's group read access.
				for _, item := range v.Secret.Items {
					if item.Key == corev1.TLSPrivateKeyKey && (item.Mode == nil || *item.Mode&0o037 != 0) {
						t.Errorf("the key's mode is %v, want 0640 or less", item.Mode)
					}
				}
				if spec.SecurityContext.FSGroup == nil {
					t.Error("no fsGroup: the agent could not read the 0440 key")
				}
			}
			if v := volumeByName(spec, "postgres-ca"); v != nil && v.Secret != nil && (v.Secret.SecretName != "orders-ca" || v.Secret.Items[0].Key != "ca.crt" || v.Secret.Items[0].Path != "ca.crt") {
				t.Errorf("postgres-ca volume %+v", v.Secret)
			}
			if v := volumeByName(spec, "s3-ca"); v != nil && (v.ConfigMap == nil || v.ConfigMap.Name != "minio-ca" || v.ConfigMap.Items[0].Key != "bundle.pem") {
				t.Errorf("s3-ca volume %+v", v)
			}

			// The verify pod reads S3 too: same CA bundle, and nothing of
			// the source server's certificates.
			pb.Spec.Verify = &v1alpha1.VerifySpec{Schedule: "0 6 * * 0"}
			vspec := VerifyCronJob(pb, Options{AgentImage: "img"}).Spec.JobTemplate.Spec.Template.Spec
			var agent corev1.Container
			for _, ct := range vspec.Containers {
				if ct.Name == VerifyContainerName {
					agent = ct
				}
			}
			vvars := env(agent)
			if want, ok := tc.want["AWS_CA_BUNDLE"]; ok != (vvars["AWS_CA_BUNDLE"].Value == want && mountByName(agent, "s3-ca") != nil) {
				t.Errorf("verify pod: AWS_CA_BUNDLE %+v, s3-ca mount %+v", vvars["AWS_CA_BUNDLE"], mountByName(agent, "s3-ca"))
			}
			for _, name := range []string{"PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"} {
				if _, set := vvars[name]; set {
					t.Errorf("verify pod has %s: it never connects to the source server", name)
				}
			}
		})
	}
}
