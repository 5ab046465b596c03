package manager

import (
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/metrics"
	"github.com/pgbackup/pgbackup/controller/reconciler"
)

// LeaderElectionID names the leader election lease.
const LeaderElectionID = "controller.pgbackup.dev"

// Options configure the manager (the flags of `pgbackup controller`).
type Options struct {
	// AgentImage is the image of the backup agent (required).
	AgentImage string
	// VerifyPostgresImageTemplate is the scratch PostgreSQL image of
	// verifications whose spec names none; "{major}" becomes the backed-up
	// server's major. builder.DefaultVerifyImageTemplate when empty.
	VerifyPostgresImageTemplate string
	// MetricsBindAddress serves /metrics; "0" turns it off.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz; "0" turns it off.
	HealthProbeBindAddress string
	// LeaderElect makes only one replica active.
	LeaderElect bool
	// LeaderElectionNamespace holds the lease (default: the pod's namespace).
	LeaderElectionNamespace string
	// WatchNamespaces limits the controller to these namespaces (all when empty).
	WatchNamespaces []string
	// SkipNameValidation lets one process create the manager more than
	// once (tests that restart the controller); controller-runtime
	// otherwise refuses a second controller of the same name.
	SkipNameValidation bool
}

// Scheme returns the scheme of the manager and of pgbackup's clients.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // static registrations: cannot fail
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

// New returns a manager running the PostgresBackup controller.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if opts.AgentImage == "" {
		return nil, errors.New("the agent image is required (--agent-image)")
	}
	// Cache only pgbackup's own children: a cluster's Pods and Jobs are
	// many, the controller needs the few it made. PVCs are cached whole:
	// an existingClaim is the user's, without pgbackup's label, and Ready
	// says whether it exists (PVCs are few next to Pods).
	ours, err := labels.NewRequirement(builder.LabelBackup, selection.Exists, nil)
	if err != nil {
		return nil, fmt.Errorf("label selector: %w", err)
	}
	byLabel := cache.ByObject{Label: labels.NewSelector().Add(*ours)}
	cacheOpts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}: byLabel, &batchv1.Job{}: byLabel, &batchv1.CronJob{}: byLabel,
	}}
	if len(opts.WatchNamespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.WatchNamespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:  opts.HealthProbeBindAddress,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// The manager exits right after losing the lease, so stopping
		// fast is safe and shortens a handover.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(opts.SkipNameValidation)},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	m := metrics.New()
	if err := m.Register(ctrlmetrics.Registry); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	r := &reconciler.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("pgbackup-controller"),
		Metrics:  m,
		Options:  builder.Options{AgentImage: opts.AgentImage, VerifyImageTemplate: opts.VerifyPostgresImageTemplate},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("ready check: %w", err)
	}
	return mgr, nil
}
