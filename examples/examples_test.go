package examples

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
)

// documents splits a multi-document YAML file into its documents, as JSON.
func documents(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(bytes.TrimSpace(j)); s != "null" && s != "" {
			docs = append(docs, j)
		}
	}
}

// TestPostgresBackupExample decodes the example strictly into the API types
// and creates it on a real API server with the generated CRD, which applies
// the CRD's schema and CEL rules exactly as a cluster would.
func TestPostgresBackupExample(t *testing.T) {
	secrets, backups, objs := decodeExample(t, "postgresbackup.yaml")
	for _, u := range objs {
		if u.GetNamespace() != "" {
			t.Errorf("%s %s sets a namespace; the example is applied with -n", u.GetKind(), u.GetName())
		}
	}
	for i := range backups {
		if _, _, err := builder.Schedule(&backups[i].Spec); err != nil {
			t.Errorf("PostgresBackup %s: schedule: %v", backups[i].Name, err)
		}
	}
	if len(backups) != 1 {
		t.Fatalf("%d PostgresBackups, want 1", len(backups))
	}

	// Every Secret key the PostgresBackup refers to exists.
	pb := backups[0]
	ref := pb.Spec.Postgres.PasswordSecretRef
	if ref == nil {
		t.Fatal("no passwordSecretRef")
	}
	if _, ok := secrets[ref.Name].StringData[ref.Key]; !ok {
		t.Errorf("passwordSecretRef %s/%s: no such Secret key in the example", ref.Name, ref.Key)
	}
	creds := pb.Spec.Destination.S3.CredentialsSecretRef
	if creds == nil {
		t.Fatal("no credentialsSecretRef")
	}
	for _, key := range []string{builder.KeyAccessKeyID, builder.KeySecretAccessKey} {
		if _, ok := secrets[creds.Name].StringData[key]; !ok {
			t.Errorf("credentialsSecretRef %s: no key %s in the example", creds.Name, key)
		}
	}
	n := pb.Spec.Notify
	if n == nil || n.Webhook == nil || n.HeartbeatSecretRef == nil {
		t.Fatal("the example shows no webhook and heartbeat (spec.notify)")
	}
	for what, ref := range map[string]v1alpha1.SecretKeyRef{"notify.webhook.urlSecretRef": n.Webhook.URLSecretRef, "notify.heartbeatSecretRef": *n.HeartbeatSecretRef} {
		if _, ok := secrets[ref.Name].StringData[ref.Key]; !ok {
			t.Errorf("%s %s/%s: no such Secret key in the example", what, ref.Name, ref.Key)
		}
	}

	createOnAPIServer(t, objs)
}

func createOnAPIServer(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is unset: run ../shared/ci/provision and source /var/cache/pgbackup-ci/env.sh (see make envtest-assets)")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "charts", "pgbackup", "generated", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{}
	ns.Name = "example"
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.SetNamespace(ns.Name)
		if err := c.Create(ctx, o, client.FieldValidation("Strict")); err != nil {
			t.Errorf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestVerifyExample checks examples/verify.yaml like the main example: it
// decodes strictly, the controller accepts its spec.verify (the schedule
// parses, the encrypted backups come with an identity), every Secret key
// it names is in the file, and the API server accepts it.
func TestVerifyExample(t *testing.T) {
	secrets, backups, objs := decodeExample(t, "verify.yaml")
	if len(backups) != 1 || backups[0].Spec.Verify == nil {
		t.Fatal("no PostgresBackup with spec.verify")
	}
	pb := &backups[0]
	if _, _, err := builder.Schedule(&pb.Spec); err != nil {
		t.Errorf("schedule: %v", err)
	}
	if err := builder.ValidateVerify(&pb.Spec); err != nil {
		t.Errorf("spec.verify: %v", err)
	}
	refs := []v1alpha1.SecretKeyRef{*pb.Spec.Postgres.PasswordSecretRef, *pb.Spec.Verify.AgeIdentitySecretRef,
		{Name: pb.Spec.Destination.S3.CredentialsSecretRef.Name, Key: builder.KeyAccessKeyID},
		{Name: pb.Spec.Destination.S3.CredentialsSecretRef.Name, Key: builder.KeySecretAccessKey}}
	for _, ref := range refs {
		if _, ok := secrets[ref.Name].StringData[ref.Key]; !ok {
			t.Errorf("Secret key %s/%s is not in the example", ref.Name, ref.Key)
		}
	}
	createOnAPIServer(t, objs)
}

// TestCloudNativePGExample checks examples/cloudnativepg.yaml: a
// PostgresBackup of a CloudNativePG cluster by reference, into a KMS
// encrypted bucket, with a webhook; it decodes strictly, every Secret key
// it names is in the file, and the API server accepts it.
func TestCloudNativePGExample(t *testing.T) {
	secrets, backups, objs := decodeExample(t, "cloudnativepg.yaml")
	if len(backups) != 1 {
		t.Fatalf("%d PostgresBackups, want 1", len(backups))
	}
	spec := backups[0].Spec
	if ref := spec.Postgres.ClusterRef; ref == nil || ref.Kind != v1alpha1.ClusterCNPG {
		t.Errorf("the example names no CloudNativePG cluster: %+v", ref)
	}
	if spec.Destination.S3.SSE != v1alpha1.SSEKMS || spec.Destination.S3.KMSKeyID == "" {
		t.Errorf("the example's bucket is not KMS-encrypted: %+v", spec.Destination.S3)
	}
	if spec.Notify == nil || spec.Notify.Webhook == nil {
		t.Fatal("the example shows no webhook")
	}
	if _, ok := secrets[spec.Notify.Webhook.URLSecretRef.Name].StringData[spec.Notify.Webhook.URLSecretRef.Key]; !ok {
		t.Error("the webhook's Secret key is not in the example")
	}
	creds := spec.Destination.S3.CredentialsSecretRef
	for _, key := range []string{builder.KeyAccessKeyID, builder.KeySecretAccessKey} {
		if creds == nil || secrets[creds.Name].StringData[key] == "" {
			t.Errorf("credentialsSecretRef: no key %s in the example", key)
		}
	}
	createOnAPIServer(t, objs)
}

// decodeExample decodes an example file strictly: its Secrets by name, its
// PostgresBackups, and every object for the API server. Any other kind is
// an error.
func decodeExample(t *testing.T, path string) (map[string]corev1.Secret, []v1alpha1.PostgresBackup, []*unstructured.Unstructured) {
	t.Helper()
	secrets := map[string]corev1.Secret{}
	var backups []v1alpha1.PostgresBackup
	var objs []*unstructured.Unstructured
	for _, doc := range documents(t, path) {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(doc); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
		switch u.GroupVersionKind() {
		case corev1.SchemeGroupVersion.WithKind("Secret"):
			var s corev1.Secret
			if err := yaml.UnmarshalStrict(doc, &s); err != nil {
				t.Fatalf("Secret: %v", err)
			}
			secrets[s.Name] = s
		case v1alpha1.GroupVersion.WithKind("PostgresBackup"):
			var pb v1alpha1.PostgresBackup
			if err := yaml.UnmarshalStrict(doc, &pb); err != nil {
				t.Fatalf("PostgresBackup does not decode strictly into the API types: %v", err)
			}
			backups = append(backups, pb)
		default:
			t.Errorf("%s: unexpected %s", path, u.GroupVersionKind())
		}
	}
	return secrets, backups, objs
}
