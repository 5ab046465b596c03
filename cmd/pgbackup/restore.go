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
		Long: `Restore one database of a backup (the latest by default, or the newest started
at or before --at, which needs Z or a UTC offset) into the database named by
--target. Only S3 and the target are needed, no Kubernetes. A newer backup whose
manifest is damaged is skipped with a warning naming it; any other failure to
read a manifest fails the restore.

The object is verified against the manifest's sha256 while it streams, and a
custom- or directory-format restore without --jobs runs in one transaction: a
corrupt object or a failed restore leaves the target as it was. Directory and plain dumps, and --jobs N > 1,
are downloaded into a private directory of --spool-dir (files 0600) and
verified first. A plain-format restore is not atomic: pg_dump's script has its
own BEGIN/COMMIT around large objects, so a failure may leave part of the backup
in the target, unless --create made it, in which case it is dropped. --create
drops the database it created on every failure. A target that already holds
tables is refused (exit 7) unless --clean; tables owned by extensions and those
every new database copies from template1 do not count. --dry-run prints the
plan and changes nothing.

A password, passfile or sslpassword in the --target URL reaches pg_restore and
psql only through their environment (PGPASSWORD, PGPASSFILE, a private service
file), never a command line, the plan, a log or an error.

pg_restore and psql are found on PATH or in PGBACKUP_PG_BIN_DIR. A pg_restore of
an older major version than the pg_dump that made the backup is refused (exit 2)
before the target is touched.

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
