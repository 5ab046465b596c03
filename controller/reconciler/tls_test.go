package reconciler_test

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Verified TLS settings are checked by the API server, and reach the
// CronJob as mounted files the controller never reads.
func TestTLSSettingsValidatedAndMounted(t *testing.T) {
	ns := newNamespace(t)
	secretCA := &v1alpha1.CertificateRef{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "orders-ca", Key: "ca.crt"}}
	for _, tc := range []struct {
		name, want string
		edit       func(*v1alpha1.PostgresBackup)
	}{
		{"ca-without-mode", "sslRootCertRef needs sslMode verify-ca or verify-full", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Postgres.SSLRootCertRef = secretCA
		}},
		{"ca-with-require", "sslRootCertRef needs sslMode verify-ca or verify-full", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Postgres.SSLMode, pb.Spec.Postgres.SSLRootCertRef = "require", secretCA
		}},
		{"ca-from-both", "set exactly one of secretKeyRef and configMapKeyRef", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Postgres.SSLMode = "verify-full"
			pb.Spec.Postgres.SSLRootCertRef = &v1alpha1.CertificateRef{SecretKeyRef: secretCA.SecretKeyRef, ConfigMapKeyRef: &v1alpha1.ConfigMapKeyRef{Name: "a", Key: "b"}}
		}},
		{"s3-ca-from-neither", "set exactly one of secretKeyRef and configMapKeyRef", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Destination.S3.CABundleRef = &v1alpha1.CertificateRef{}
		}},
		{"client-cert-without-tls", "sslClientCertSecretRef needs TLS", func(pb *v1alpha1.PostgresBackup) {
			pb.Spec.Postgres.SSLMode, pb.Spec.Postgres.SSLClientCertSecretRef = "disable", &v1alpha1.SecretRef{Name: "tls"}
		}},
	} {
		pb := newBackup(ns, tc.name)
		tc.edit(pb)
		if err := k8s.Create(context.Background(), pb); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want Invalid with %q", tc.name, err, tc.want)
		}
	}

	pb := newBackup(ns, "verified")
	pb.Spec.Postgres.SSLMode = "verify-full"
	pb.Spec.Postgres.SSLRootCertRef = secretCA
	pb.Spec.Postgres.SSLClientCertSecretRef = &v1alpha1.SecretRef{Name: "orders-backup-tls"}
	pb.Spec.Destination.S3.CABundleRef = &v1alpha1.CertificateRef{ConfigMapKeyRef: &v1alpha1.ConfigMapKeyRef{Name: "minio-ca", Key: "ca.crt"}}
	create(t, pb) // none of the Secrets or ConfigMaps exist: the controller never looks
	var cj *batchv1.CronJob
	eventually(t, "CronJob created", func() (err error) {
		cj, err = getCronJob(ns, "verified")
		return err
	})
	spec := cj.Spec.JobTemplate.Spec.Template.Spec
	got := map[string]string{}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			got[v.Name] = "secret/" + v.Secret.SecretName
		case v.ConfigMap != nil:
			got[v.Name] = "configmap/" + v.ConfigMap.Name
		}
	}
	for name, want := range map[string]string{"postgres-ca": "secret/orders-ca", "postgres-client-cert": "secret/orders-backup-tls", "s3-ca": "configmap/minio-ca"} {
		if got[name] != want {
			t.Errorf("volume %s = %q, want %q (volumes %v)", name, got[name], want, got)
		}
	}
}
