package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/notify"
)

// newNotifyCommand is `pgbackup notify --event stale`: what the controller
// runs, in a one-shot Job, when a PostgresBackup's BackupStale condition
// turns True and its webhook asks for stale. The controller never reads
// the webhook's Secret; the Job gets the URL as a secretKeyRef.
func newNotifyCommand(stderr io.Writer) *cobra.Command {
	var o notify.StaleOptions
	cmd := &cobra.Command{
		Use:   "notify --event stale --notify-url URL [flags]",
		Short: "Tell a webhook that no backup succeeded within maxAge (run by the controller)",
		Long: `Send one webhook notification that is not about a run: stale, when no backup
succeeded within the resource's maxAge. The controller runs it in a one-shot
Job when the BackupStale condition turns True and spec.notify.webhook.events
includes stale. The payload is {"event":"stale","source","destination",
"staleness":{"lastSuccess","lastBackupId","maxAge","message"}}. The URL
holds a token: pass it as PGBACKUP_NOTIFY_URL; only its host is logged. A
notification that is not delivered after 3 tries exits 1, so that the Job
tries again.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := setup(cmd, stderr)
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), log)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
