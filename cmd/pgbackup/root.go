package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/internal/envflag"
	"github.com/pgbackup/pgbackup/internal/logging"
)

const exitCodesHelp = `Exit codes:
  0    success
  1    Internal: a bug or the unexpected
  2    ConfigInvalid: bad flags, missing or contradictory settings
  3    ConnectionFailed / AuthFailed: PostgreSQL unreachable or authentication refused
  4    DumpFailed / RestoreFailed: pg_dump, pg_restore or psql failed
  5    StorageFailed: S3 unreachable, access denied, bucket missing
  6    IntegrityFailed / VerificationFailed: checksum mismatch, missing manifest, corrupt or
       undecryptable data; a restored backup that differs from what it recorded
  7    Refused: a safety rail said no
  130  Interrupted: SIGINT or SIGTERM; nothing half-committed`

// newRootCommand builds the command tree. started is set once a subcommand
// gets past flag and argument parsing, so that run can tell usage errors
// (exit 2) from failures of the work itself.
func newRootCommand(stdout, stderr io.Writer, started *bool) *cobra.Command {
	root := &cobra.Command{
		Use:   "pgbackup",
		Short: "Scheduled, verifiable logical backups of PostgreSQL to S3",
		Long: `pgbackup backs up PostgreSQL databases with pg_dump to S3-compatible storage,
verifies and restores them, and runs as a Kubernetes controller.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			*started = true
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newVersionCommand(stdout),
		newBackupCommand(stderr),
		newListCommand(stdout, stderr),
		newRestoreCommand(stdout, stderr),
		newVerifyCommand(stderr),
		newControllerCommand(stderr),
		newTriggerCommand(stdout),
		newPruneCommand(stdout, stderr),
		newNotifyCommand(stderr),
	)
	return root
}

// run executes the command line and returns the process exit code. Errors are
// printed as one line on stderr; their exit code comes from result.ExitCode.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	started := false
	root := newRootCommand(stdout, stderr, &started)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return result.ExitOK
	}
	if !started {
		// Cobra failed before any subcommand ran: unknown command or flag,
		// wrong arguments. That is bad input, never an internal error.
		err = result.Wrap(result.ReasonConfigInvalid, err)
	}
	fmt.Fprintf(stderr, "pgbackup: error: %s\n", oneLine(err.Error()))
	return result.ExitCode(err)
}

// oneLine folds a multi-line message (pg_dump's stderr, for example) so the
// error stays a single line, as the CLI promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// setup prepares a subcommand's run once cobra has parsed its flags: flags
// not given take their PGBACKUP_* environment variable, and logs go to
// stderr as JSON.
func setup(cmd *cobra.Command, stderr io.Writer) (logr.Logger, error) {
	if err := envflag.Apply(cmd.Flags()); err != nil {
		return logr.Discard(), result.Wrap(result.ReasonConfigInvalid, err)
	}
	return logging.New(stderr, "info")
}
