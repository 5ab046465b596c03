//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/test/fixtures"
)

// cnpgCluster is the CloudNativePG-shaped cluster of testClusterRef.
const cnpgCluster = "shop-db"

// testClusterRef backs up a cluster by reference, as CloudNativePG lays
// one out (its operator cannot be installed without a registry, so the
// test plays its part): a Cluster resource (the CRD from test/crds), the
// service shop-db-rw, the CA in the Secret shop-db-ca and the credentials
// in shop-db-app. The server takes TLS only with a certificate from the
// test's own CA and lets the user in only with a client certificate. The
// run succeeds only if the pod got all of it right: the host from the
// reference, verify-full against the mounted CA, the user from the
// Secret, and a client key mounted with a mode libpq accepts (the agent
// logs when it had to copy one; here it must not).
func testClusterRef(t *testing.T) {
	ctx := t.Context()
	const name = "cluster-ref"
	step(t, "install the CloudNativePG CRD (reduced, test/crds)", func() error {
		_, err := env.kubectlRun(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "test", "crds", "postgresql.cnpg.io_clusters.yaml"))
		if err != nil {
			return err
		}
		_, err = env.kubectlRun(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd/clusters.postgresql.cnpg.io")
		return err
	})
	step(t, "start a CloudNativePG-shaped cluster with TLS and certificate logins", func() error {
		if err := env.apply(ctx, testNamespace, cnpgShapedCluster(t)); err != nil {
			return err
		}
		_, err := env.kubectlRun(ctx, "rollout", "status", "-n", testNamespace, "deployment/"+cnpgCluster, "--timeout=240s")
		return err
	})

	pb := newBackup(name, "unused")
	pb.Spec.Schedule = "0 0 1 1 *" // runs only when triggered
	pb.Spec.Postgres = v1alpha1.PostgresSpec{
		ClusterRef:             &v1alpha1.ClusterRef{Kind: v1alpha1.ClusterCNPG, Name: cnpgCluster},
		SSLClientCertSecretRef: &v1alpha1.SecretRef{Name: cnpgCluster + "-client-tls"},
		Databases:              []string{"app"},
	}
	step(t, "create PostgresBackup by clusterRef", func() error { return createBackup(ctx, pb) })
	step(t, "Ready=True: the controller found the Cluster", func() error {
		_, err := waitCondition(ctx, name, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, time.Minute)
		return err
	})
	var id string
	step(t, "trigger --wait succeeds over verify-full with a client certificate", func() error {
		var err error
		id, err = triggerWait(ctx, t, name)
		return err
	})
	step(t, "the manifest lists the database; the key was used as mounted", func() error {
		ms, err := listBackups(ctx, name)
		if err != nil {
			return err
		}
		m := findManifest(ms, id)
		if m == nil {
			return fmt.Errorf("no manifest %s", id)
		}
		if _, ok := m.Database("app"); !ok {
			return fmt.Errorf("manifest %s lacks app: %+v", id, m.Databases)
		}
		logs, err := env.kubectlRun(ctx, "logs", "-n", testNamespace, "-l", builder.LabelBackup+"="+name, "-c", builder.ContainerName, "--tail=-1")
		if err != nil {
			return err
		}
		if strings.Contains(logs, "Client key copied") {
			return fmt.Errorf("the pod's key mount had a mode libpq refuses (the agent copied it):\n%s", tail(logs, 2000))
		}
		return nil
	})
	step(t, "delete PostgresBackup", func() error {
		_, err := env.kubectlRun(ctx, "delete", "pgb", "-n", testNamespace, name, "--wait=true", "--timeout=60s")
		return err
	})
}

// cnpgShapedCluster is the manifest of testClusterRef's cluster.
func cnpgShapedCluster(t *testing.T) []byte {
	ca := fixtures.NewCA(t)
	svc := cnpgCluster + "-rw"
	server := ca.Server(t, svc, svc+"."+testNamespace, svc+"."+testNamespace+".svc", svc+"."+testNamespace+".svc.cluster.local")
	client := ca.Client(t, "app")
	labels := map[string]string{"app": cnpgCluster}
	secret := func(name string, typ corev1.SecretType, data map[string]string) any {
		return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: metav1.ObjectMeta{Name: name},
			Type: typ, StringData: data}
	}
	hba := "local all all trust\n" +
		"hostssl all app 0.0.0.0/0 cert\n" +
		"host all all 0.0.0.0/0 scram-sha-256\n"
	items := []any{
		map[string]any{"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": map[string]any{"name": cnpgCluster},
			"spec": map[string]any{"instances": 1}},
		secret(cnpgCluster+"-ca", corev1.SecretTypeOpaque, map[string]string{"ca.crt": string(ca.PEM)}),
		secret(cnpgCluster+"-server-tls", corev1.SecretTypeTLS, map[string]string{"tls.crt": string(server.Cert), "tls.key": string(server.Key)}),
		secret(cnpgCluster+"-client-tls", corev1.SecretTypeTLS, map[string]string{"tls.crt": string(client.Cert), "tls.key": string(client.Key)}),
		secret(cnpgCluster+"-app", corev1.SecretTypeBasicAuth, map[string]string{"username": "app", "password": "not-used-with-a-certificate"}),
		secret(cnpgCluster+"-superuser", corev1.SecretTypeOpaque, map[string]string{"password": "e2e-superuser-" + fmt.Sprint(time.Now().UnixNano())}),
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: cnpgCluster + "-config"},
			Data: map[string]string{
				"pg_hba.conf": hba,
				"01-app.sql":  "CREATE ROLE app LOGIN; GRANT pg_read_all_data TO app; CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g;",
			}},
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: svc},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "postgres", Port: 5432, TargetPort: intstr.FromString("postgres")}}}},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: cnpgCluster},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](999), RunAsGroup: ptr.To[int64](999), FSGroup: ptr.To[int64](999)},
					Containers: []corev1.Container{{
						Name: "postgres", Image: "pgbackup-test/postgres:18", ImagePullPolicy: corev1.PullIfNotPresent,
						// The server key: root's, mode 0640 through fsGroup,
						// as PostgreSQL accepts it.
						Args: []string{"-c", "ssl=on", "-c", "ssl_cert_file=/tls/tls.crt", "-c", "ssl_key_file=/tls/tls.key",
							"-c", "ssl_ca_file=/ca/ca.crt", "-c", "hba_file=/config/pg_hba.conf"},
						Env: []corev1.EnvVar{
							{Name: "POSTGRES_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: cnpgCluster + "-superuser"}, Key: "password"}}},
							{Name: "POSTGRES_DB", Value: "app"},
							{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
						},
						Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
							Command: []string{"pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"}}},
							PeriodSeconds: 2, FailureThreshold: 3},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "data", MountPath: "/var/lib/postgresql/data"},
							{Name: "tls", MountPath: "/tls", ReadOnly: true},
							{Name: "ca", MountPath: "/ca", ReadOnly: true},
							{Name: "config", MountPath: "/config", ReadOnly: true},
							{Name: "init", MountPath: "/docker-init.d", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: cnpgCluster + "-server-tls", DefaultMode: ptr.To[int32](0o440)}}},
						{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: cnpgCluster + "-ca"}}},
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: cnpgCluster + "-config"}, Items: []corev1.KeyToPath{{Key: "pg_hba.conf", Path: "pg_hba.conf"}}}}},
						{Name: "init", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: cnpgCluster + "-config"}, Items: []corev1.KeyToPath{{Key: "01-app.sql", Path: "01-app.sql"}}}}},
					},
				}},
			}},
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
