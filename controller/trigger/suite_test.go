package trigger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/manager"
)

// The tests run against one envtest API server and no controller at all:
// they create the PostgresBackup's CronJob from the builder themselves and
// set Jobs' finished states as the Job controller would, so that each case
// controls exactly which Jobs exist and which are active.
var (
	k8s       client.Client
	nsCounter atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set: the trigger tests need kube-apiserver and etcd.\n"+
			"  Without a registry: ../shared/ci/provision, then source /var/cache/pgbackup-ci/env.sh\n"+
			"  With internet: make bin/setup-envtest-... && export KUBEBUILDER_ASSETS=$(bin/setup-envtest-* use -p path 1.37.2)")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "charts", "pgbackup", "generated", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if k8s, err = client.New(cfg, client.Options{Scheme: manager.Scheme()}); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: client: %v\n", err)
		return 1
	}
	return m.Run()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%d-%s", nsCounter.Add(1), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))}}
	if len(ns.Name) > 63 {
		ns.Name = strings.TrimRight(ns.Name[:63], "-")
	}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// envtest has no namespace controller: the namespace stays Terminating,
	// harmless for a test process.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// newBackup creates a PostgresBackup and the CronJob the controller would
// make for it (controlled by it, as the controller's are).
func newBackup(t *testing.T, ns, name string) (*v1alpha1.PostgresBackup, *batchv1.CronJob) {
	t.Helper()
	ctx := context.Background()
	pb := &v1alpha1.PostgresBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PostgresBackupSpec{
			Schedule: "0 3 * * *",
			Postgres: v1alpha1.PostgresSpec{
				Host: "pg.db.svc", User: "backup",
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "pg", Key: "password"},
			},
			Destination: v1alpha1.DestinationSpec{S3: v1alpha1.S3Destination{
				Bucket: "backups", Prefix: name, CredentialsSecretRef: &v1alpha1.SecretRef{Name: "s3"},
			}},
		},
	}
	if err := k8s.Create(ctx, pb); err != nil {
		t.Fatalf("create PostgresBackup: %v", err)
	}
	cj := builder.CronJob(pb, builder.Options{AgentImage: "pgbackup-agent:test"})
	if err := k8s.Create(ctx, cj); err != nil {
		t.Fatalf("create CronJob: %v", err)
	}
	return pb, cj
}

// newJob creates a Job of the CronJob's template with a fixed name; edit
// changes its metadata (owners, annotations) first.
func newJob(t *testing.T, cj *batchv1.CronJob, name string, edit func(*batchv1.Job)) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cj.Namespace, Name: name,
			Labels:          cj.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}
	if edit != nil {
		edit(job)
	}
	if err := k8s.Create(context.Background(), job); err != nil {
		t.Fatalf("create Job %s: %v", name, err)
	}
	return job
}

// finishJob marks a Job complete, as the Job controller would.
func finishJob(t *testing.T, job *batchv1.Job) {
	t.Helper()
	ctx := context.Background()
	live := &batchv1.Job{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Minute))
	live.Status.StartTime = &start
	live.Status.CompletionTime = &now
	live.Status.Succeeded = 1
	live.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
	}
	if err := k8s.Status().Update(ctx, live); err != nil {
		t.Fatalf("finish Job %s: %v", job.Name, err)
	}
}

// jobNames lists the names of the Jobs in ns.
func jobNames(t *testing.T, ns string) []string {
	t.Helper()
	var jobs batchv1.JobList
	if err := k8s.List(context.Background(), &jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
	}
	return names
}
