package builder

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
)

// Where the certificates are mounted in the agent's container.
const (
	PostgresCADir         = "/etc/pgbackup/postgres-ca"
	PostgresClientCertDir = "/etc/pgbackup/postgres-client"
	S3CADir               = "/etc/pgbackup/s3-ca"
	caFile                = "ca.crt"
)

// mountedFiles are volumes, their mounts in the agent container and the
// variables that point the agent at the files.
type mountedFiles struct {
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount
	env     []corev1.EnvVar
}

func (m *mountedFiles) add(o mountedFiles) {
	m.volumes = append(m.volumes, o.volumes...)
	m.mounts = append(m.mounts, o.mounts...)
	m.env = append(m.env, o.env...)
}

// certificate mounts the PEM file ref names as dir/ca.crt and sets variable
// to its path. The kubelet reads the Secret or ConfigMap, never the
// controller. The volumes are optional: a missing Secret, ConfigMap or key
// would otherwise hold the pod in ContainerCreating until the Job's
// deadline, with the reason only in an event; optional, the pod starts
// without the file and the agent fails at once, naming the variable, the
// path and what to check (pgclient.CheckTLSFiles).
func certificate(volume, dir, variable string, ref *v1alpha1.CertificateRef) mountedFiles {
	if ref == nil {
		return mountedFiles{}
	}
	var src corev1.VolumeSource
	switch {
	case ref.SecretKeyRef != nil:
		src.Secret = &corev1.SecretVolumeSource{SecretName: ref.SecretKeyRef.Name,
			Items: []corev1.KeyToPath{{Key: ref.SecretKeyRef.Key, Path: caFile}}, DefaultMode: ptr.To[int32](0o444), Optional: ptr.To(true)}
	case ref.ConfigMapKeyRef != nil:
		src.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: ref.ConfigMapKeyRef.Name},
			Items: []corev1.KeyToPath{{Key: ref.ConfigMapKeyRef.Key, Path: caFile}}, DefaultMode: ptr.To[int32](0o444), Optional: ptr.To(true)}
	default:
		return mountedFiles{}
	}
	return mountedFiles{
		volumes: []corev1.Volume{{Name: volume, VolumeSource: src}},
		mounts:  []corev1.VolumeMount{{Name: volume, MountPath: dir, ReadOnly: true}},
		env:     []corev1.EnvVar{{Name: variable, Value: dir + "/" + caFile}},
	}
}

// postgresTLS is what verified TLS to PostgreSQL needs in the backup pod:
// the CA (given, or a CloudNativePG cluster's) as PGSSLROOTCERT, and the client certificate and key as PGSSLCERT
// and PGSSLKEY. The key is mode 0440: root owns a Secret volume's files
// and fsGroup makes them the agent's group, which libpq accepts (the
// agent also copies a key libpq would refuse to a private file).
func postgresTLS(pb *v1alpha1.PostgresBackup, cluster ClusterFacts) mountedFiles {
	pg := &pb.Spec.Postgres
	m := certificate("postgres-ca", PostgresCADir, "PGSSLROOTCERT", resolveConnection(pb, cluster).rootCert)
	if ref := pg.SSLClientCertSecretRef; ref != nil {
		m.add(mountedFiles{
			volumes: []corev1.Volume{{Name: "postgres-client-cert", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: ref.Name,
				Items: []corev1.KeyToPath{
					{Key: corev1.TLSCertKey, Path: corev1.TLSCertKey, Mode: ptr.To[int32](0o444)},
					{Key: corev1.TLSPrivateKeyKey, Path: corev1.TLSPrivateKeyKey, Mode: ptr.To[int32](0o440)},
				},
				DefaultMode: ptr.To[int32](0o440),
				Optional:    ptr.To(true),
			}}}},
			mounts: []corev1.VolumeMount{{Name: "postgres-client-cert", MountPath: PostgresClientCertDir, ReadOnly: true}},
			env: []corev1.EnvVar{
				{Name: "PGSSLCERT", Value: PostgresClientCertDir + "/" + corev1.TLSCertKey},
				{Name: "PGSSLKEY", Value: PostgresClientCertDir + "/" + corev1.TLSPrivateKeyKey},
			},
		})
	}
	return m
}

// s3TLS is the endpoint's CA bundle as AWS_CA_BUNDLE, for the backup and
// the verify pods.
func s3TLS(pb *v1alpha1.PostgresBackup) mountedFiles {
	return certificate("s3-ca", S3CADir, "AWS_CA_BUNDLE", pb.Spec.Destination.S3.CABundleRef)
}
