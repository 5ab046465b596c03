package reconciler_test

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
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"go.uber.org/zap/zapcore"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/manager"
)

// The suite runs one manager against one envtest API server (no kubelet, no
// controller-manager: tests create Jobs and Pods and set their finished
// states themselves, and assert owner references instead of garbage
// collection).
var (
	cfg       *rest.Config
	k8s       client.Client
	nsCounter atomic.Int64
)

const agentImage = "pgbackup-agent:test"

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set: the controller tests need kube-apiserver and etcd.\n"+
			"  Without a registry: ../shared/ci/provision, then source /var/cache/pgbackup-ci/env.sh\n"+
			"  With internet: make bin/setup-envtest-... && export KUBEBUILDER_ASSETS=$(bin/setup-envtest-* use -p path 1.37.2)")
		return 1
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(logLevel())))
	env := &envtest.Environment{
		CRDDirectoryPaths: []string{
			filepath.Join("..", "..", "charts", "pgbackup", "generated", "crds"),
			// The operators a clusterRef can name (reduced schemas, test/crds).
			filepath.Join("..", "..", "test", "crds"),
		},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if cfg, err = env.Start(); err != nil {
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
	if stopManager, err = startManager(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: manager: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := stopManager(); err != nil {
		fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		return 1
	}
	return code
}

// stopManager stops the running manager and returns its error.
var stopManager func() error

// startManager starts a manager, as `pgbackup controller` would, and
// returns the function that stops it.
func startManager() (func() error, error) {
	mgr, err := manager.New(cfg, manager.Options{AgentImage: agentImage, MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		SkipNameValidation: true})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

// whileDown stops the controller, runs down, and starts a new controller,
// like a restart of `pgbackup controller`: the new one knows only what
// the API server holds.
func whileDown(t *testing.T, down func()) {
	t.Helper()
	if err := stopManager(); err != nil {
		t.Fatalf("stop the manager: %v", err)
	}
	down()
	var err error
	if stopManager, err = startManager(); err != nil {
		stopManager = func() error { return nil }
		t.Fatalf("start the manager again: %v", err)
	}
}

// logLevel is errors only, unless TEST_CONTROLLER_LOGS is set.
func logLevel() zapcore.Level {
	if os.Getenv("TEST_CONTROLLER_LOGS") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
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

// eventually retries check until it returns nil or the timeout passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// getBackup returns the live PostgresBackup.
func getBackup(t *testing.T, ns, name string) *v1alpha1.PostgresBackup {
	t.Helper()
	pb := &v1alpha1.PostgresBackup{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pb); err != nil {
		t.Fatalf("get PostgresBackup: %v", err)
	}
	return pb
}

// events lists the events about the named object with reason.
func events(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// getCronJob returns the CronJob of a PostgresBackup.
func getCronJob(ns, name string) (*batchv1.CronJob, error) {
	cj := &batchv1.CronJob{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cj)
	return cj, err
}
