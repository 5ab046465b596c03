package repo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgbackup/pgbackup/backup-agent/manifest"
)

// WriteTable prints manifests as the `pgbackup list` table.
func WriteTable(w io.Writer, ms []*manifest.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tDATABASES\tSIZE\tFORMAT\tCOMPRESSION\tENCRYPTED")
	for _, m := range ms {
		enc := "no"
		if m.Encryption != nil {
			enc = m.Encryption.Type
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.StartedAt.UTC().Format(time.RFC3339),
			databaseList(m), HumanBytes(m.TotalSize()), m.Format, m.Compression, enc)
	}
	return tw.Flush()
}

// WriteJSON prints manifests as a JSON array (an empty one when none).
func WriteJSON(w io.Writer, ms []*manifest.Manifest) error {
	if ms == nil {
		ms = []*manifest.Manifest{}
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
