package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/restore"
	"github.com/pgbackup/pgbackup/backup-agent/result"
)

func newRestoreCommand(stdout, stderr io.Writer) *cobra.Command {
	opts := restore.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "restore --destination s3://BUCKET/PREFIX --target postgres://USER@HOST/DB [flags]",
		Short: "Restore a database from a backup, verifying it while it streams",
		Long: `Restore one database of a backup (the latest by default) into the database named
by --target. Only S3 and the target are needed, no Kubernetes.

The object is verified against the manifest's sha256 while it streams, and the
restore runs in one transaction: a corrupt object or a failed restore leaves
the target as it was. A target that already holds tables is refused (exit 7)
unless --clean. --jobs N > 1 downloads and verifies the dump in --spool-dir
first, then runs pg_restore -j N. --dry-run prints the plan and changes nothing.

pg_restore and psql are found on PATH or in PGBACKUP_PG_BIN_DIR; they must be
at least as new as the pg_dump that made the backup.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			limitMemory()
			log, err := setup(cmd, stderr)
			if err != nil {
				return err
			}
			err = restore.Run(cmd.Context(), log, opts, restore.Deps{}, stdout)
			if err != nil {
				log.Error(err, "Restore failed", "reason", result.ReasonOf(err))
			}
			return err
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}
