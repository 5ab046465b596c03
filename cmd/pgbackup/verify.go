package main

import (
	"context"
	"io"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/verify"
)

func newVerifyCommand(stderr io.Writer) *cobra.Command {
	opts := verify.DefaultOptions()
	var logLevel string
	cmd := &cobra.Command{
		Use:   "verify --destination s3://BUCKET/PREFIX --target postgres://USER@HOST:PORT/postgres [flags]",
		Short: "Prove that a backup restores: restore it into a scratch server and check what it holds",
		Long: `Restore every database of a backup (the latest by default) and its globals into
a scratch PostgreSQL server, with the same code path and rails as restore, then:

  - compare every table's row count with the count the backup recorded from
    the dump stream (manifest schema 2; older backups are restored and checked
    otherwise, with a warning);
  - check every restored B-tree index with amcheck (bt_index_check) where the
    scratch server has the extension;
  - run the --checks, each in a read-only transaction: one row whose first
    column is true passes;
  - measure the restore time of each database.

The verification succeeds (exit 0) only if everything matched. A restore that
logs a warning, a missing table, a differing row count, a failing index or a
failing check is VerificationFailed (exit 6), naming the first differences.
The verdict about the backup is written once to PREFIX/<id>/verification.json
(see pgbackup list, restore --backup latest-verified); failures of the scratch
server, S3 or a signal are reported but not recorded, so a later run can still
verify the backup. The result is written as one JSON line to --termination-log.

The target must be a scratch server holding no databases of its own (a fresh
initdb): anything else is refused (exit 7), so a verification can never write
into a real server. The restored databases are dropped at the end unless
--keep-restored. Every flag can also be set as PGBACKUP_<FLAG>.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd, stderr, &opts, &logLevel)
		},
	}
	opts.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// runVerify runs a verification and writes its result, whatever happened.
func runVerify(cmd *cobra.Command, stderr io.Writer, opts *verify.Options, logLevel *string) error {
	return runWithResult(cmd, stderr, logLevel, &opts.TerminationLog, "Verification failed",
		func(ctx context.Context, log logr.Logger) (result.Result, error) {
			return verify.Run(ctx, log, *opts, verify.Deps{})
		})
}
