package main

import (
	"io"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/repo"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

type listOptions struct {
	destination storage.Destination
	output      string
}

func newListCommand(stdout, stderr io.Writer) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list --destination s3://BUCKET/PREFIX [-o table|json]",
		Short: "List the complete backups under a destination, newest first",
		Long: `List the complete backups (those with a manifest) under a destination, newest
first, with the result of their restore verification (VERIFIED: the day and
the restore time, FAILED with the reason, or "-" when never verified).
Incomplete backups (a run that failed or was interrupted) are not
listed: they are not backups. S3 is reached through the AWS SDK's standard
chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3).

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := setup(cmd, stderr)
			if err != nil {
				return err
			}
			return runList(cmd, log, stdout, o)
		},
	}
	o.destination.AddFlags(cmd.Flags(), "where the backups are")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table or json (an array of manifests, each with its verification record when it has one)")
	return cmd
}

func runList(cmd *cobra.Command, log logr.Logger, stdout io.Writer, o listOptions) error {
	if o.output != "table" && o.output != "json" {
		return result.Errorf(result.ReasonConfigInvalid, "unknown output format %q: use table or json", o.output)
	}
	r, err := openRepo(cmd.Context(), o.destination)
	if err != nil {
		return err
	}
	ms, err := r.List(cmd.Context(), func(id string, err error) {
		log.Error(err, "Skipping a backup whose manifest cannot be used", "backupId", id)
	})
	if err != nil {
		return err
	}
	if o.output == "json" {
		err = repo.WriteJSON(stdout, ms)
	} else {
		err = repo.WriteTable(stdout, ms)
	}
	return result.Wrap(result.ReasonInternal, err)
}
