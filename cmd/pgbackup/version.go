package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgbackup/pgbackup/backup-agent/result"
	"github.com/pgbackup/pgbackup/internal/version"
)

func newVersionCommand(stdout io.Writer) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return runVersion(stdout, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runVersion(w io.Writer, output string) error {
	info := version.Get()
	switch output {
	case "text":
		_, err := fmt.Fprintln(w, info.String())
		return err
	case "json":
		return json.NewEncoder(w).Encode(info)
	default:
		return result.Errorf(result.ReasonConfigInvalid, "unknown output format %q: use text or json", output)
	}
}
