package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/builder"
	"github.com/pgbackup/pgbackup/controller/manager"
	"github.com/pgbackup/pgbackup/internal/logging"
)

func newControllerCommand(stderr io.Writer) *cobra.Command {
	var opts manager.Options
	var logLevel string
	cmd := &cobra.Command{
		Use:   "controller --agent-image IMAGE [flags]",
		Short: "Run the Kubernetes controller for PostgresBackup resources",
		Long: `Run the controller: every PostgresBackup becomes a CronJob (concurrencyPolicy
Forbid) that runs the agent image, and the result of every run is written to
the resource's status. The kubeconfig comes from KUBECONFIG or the pod's
service account.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.AgentImage == "" {
				return result.Errorf(result.ReasonConfigInvalid, "--agent-image is required")
			}
			if strings.TrimSpace(opts.VerifyPostgresImageTemplate) == "" {
				return result.Errorf(result.ReasonConfigInvalid, "--verify-postgres-image-template must not be empty")
			}
			log, err := logging.New(stderr, logLevel)
			if err != nil {
				return result.Wrap(result.ReasonConfigInvalid, err)
			}
			ctrl.SetLogger(log)
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return result.Errorf(result.ReasonConfigInvalid, "kubeconfig: %w", err)
			}
			mgr, err := manager.New(cfg, opts)
			if err != nil {
				return result.Wrap(result.ReasonConfigInvalid, err)
			}
			log.Info("Starting the controller", "agentImage", opts.AgentImage,
				"verifyPostgresImageTemplate", opts.VerifyPostgresImageTemplate, "namespaces", opts.WatchNamespaces)
			if err := mgr.Start(cmd.Context()); err != nil {
				return fmt.Errorf("controller: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.AgentImage, "agent-image", "", "image of the backup agent the CronJobs run (required)")
	f.StringVar(&opts.VerifyPostgresImageTemplate, "verify-postgres-image-template", builder.DefaultVerifyImageTemplate,
		`scratch PostgreSQL image of restore verifications whose spec.verify.postgresImage is unset; "{major}" becomes the major of the backed-up server (18 until a backup reported it)`)
	f.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", ":8080", `address of the /metrics endpoint ("0" turns it off)`)
	f.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", ":8081", `address of /healthz and /readyz ("0" turns them off)`)
	f.BoolVar(&opts.LeaderElect, "leader-elect", false, "elect a leader so only one replica is active")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (default: the pod's)")
	f.StringSliceVar(&opts.WatchNamespaces, "watch-namespaces", nil, "namespaces to watch, comma-separated (default: all)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
