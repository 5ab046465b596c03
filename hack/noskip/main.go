// Command noskip reads `go test -json` on standard input, prints the tests'
// output as `go test` would, and fails when any test was skipped: `make
// test` runs every suite against real parts (Docker, envtest, helm,
// promtool), and a suite that skips instead of failing would let CI pass
// without having tested them. The skipped tests and their reasons are
// listed.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

func run(in io.Reader, out, errOut io.Writer) int {
	sum, err := summarize(in, out)
	if err != nil {
		fmt.Fprintln(errOut, "noskip:", err)
		return 1
	}
	if len(sum.skipped) > 0 {
		fmt.Fprintf(errOut, "FAIL: %d tests skipped; make test runs every suite against its real parts, so a skip is a failure:\n", len(sum.skipped))
		for _, s := range sum.skipped {
			fmt.Fprintf(errOut, "  %s\n", s)
		}
		return 1
	}
	if sum.failed {
		return 1
	}
	return 0
}
