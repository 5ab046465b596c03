package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/backup-agent/retention"
	"github.com/pgbackup/pgbackup/backup-agent/storage"
)

type pruneOptions struct {
	destination storage.Destination
	dryRun      bool
	policy      retention.Policy
	// noncurrentVersions also removes what deletes leave in a versioned
	// bucket (retention.PruneVersions).
	noncurrentVersions bool
}

func newPruneCommand(stdout, stderr io.Writer) *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune --destination s3://BUCKET/PREFIX --keep-... [--noncurrent-versions] [--dry-run]",
		Short: "Apply a retention policy by hand and sweep what failed runs left",
		Long: `Apply the retention rules the agent applies after each successful backup:
keep what any --keep-* rule selects (and, with --max-age, is younger than it),
delete the other complete backups (manifest first), and sweep incomplete
backups and open multipart uploads older than 24 hours. The newest complete
backup is never deleted. Ages are measured against the storage server's
clock; when the local clock is more than 5 minutes off it, when a backup id
lies in the future, or when the newest manifest does not read, nothing is
deleted (exit 7). A manifest that does not validate is kept and fills no
keep slot. --dry-run prints the same report and deletes nothing.

In a bucket with versioning (or Object Lock) a delete only hides an object
behind a delete marker; the data stays, and is billed, as a noncurrent
version. --noncurrent-versions also removes those, in the backups'
directories only: every noncurrent version, then each delete marker with
nothing left behind it. Versions under Object Lock are kept and listed. It
may be given without --keep-* rules. A lifecycle rule
(NoncurrentVersionExpiration) on the bucket does the same without pgbackup.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := setup(cmd, stderr)
			if err != nil {
				return err
			}
			return runPrune(cmd, log, stdout, o)
		},
	}
	o.destination.AddFlags(cmd.Flags(), "where the backups are")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be deleted and delete nothing")
	cmd.Flags().BoolVar(&o.noncurrentVersions, "noncurrent-versions", false, "also delete noncurrent versions and then-empty delete markers of the backups' keys (versioned buckets)")
	o.policy.AddFlags(cmd.Flags())
	return cmd
}

func runPrune(cmd *cobra.Command, log logr.Logger, stdout io.Writer, o pruneOptions) error {
	if err := o.policy.Validate(); err != nil {
		return result.Wrap(result.ReasonConfigInvalid, err)
	}
	if o.policy.Empty() && !o.noncurrentVersions {
		return result.Errorf(result.ReasonConfigInvalid, "no retention rule given: set at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --max-age (or --noncurrent-versions)")
	}
	r, err := openRepo(cmd.Context(), o.destination)
	if err != nil {
		return err
	}
	if !o.policy.Empty() {
		rep, err := retention.Apply(cmd.Context(), log, r, o.policy, retention.Options{DryRun: o.dryRun})
		if werr := writePruneReport(stdout, rep, o.dryRun); err == nil && werr != nil {
			err = result.Wrap(result.ReasonInternal, werr)
		}
		if err != nil {
			return err
		}
	}
	if !o.noncurrentVersions {
		return nil
	}
	v, ok := r.Store.(storage.Versioned)
	if !ok {
		return result.Errorf(result.ReasonConfigInvalid, "--noncurrent-versions: this store keeps no versions")
	}
	vrep, err := retention.PruneVersions(cmd.Context(), log, r, v, o.dryRun)
	if err != nil {
		return err
	}
	return writeVersionReport(stdout, vrep, o.dryRun)
}

func writeVersionReport(w io.Writer, rep retention.VersionReport, dryRun bool) error {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	var b strings.Builder
	for _, name := range rep.Locked {
		fmt.Fprintf(&b, "locked  %s  (under S3 Object Lock: kept until the lock ends)\n", name)
	}
	fmt.Fprintf(&b, "noncurrent versions: %s %d (%d bytes) and %d delete markers; %d locked\n",
		verb, rep.Versions, rep.Bytes, rep.Markers, len(rep.Locked))
	_, err := io.WriteString(w, b.String())
	return err
}

func writePruneReport(w io.Writer, rep retention.Report, dryRun bool) error {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	var b strings.Builder
	for _, d := range rep.Kept {
		fmt.Fprintf(&b, "keep    %s  (%s)\n", d.ID, strings.Join(d.Reasons, ", "))
	}
	for _, d := range rep.Deleted {
		fmt.Fprintf(&b, "delete  %s\n", d.ID)
	}
	for _, id := range rep.Invalid {
		fmt.Fprintf(&b, "keep    %s  (manifest does not validate: fills no slot)\n", id)
	}
	for _, id := range rep.Orphans {
		fmt.Fprintf(&b, "sweep   %s  (incomplete: no manifest)\n", id)
	}
	for _, id := range rep.Locked {
		fmt.Fprintf(&b, "locked  %s  (under S3 Object Lock: kept until the lock ends)\n", id)
	}
	for _, k := range rep.AbortedUploads {
		fmt.Fprintf(&b, "abort   upload of %s  (open for more than 24h)\n", k)
	}
	fmt.Fprintf(&b, "%d kept; %s %d backups, %d incomplete backups and %d open uploads\n",
		len(rep.Kept), verb, len(rep.Deleted), len(rep.Orphans), len(rep.AbortedUploads))
	_, err := io.WriteString(w, b.String())
	return err
}
