package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/controller/api/v1alpha1"
	"github.com/pgbackup/pgbackup/controller/manager"
	"github.com/pgbackup/pgbackup/controller/trigger"
)

type triggerOptions struct {
	namespace     string
	wait          bool
	waitForActive bool
	timeout       time.Duration
	output        string
}

func newTriggerCommand(stdout io.Writer) *cobra.Command {
	var o triggerOptions
	cmd := &cobra.Command{
		Use:   "trigger NAME [-n NAMESPACE] [--wait-for-active] [--wait] [--timeout DURATION]",
		Short: "Run a PostgresBackup's backup now",
		Long: `Start a backup now with a Job made from the PostgresBackup's CronJob, like
kubectl create job --from=cronjob/NAME, named <cronjob>-manual-<random> and
annotated with the resource's UID (pgbackup.dev/backup-uid) so the controller
records its result.

Like the CronJob (concurrencyPolicy Forbid), trigger never starts a second run
beside an active one: while a Job of the resource has not finished, it refuses
with exit code 7 (Refused), naming that Job. With --wait-for-active it waits
for that Job to finish and then starts its own.

With --wait, follow the new Job and print the result; the exit code is then the
agent's (see pgbackup --help). --timeout bounds the whole command: the wait for
an active Job (exit 7 when it is still running then) and the wait for the new
one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			kc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
			cfg, err := kc.ClientConfig()
			if err != nil {
				return result.Errorf(result.ReasonConfigInvalid, "kubeconfig: %w", err)
			}
			if o.namespace == "" {
				if o.namespace, _, err = kc.Namespace(); err != nil {
					return result.Errorf(result.ReasonConfigInvalid, "kubeconfig namespace: %w", err)
				}
			}
			c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
			if err != nil {
				return result.Errorf(result.ReasonConnectionFailed, "kubernetes client: %w", err)
			}
			return runTrigger(cmd.Context(), c, stdout, cmd.ErrOrStderr(), args[0], o)
		},
	}
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace of the PostgresBackup (default: the kubeconfig's)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for the backup to finish and print its result")
	cmd.Flags().BoolVar(&o.waitForActive, "wait-for-active", false, "when a Job of the resource is still running, wait for it to finish instead of refusing (exit 7)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "give up waiting (--wait-for-active, --wait) after this long (0: no limit)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "with --wait, print the result as text or json")
	return cmd
}

// triggerPollInterval is how often trigger reads the Jobs it waits for.
const triggerPollInterval = 2 * time.Second

// runTrigger starts the Job (after the active one with --wait-for-active)
// and, with --wait, reports its run: exit code 0 when it succeeded, the
// agent's exit code when it failed, 7 (Refused) when a Job is still active.
func runTrigger(ctx context.Context, c client.Client, stdout, stderr io.Writer, name string, o triggerOptions) error {
	if o.output != "text" && o.output != "json" {
		return result.Errorf(result.ReasonConfigInvalid, "unknown output format %q: use text or json", o.output)
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	key := client.ObjectKey{Namespace: o.namespace, Name: name}
	var job *batchv1.Job
	var err error
	if o.waitForActive {
		job, err = trigger.StartWhenIdle(ctx, c, key, triggerPollInterval, func(active string) {
			fmt.Fprintf(stderr, "job.batch/%s is still running, waiting for it to finish\n", active)
		})
	} else {
		job, err = trigger.Start(ctx, c, key, time.Now())
	}
	if errors.Is(err, trigger.ErrJobActive) && !o.waitForActive {
		return fmt.Errorf("%w (start after it with --wait-for-active)", err)
	}
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	if !o.wait {
		fmt.Fprintf(stdout, "job.batch/%s created\n", job.Name)
		return nil
	}
	fmt.Fprintf(stderr, "job.batch/%s created, waiting for it to finish\n", job.Name)
	run, err := trigger.Wait(ctx, c, job, triggerPollInterval)
	if err != nil {
		return result.Wrap(result.ReasonInternal, err)
	}
	if err := printRun(stdout, run, o.output); err != nil {
		return err
	}
	if run.Result == v1alpha1.ResultSucceeded {
		return nil
	}
	// The agent's reasons keep their exit codes; a Job-level reason
	// (DeadlineExceeded, OOMKilled, ...) is Internal.
	return result.Errorf(result.Reason(run.Reason), "backup failed: %s: %s", run.Reason, run.Message)
}

func printRun(w io.Writer, run v1alpha1.BackupRun, output string) error {
	if output == "json" {
		b, err := json.Marshal(run)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if run.Result == v1alpha1.ResultSucceeded {
		_, err := fmt.Fprintf(w, "Succeeded: backup %s, %d bytes in %ds (Job %s)\n", run.ID, run.Bytes, run.DurationSeconds, run.JobName)
		return err
	}
	_, err := fmt.Fprintf(w, "Failed: %s: %s (Job %s)\n", run.Reason, run.Message, run.JobName)
	return err
}
