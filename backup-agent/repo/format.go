package repo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// WriteTable prints backups as the `pgbackup list` table.
func WriteTable(w io.Writer, bs []Backup) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tDATABASES\tSIZE\tFORMAT\tCOMPRESSION\tENCRYPTED\tVERIFIED")
	for _, b := range bs {
		m := b.Manifest
		enc := "no"
		if m.Encryption != nil {
			enc = m.Encryption.Type
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.StartedAt.UTC().Format(time.RFC3339),
			databaseList(m), HumanBytes(m.TotalSize()), m.Format, m.Compression, enc, verified(b))
	}
	return tw.Flush()
}

// verified is the VERIFIED column: when and how fast it restored, that
// it failed, or "-" when it was never verified.
func verified(b Backup) string {
	v := b.Verification
	switch {
	case b.VerificationError != "":
		return "unreadable"
	case v == nil:
		return "-"
	case v.Succeeded():
		var total float64
		for _, s := range v.RestoreSeconds {
			total += s
		}
		// Rounded up, as the controller's status does.
		return fmt.Sprintf("yes %s (%.0fs)", v.CheckedAt.UTC().Format("2006-01-02"), math.Ceil(total))
	default:
		return "FAILED (" + v.Reason + ")"
	}
}

// WriteJSON prints backups as a JSON array of manifests (an empty one
// when none), each with its verification record when it has one.
func WriteJSON(w io.Writer, ms []Backup) error {
	if ms == nil {
		ms = []Backup{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ms)
}

// databaseList names the databases, shortened past a few.
func databaseList(m *manifest.Manifest) string {
	const show = 4
	names := make([]string, 0, len(m.Databases))
	for _, d := range m.Databases {
		names = append(names, d.Name)
	}
	if len(names) > show {
		return strings.Join(names[:show], ",") + fmt.Sprintf(",+%d", len(names)-show)
	}
	if m.Globals != nil {
		names = append(names, "(globals)")
	}
	return strings.Join(names, ",")
}

// HumanBytes renders a size in binary units: "512 B", "1.5 MiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
