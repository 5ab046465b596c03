package main

import (
	"context"
	"io"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/backup"
	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/internal/envflag"
	"github.com/pgbackup/pgbackup/internal/logging"
)

func newBackupCommand(stderr io.Writer) *cobra.Command {
	opts := backup.DefaultOptions()
	var logLevel string
	cmd := &cobra.Command{
		Use:   "backup --destination s3://BUCKET/PREFIX [flags]",
		Short: "Dump PostgreSQL databases to S3 (the agent)",
		Long: `Dump each database with pg_dump, compress the stream, upload it to S3 and write
the backup's manifest last. A backup exists only once its manifest does: a
failed or interrupted run aborts its uploads and leaves no manifest.

PostgreSQL is reached through the libpq variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGSSLMODE, ...), S3 through the AWS SDK's standard chain
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3, ...).
Every flag can also be set as PGBACKUP_<FLAG> (--keep-last: PGBACKUP_KEEP_LAST).
The result is written as one JSON line to --termination-log.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBackup(cmd, stderr, &opts, &logLevel)
		},
	}
	opts.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// runBackup runs the agent and writes its result, whatever happened.
func runBackup(cmd *cobra.Command, stderr io.Writer, opts *backup.Options, logLevel *string) error {
	return runWithResult(cmd, stderr, logLevel, &opts.TerminationLog, "Backup failed",
		func(ctx context.Context, log logr.Logger) (result.Result, error) {
			return backup.Run(ctx, log, *opts, backup.Deps{})
		})
}

// runWithResult is the frame of every subcommand that reports a result
// line (backup, verify): flags from the environment, the logger, the run,
// then the result written to the termination log whatever happened.
// logLevel and terminationLog are read only after the environment was
// applied: they may come from PGBACKUP_LOG_LEVEL and
// PGBACKUP_TERMINATION_LOG.
func runWithResult(cmd *cobra.Command, stderr io.Writer, logLevel, terminationLog *string, failed string,
	run func(context.Context, logr.Logger) (result.Result, error)) error {
	limitMemory()
	var res result.Result
	err := envflag.Apply(cmd.Flags())
	if err != nil {
		err = result.Wrap(result.ReasonConfigInvalid, err)
	}
	log, lerr := logging.New(stderr, *logLevel)
	if err == nil && lerr != nil {
		err = result.Wrap(result.ReasonConfigInvalid, lerr)
	}
	if err == nil {
		res, err = run(cmd.Context(), log)
	} else {
		res.Fail(err)
	}
	if err != nil {
		log.Error(err, failed, "reason", result.ReasonOf(err), "backupId", res.BackupID)
	}
	if werr := res.WriteFile(*terminationLog); werr != nil {
		log.Error(werr, "Could not write the result")
		if err == nil {
			return result.Wrap(result.ReasonInternal, werr)
		}
	}
	return err
}
